"""Binance HMAC-SHA256 signing: signature = hex(HMAC(secret, query string + body)), sent last."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, Mapping
from urllib.parse import urlencode


def sign(secret: str, total_params: str) -> str:
    """Return the lowercase hex HMAC-SHA256 of `total_params` (query string joined to body)."""
    return hmac.new(secret.encode("utf-8"), total_params.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_query(secret: str, params: Mapping[str, Any], *, timestamp_ms: int, recv_window_ms: int) -> str:
    """Return `params` + recvWindow + timestamp, URL-encoded, with the signature appended last."""
    query = urlencode({**params, "recvWindow": recv_window_ms, "timestamp": timestamp_ms})
    return f"{query}&signature={sign(secret, query)}"
