"""UpbitHttp: signed and public Upbit REST calls with rate limits, Remaining-Req and error mapping."""
from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import urlencode

import orjson

from arbv2.adapters.common.retry import retry_read
from arbv2.adapters.common.transport import RestTransport, observed_request
from arbv2.adapters.upbit.errors import map_error
from arbv2.adapters.upbit.signing import auth_header
from arbv2.core.errors import AuthError, RateLimited
from arbv2.ports.clock import Clock
from arbv2.ports.rate_limit import RateLimiter

_REMAINING = re.compile(r"group=([\w-]+);\s*min=(\d+);\s*sec=(\d+)")


def parse_remaining_req(value: str | None) -> tuple[str, int] | None:
    """Return (group, requests left this second) from a Remaining-Req header."""
    m = _REMAINING.search(value or "")
    return (m.group(1), int(m.group(3))) if m else None


class UpbitHttp:
    def __init__(self, transport: RestTransport, limiter: RateLimiter, clock: Clock, *,
                 access_key: str | None, secret_key: str | None, jwt_algorithm: str = "HS512",
                 metrics: Any = None) -> None:
        self._t = transport
        self._limiter = limiter
        self._clock = clock
        self._access = access_key
        self._secret = secret_key
        self._alg = jwt_algorithm
        self._metrics = metrics

    @property
    def has_keys(self) -> bool:
        return bool(self._access and self._secret)

    async def call(self, method: str, path: str, params: Mapping[str, Any] | None = None, *,
                   private: bool, bucket: str) -> Any:
        """Send one request once and return the decoded JSON; raise the mapped arbv2 error."""
        params = dict(params or {})
        headers: dict[str, str] = {"Accept": "application/json"}
        if private:
            if not self.has_keys:
                raise AuthError(f"upbit: {method} {path} needs UPBIT_ACCESS_KEY/UPBIT_SECRET_KEY", venue="upbit")
            headers.update(auth_header(self._access, self._secret, params or None, algorithm=self._alg))
        query, body = "", None
        if method == "POST":
            body = orjson.dumps(params)
            headers["Content-Type"] = "application/json; charset=utf-8"
        elif params:
            query = urlencode([(k if not isinstance(v, (list, tuple)) or k.endswith("[]") else f"{k}[]", x)
                               for k, v in params.items() for x in (v if isinstance(v, (list, tuple)) else [v])])
        await self._limiter.acquire(bucket)
        resp = await observed_request(self._t, self._metrics, "upbit", method, path, query=query, body=body,
                                      headers=headers)
        remaining = parse_remaining_req(resp.headers.get("Remaining-Req"))
        if remaining is not None and remaining[1] <= 0:
            self._penalize(f"upbit:{remaining[0]}", 1.0)   # slow down before the venue says 429
        if resp.status >= 400:
            err = map_error(resp.status, resp.body, resp.headers)
            if isinstance(err, RateLimited):
                self._penalize(bucket, err.retry_after_s or 1.0)
            raise err
        return orjson.loads(resp.body) if resp.body else None

    def _penalize(self, bucket: str, seconds: float) -> None:
        try:
            self._limiter.penalize(bucket, seconds)
        except ValueError:  # a group we have no bucket for: nothing to slow down
            pass

    async def read(self, path: str, params: Mapping[str, Any] | None = None, *, private: bool, bucket: str) -> Any:
        """GET with retries on transient errors (reads are idempotent)."""
        return await retry_read(lambda: self.call("GET", path, params, private=private, bucket=bucket), self._clock)
