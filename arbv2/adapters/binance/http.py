"""BinanceHttp: signed USDⓈ-M REST calls with server-time offset, weights, usage headers, error mapping."""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlencode

import orjson

from arbv2.adapters.binance.errors import map_error
from arbv2.adapters.binance.signing import signed_query
from arbv2.adapters.common.retry import retry_read
from arbv2.adapters.common.transport import RestTransport, observed_request
from arbv2.core.errors import AuthError, RateLimited, TimestampSkew
from arbv2.ports.clock import Clock
from arbv2.ports.rate_limit import RateLimiter

SLOWDOWN_AT = 0.9   # fraction of a venue limit used after which we pause until the window turns


class BinanceHttp:
    def __init__(self, transport: RestTransport, limiter: RateLimiter, clock: Clock, *,
                 api_key: str | None, api_secret: str | None, recv_window_ms: int = 5000,
                 weight_limit_per_min: int = 2400, order_limit_10s: int = 300, metrics: Any = None) -> None:
        self._t = transport
        self._limiter = limiter
        self._clock = clock
        self._key = api_key
        self._secret = api_secret
        self._recv_window_ms = recv_window_ms
        self._weight_limit = weight_limit_per_min
        self._order_limit_10s = order_limit_10s
        self._metrics = metrics
        self.offset_ms = 0

    @property
    def has_keys(self) -> bool:
        return bool(self._key and self._secret)

    def now_ms(self) -> int:
        """Return the venue's clock in ms as we estimate it (local time + kept offset)."""
        return self._clock.now_ns() // 1_000_000 + self.offset_ms

    async def sync_time(self) -> int:
        """Measure the offset to /fapi/v1/time (midpoint of the round trip); return it in ms."""
        t0 = self._clock.now_ns()
        doc = await self.read("GET", "/fapi/v1/time", weight=1)
        t1 = self._clock.now_ns()
        self.offset_ms = int(doc["serverTime"]) - (t0 + t1) // 2_000_000
        return self.offset_ms

    async def call(self, method: str, path: str, params: Mapping[str, Any] | None = None, *,
                   signed: bool = False, weight: int = 1, order: bool = False) -> Any:
        """Send once (plus one resend after a -1021, which the venue did not execute)."""
        try:
            return await self._call_once(method, path, params, signed=signed, weight=weight, order=order)
        except TimestampSkew:
            if not signed:
                raise
            await self.sync_time()
            return await self._call_once(method, path, params, signed=signed, weight=weight, order=order)

    async def read(self, method: str, path: str, params: Mapping[str, Any] | None = None, *,
                   signed: bool = False, weight: int = 1) -> Any:
        """An idempotent call, retried on transient errors."""
        return await retry_read(lambda: self.call(method, path, params, signed=signed, weight=weight), self._clock)

    async def _call_once(self, method: str, path: str, params: Mapping[str, Any] | None, *,
                         signed: bool, weight: int, order: bool) -> Any:
        params = dict(params or {})
        headers = {"Accept": "application/json"}
        if self._key:
            headers["X-MBX-APIKEY"] = self._key
        if signed:
            if not self.has_keys:
                raise AuthError(f"binance_usdm: {method} {path} needs BINANCE_API_KEY/BINANCE_API_SECRET",
                                venue="binance_usdm")
            encoded = signed_query(self._secret, params, timestamp_ms=self.now_ms(),
                                   recv_window_ms=self._recv_window_ms)
        else:
            encoded = urlencode(params)
        query, body = encoded, None
        if method in ("POST", "PUT") and encoded:
            query, body = "", encoded.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if weight:
            await self._limiter.acquire("binance:weight", weight)
        if order:
            await self._limiter.acquire("binance:order", 1)
        resp = await observed_request(self._t, self._metrics, "binance_usdm", method, path, query=query, body=body,
                                      headers=headers)
        self._read_usage(resp.headers)
        if resp.status >= 400:
            err = map_error(resp.status, resp.body, resp.headers)
            if isinstance(err, RateLimited):
                bucket = "binance:order" if err.code == -1015 else "binance:weight"
                self._limiter.penalize(bucket, err.retry_after_s or 1.0)
            raise err
        return orjson.loads(resp.body) if resp.body else None

    def _read_usage(self, headers: Mapping[str, str]) -> None:
        """Pause a bucket until its window turns once the venue reports it nearly used up."""
        now_s = self.now_ms() / 1000.0
        used = _int(headers.get("X-MBX-USED-WEIGHT-1M"))
        if used is not None and used >= SLOWDOWN_AT * self._weight_limit:
            self._limiter.penalize("binance:weight", 60.0 - now_s % 60.0)
        orders = _int(headers.get("X-MBX-ORDER-COUNT-10S"))
        if orders is not None and orders >= SLOWDOWN_AT * self._order_limit_10s:
            self._limiter.penalize("binance:order", 10.0 - now_s % 10.0)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
