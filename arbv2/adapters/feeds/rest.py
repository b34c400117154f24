"""PublicRest: unauthenticated GETs for market data, rate-limited, timed out, retried with jittered backoff.

Shares the trading adapters' RateLimiter buckets ("upbit:query", "binance:weight") and their
transport and error mapping, so a 429 seen here slows the order path too. Reads are idempotent,
so transient failures (timeouts, 5xx, 429 with a short Retry-After) are retried; others raise.
"""
from __future__ import annotations

import random
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

from arbv2.adapters.common.transport import RestTransport
from arbv2.core.errors import RateLimited, TransientError, VenueError
from arbv2.ports.clock import Clock
from arbv2.ports.rate_limit import RateLimiter


class PublicRest:
    """GET `path` on one venue; return the raw body bytes (callers decode, the recorder stores)."""

    def __init__(self, venue: str, base_url: str, *, clock: Clock, map_error: Callable[..., VenueError],
                 timeout_s: float = 5.0, rate_limiter: RateLimiter | None = None, attempts: int = 4,
                 backoff_initial_s: float = 0.2, backoff_max_s: float = 5.0, rng: random.Random | None = None,
                 transport: RestTransport | None = None) -> None:
        self.venue = venue
        self._t = transport or RestTransport(venue, base_url, timeout_s)
        self._clock = clock
        self._map_error = map_error
        self._limiter = rate_limiter
        self.attempts = attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._rng = rng or random.Random()
        self.retries = 0

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *, bucket: str,
                  weight: int = 1) -> bytes:
        """Return the body of a successful GET; raise the mapped VenueError after the last attempt."""
        query = urlencode(params or {})
        for attempt in range(self.attempts):
            try:
                if self._limiter is not None:
                    await self._limiter.acquire(bucket, weight)
                resp = await self._t.request("GET", path, query=query)
                if resp.status >= 400:
                    err = self._map_error(resp.status, resp.body, resp.headers)
                    if isinstance(err, RateLimited) and self._limiter is not None:
                        self._limiter.penalize(bucket, err.retry_after_s or 1.0)
                    raise err
                return resp.body
            except TransientError as exc:
                if attempt == self.attempts - 1:
                    raise
                delay = min(self.backoff_max_s, self.backoff_initial_s * 2 ** attempt)
                delay *= 0.5 + 0.5 * self._rng.random()
                if isinstance(exc, RateLimited) and exc.retry_after_s:
                    if exc.retry_after_s > self.backoff_max_s * 4:
                        raise
                    delay = max(delay, exc.retry_after_s)
                self.retries += 1
                await self._clock.sleep(delay)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self._t.close()
