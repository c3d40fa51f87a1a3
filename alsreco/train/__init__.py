"""The training tower: `train` reads /opt/ml/input and writes the model (see `main`)."""
