"""RateLimiter port: token buckets per venue endpoint group, shared across processes when durable."""
from __future__ import annotations

from typing import Protocol


class RateLimiter(Protocol):
    async def acquire(self, bucket: str, weight: int = 1) -> float:
        """Take `weight` tokens from `bucket`, waiting if needed; return seconds waited."""

    async def headroom(self, bucket: str) -> float:
        """Return the fraction of the bucket still available (0..1)."""

    def penalize(self, bucket: str, seconds: float) -> None:
        """Block the bucket for `seconds` (a venue said 429/418 with Retry-After)."""
