"""Training data in: channel discovery, layout detection, parsing and cleaning."""
