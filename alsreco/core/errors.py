"""Error types shared by training and serving.

Training tells a user's mistake (bad data, bad hyperparameter) apart from a failure of
the algorithm or platform; each kind carries its exit code. Serving errors carry their
HTTP status (see `alsreco.codecs`).
"""
from __future__ import annotations


class AlsrecoError(Exception):
    """Base class: `str(err)` is a message meant for a person."""

    exit_code = 1
    kind = "Error"


class UserError(AlsrecoError):
    """The input or configuration is wrong; the user can fix it."""

    exit_code = 2
    kind = "UserError"


class AlgorithmError(AlsrecoError):
    """Training itself failed (Spark, memory, a bug)."""

    exit_code = 1
    kind = "AlgorithmError"


class Terminated(AlsrecoError):
    """The job was asked to stop (SIGTERM)."""

    exit_code = 143
    kind = "Terminated"


class ModelError(AlsrecoError):
    """A model directory is missing, incomplete or inconsistent."""

    kind = "ModelError"


class SigtermInterrupt(BaseException):
    """Raised in the main thread by `train`'s SIGTERM handler, like KeyboardInterrupt for SIGINT:
    a BaseException, so no `except Exception` on the way (logging, libraries) swallows it."""
