"""Upbit error bodies ({"error": {"name", "message"}}) and HTTP statuses -> arbv2 errors."""
from __future__ import annotations

from typing import Mapping

import orjson

from arbv2.adapters.common.errors import parse_retry_after
from arbv2.core.errors import (AuthError, InsufficientFunds, InvalidOrder, OrderRejected, RateLimited,
                               TimestampSkew, UnknownOrder, VenueError, VenueUnavailable)

_BY_NAME: dict[str, type[VenueError]] = {
    "insufficient_funds_ask": InsufficientFunds,
    "insufficient_funds_bid": InsufficientFunds,
    "under_min_total_ask": InvalidOrder,
    "under_min_total_bid": InvalidOrder,
    "invalid_price_ask": InvalidOrder,
    "invalid_price_bid": InvalidOrder,
    "invalid_volume_ask": InvalidOrder,
    "invalid_volume_bid": InvalidOrder,
    "create_ask_error": InvalidOrder,
    "create_bid_error": InvalidOrder,
    "validation_error": InvalidOrder,
    "invalid_parameter": InvalidOrder,
    "market_does_not_exist": InvalidOrder,
    "invalid_query_payload": AuthError,
    "jwt_verification": AuthError,
    "expired_access_key": AuthError,
    "no_authorization_i_p": AuthError,
    "no_authorization_ip": AuthError,
    "out_of_scope": AuthError,
    "invalid_access_key": AuthError,
    "nonce_used": TimestampSkew,    # transient: a new request carries a fresh nonce
    "order_not_found": UnknownOrder,
    "too_many_requests": RateLimited,
}


def parse_body(body: bytes) -> tuple[str | None, str]:
    """Return (error name, message) from an Upbit error body; plain-text bodies give (None, text)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, body.decode("utf-8", "replace").strip()[:200]
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, dict):
        name = err.get("name")
        return (str(name) if name is not None else None), str(err.get("message") or "")
    return None, str(doc)[:200]


def map_error(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> VenueError:
    """Return the arbv2 error for an Upbit error response, keeping the venue's name and message."""
    headers = headers or {}
    name, message = parse_body(body)
    kw = dict(venue="upbit", code=name or status, venue_message=message, http_status=status)
    text = f"upbit {status} {name or ''}: {message}".replace("  ", " ")
    if status in (429, 418):
        wait = parse_retry_after(headers, 1.0 if status == 429 else 60.0)
        return RateLimited(text, retry_after_s=wait, **kw)
    cls = _BY_NAME.get(name or "")
    if cls is RateLimited:
        return RateLimited(text, retry_after_s=parse_retry_after(headers, 1.0), **kw)
    if cls is not None:
        return cls(text, **kw)
    if status >= 500:
        return VenueUnavailable(text, **kw)
    if status in (401, 403):
        return AuthError(text, **kw)
    if status == 400:
        return OrderRejected(text, **kw)
    return VenueError(text, **kw)
