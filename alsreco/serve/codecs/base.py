"""What every codec shares: the content types, `HttpError`, error records and request limits."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import AlsrecoError
from ...core.rules import Request

JSON, JSONL, CSV = "application/json", "application/jsonlines", "text/csv"
MAX_CUSTOMERS = 10_000  # per real-time request; batch transform is bounded by the payload size only
MAX_RESULTS = 200_000  # customers x k per real-time request (~20 MB of JSON, ~1-2 s of work)


class HttpError(AlsrecoError):
    """A request the server refuses; `status` is the HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RecordError:
    """A line of a JSON Lines / CSV body that could not be parsed."""

    message: str


Record = Request | RecordError


@dataclass(frozen=True)
class Limits:
    """Per-request limits; None = no limit (batch transform: only the payload size bounds a request,
    and the response is streamed in bounded chunks)."""

    max_customers: int | None = MAX_CUSTOMERS
    max_results: int | None = MAX_RESULTS

    @classmethod
    def for_batch(cls) -> "Limits":
        return cls(max_customers=None, max_results=None)

    def check_results(self, records: list[Record], default_k: int) -> None:
        """Bound the work of one request: customers x k recommendations."""
        if self.max_results is None:
            return
        total = sum(default_k if isinstance(r, RecordError) or r.k is None else r.k for r in records)
        if total > self.max_results:
            raise HttpError(413, f"the request asks for {total:,} recommendations ({len(records):,} customers x k); "
                                 f"at most {self.max_results:,} per request: lower k or split the request")

    def check_count(self, n: int) -> None:
        if self.max_customers is not None and n > self.max_customers:
            raise HttpError(413, f"too many customers (or items) in one request: {n} > {self.max_customers}; split the "
                                 "request (batch transform has no count limit, only MaxPayloadInMB)")
