"""Spark for `train`: a session sized to the container, its JVM, and the cluster ports."""
