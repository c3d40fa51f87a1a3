"""One log format for every process (`train`, `serve`, the gunicorn master and its workers)."""
from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Root handler on stderr (CloudWatch reads stdout and stderr alike); idempotent."""
    logging.basicConfig(level=level, stream=sys.stderr, format=FORMAT)
    logging.getLogger("py4j").setLevel(logging.WARNING)
