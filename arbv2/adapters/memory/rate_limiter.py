"""MemoryRateLimiter: token buckets for one process (the embedded default and the unit-test twin).

Reservation style, O(1) per call: a request takes its tokens at once (the balance may go negative)
and sleeps for the deficit, so concurrent callers queue fairly without a retry loop. A penalty
(429/418 Retry-After) empties the bucket and stops refilling until it ends.
"""
from __future__ import annotations

from dataclasses import dataclass

from arbv2.adapters.common.clock import SystemClock
from arbv2.adapters.common.rate_limits import DEFAULT_BUCKETS, BucketSpec, spec_for
from arbv2.ports.clock import Clock


@dataclass(slots=True)
class _Window:
    limit: float
    period_s: float
    tokens: float
    last_s: float

    @property
    def rate(self) -> float:
        return self.limit / self.period_s

    def refill(self, now_s: float) -> None:
        if now_s > self.last_s:
            self.tokens = min(self.limit, self.tokens + (now_s - self.last_s) * self.rate)
            self.last_s = now_s


class MemoryRateLimiter:
    """RateLimiter port in process memory; time from the injected clock."""

    def __init__(self, clock: Clock | None = None, buckets: dict[str, BucketSpec] | None = None) -> None:
        self._clock = clock or SystemClock()
        self._specs = dict(buckets or DEFAULT_BUCKETS)
        self._windows: dict[str, list[_Window]] = {}

    def _now_s(self) -> float:
        return self._clock.monotonic_ns() / 1e9

    def _bucket(self, bucket: str, now_s: float) -> list[_Window]:
        windows = self._windows.get(bucket)
        if windows is None:
            windows = [_Window(limit, period, float(limit), now_s) for limit, period in spec_for(self._specs, bucket)]
            self._windows[bucket] = windows
        return windows

    def reserve(self, bucket: str, weight: int = 1) -> float:
        """Take `weight` tokens now; return the seconds the caller must wait before sending."""
        now_s = self._now_s()
        windows = self._bucket(bucket, now_s)
        if weight > min(w.limit for w in windows):
            raise ValueError(f"{bucket}: weight {weight} exceeds the bucket size")
        wait = 0.0
        for w in windows:
            w.refill(now_s)
            w.tokens -= weight
            wait = max(wait, max(0.0, w.last_s - now_s) + max(0.0, -w.tokens) / w.rate)
        return wait

    async def acquire(self, bucket: str, weight: int = 1) -> float:
        wait = self.reserve(bucket, weight)
        if wait > 0:
            await self._clock.sleep(wait)
        return wait

    async def headroom(self, bucket: str) -> float:
        now_s = self._now_s()
        out = 1.0
        for w in self._bucket(bucket, now_s):
            w.refill(now_s)
            out = 0.0 if w.last_s > now_s else min(out, max(0.0, w.tokens) / w.limit)
        return out

    def penalize(self, bucket: str, seconds: float) -> None:
        now_s = self._now_s()
        until = now_s + max(0.0, seconds)
        for w in self._bucket(bucket, now_s):
            w.refill(now_s)
            w.tokens = min(w.tokens, 0.0)
            w.last_s = max(w.last_s, until)
