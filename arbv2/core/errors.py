"""The arbv2 error hierarchy, so callers can catch "transient" apart from "rejected".

    ArbError
    ├── ConfigError                 bad config file/key/value (CLI exit 2)
    ├── SafetyError                 an order attempted outside an allowed execution mode
    ├── BookGapError                a feed sequence gap: the book must be resynced
    ├── StoreError                  a durable write failed after its retries (never dropped silently)
    └── VenueError                  anything a venue said or failed to say; keeps code and message
        ├── OrderRejected           the venue refused the order (not retryable as is)
        │   ├── InsufficientFunds
        │   └── InvalidOrder        precision, min notional, filters, bad parameters
        ├── UnknownOrder            no such order (lookups, cancels)
        ├── AuthError               key, signature or permission problems
        └── TransientError          safe to retry later (reads) or to look up (orders)
            ├── RateLimited         429/418; retry_after_s when the venue said
            ├── TimestampSkew       -1021 and friends: resync the clock
            └── VenueUnavailable    5xx, timeouts, connection errors
"""
from __future__ import annotations


class ArbError(Exception):
    """Root of every error arbv2 raises on purpose."""


class ConfigError(ArbError):
    """Config is invalid; the message names the key path, the bad value and what is allowed."""


class SafetyError(ArbError):
    """An order was attempted outside an allowed execution mode; nothing was sent."""


class BookGapError(ArbError):
    """A book's update sequence broke; the symbol must be resynced from a snapshot."""


class StoreError(ArbError):
    """A trade/state store write failed after its retries; the caller must stop and surface it."""


class VenueError(ArbError):
    """A venue error, keeping the venue's own code and message."""

    def __init__(self, message: str, *, venue: str = "", code: str | int | None = None,
                 venue_message: str = "", http_status: int | None = None) -> None:
        super().__init__(message)
        self.venue = venue
        self.code = code
        self.venue_message = venue_message
        self.http_status = http_status


class OrderRejected(VenueError):
    """The venue refused the order."""


class InsufficientFunds(OrderRejected):
    """Balance or margin is insufficient."""


class InvalidOrder(OrderRejected):
    """The order breaks a venue rule (precision, min notional, filters, parameters)."""


class UnknownOrder(VenueError):
    """The venue knows no such order."""


class AuthError(VenueError):
    """Credentials, signature or permissions were refused."""


class TransientError(VenueError):
    """A failure that may pass: retry reads, look orders up before any resend."""


class RateLimited(TransientError):
    """The venue throttled us (429/418)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after_s = retry_after_s


class TimestampSkew(TransientError):
    """The request timestamp was outside the venue's window."""


class VenueUnavailable(TransientError):
    """5xx, timeout or connection failure."""
