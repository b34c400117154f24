"""Retry policy for idempotent reads: transient errors only, bounded, backoff on the injected clock."""
from __future__ import annotations

from typing import Awaitable, Callable, TypeVar

from arbv2.core.errors import RateLimited, TransientError
from arbv2.ports.clock import Clock

T = TypeVar("T")


async def retry_read(call: Callable[[], Awaitable[T]], clock: Clock, *, attempts: int = 3,
                     base_delay_s: float = 0.2, max_wait_s: float = 5.0) -> T:
    """Return `call()`, retrying TransientError up to `attempts` times (never use for orders).

    A RateLimited error whose Retry-After is longer than `max_wait_s` is raised at once.
    """
    for attempt in range(attempts):
        try:
            return await call()
        except TransientError as exc:
            if attempt == attempts - 1:
                raise
            delay = base_delay_s * (2 ** attempt)
            if isinstance(exc, RateLimited) and exc.retry_after_s is not None:
                if exc.retry_after_s > max_wait_s:
                    raise
                delay = max(delay, exc.retry_after_s)
            await clock.sleep(delay)
    raise AssertionError("unreachable")
