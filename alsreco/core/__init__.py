"""The core both towers stand on: errors, paths, settings, hyperparameters, the model artifact,
top-k and the recommender with its business rules. Imports nothing from `train` or `serve`."""
