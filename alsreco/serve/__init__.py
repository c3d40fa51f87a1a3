"""The serving tower: `serve` = nginx -> gunicorn -> Flask over a numpy model (see `supervisor`)."""
