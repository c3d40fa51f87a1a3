"""The one error type the API answers with: a status and a message that is safe to show."""
from __future__ import annotations


class ApiError(Exception):
    """An answer for the caller: `status` and a `message` written for them (never internals)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = int(status)
        self.message = message
