"""Binance error bodies ({"code": -1021, "msg": ...}) and HTTP statuses -> arbv2 errors."""
from __future__ import annotations

from typing import Mapping

import orjson

from arbv2.adapters.common.errors import parse_retry_after
from arbv2.core.errors import (AuthError, InsufficientFunds, InvalidOrder, OrderRejected, RateLimited,
                               TimestampSkew, UnknownOrder, VenueError, VenueUnavailable)

_BY_CODE: dict[int, type[VenueError]] = {
    -1000: VenueUnavailable, -1001: VenueUnavailable, -1006: VenueUnavailable, -1007: VenueUnavailable,
    -1008: VenueUnavailable,
    -1003: RateLimited, -1015: RateLimited,
    -1021: TimestampSkew,
    -1022: AuthError, -2014: AuthError, -2015: AuthError,
    -1100: InvalidOrder, -1101: InvalidOrder, -1102: InvalidOrder, -1106: InvalidOrder, -1111: InvalidOrder,
    -1116: InvalidOrder, -1117: InvalidOrder, -1121: InvalidOrder, -1128: InvalidOrder, -1130: InvalidOrder,
    -2010: OrderRejected, -2021: InvalidOrder, -2022: InvalidOrder, -2027: InvalidOrder, -2028: InvalidOrder,
    -4003: InvalidOrder, -4004: InvalidOrder, -4005: InvalidOrder, -4013: InvalidOrder, -4014: InvalidOrder,
    -4016: InvalidOrder, -4023: InvalidOrder, -4024: InvalidOrder, -4028: InvalidOrder, -4061: InvalidOrder,
    -4116: InvalidOrder, -4131: OrderRejected, -4164: InvalidOrder, -5021: OrderRejected, -5022: OrderRejected,
    -2018: InsufficientFunds, -2019: InsufficientFunds,
    -2011: UnknownOrder, -2013: UnknownOrder,
}
# "Already set" answers of the account-setup endpoints: success, not errors.
NO_CHANGE_CODES = frozenset({-4046, -4059})


def parse_body(body: bytes) -> tuple[int | None, str]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, body.decode("utf-8", "replace").strip()[:200]
    if isinstance(doc, dict) and "code" in doc:
        try:
            return int(doc["code"]), str(doc.get("msg") or "")
        except (TypeError, ValueError):
            return None, str(doc.get("msg") or "")
    return None, str(doc)[:200]


def map_error(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> VenueError:
    """Return the arbv2 error for a Binance error response, keeping the venue's code and msg."""
    headers = headers or {}
    code, msg = parse_body(body)
    kw = dict(venue="binance_usdm", code=code if code is not None else status, venue_message=msg, http_status=status)
    text = f"binance_usdm {status} {code if code is not None else ''}: {msg}"
    if status in (429, 418):
        return RateLimited(text, retry_after_s=parse_retry_after(headers, 1.0 if status == 429 else 120.0), **kw)
    cls = _BY_CODE.get(code) if code is not None else None
    if cls is RateLimited:
        return RateLimited(text, retry_after_s=parse_retry_after(headers, 1.0), **kw)
    if cls is not None:
        return cls(text, **kw)
    if status >= 500 or status == 408:
        return VenueUnavailable(text, **kw)
    if status == 403:  # Binance uses 403 for a WAF limit violation
        return RateLimited(text, retry_after_s=parse_retry_after(headers, 60.0), **kw)
    if status == 401:
        return AuthError(text, **kw)
    if status == 400 and code is not None and code <= -1100:
        return OrderRejected(text, **kw)
    return VenueError(text, **kw)
