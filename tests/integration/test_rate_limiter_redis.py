"""RedisRateLimiter against the real Redis: atomic under concurrency, shared across instances, penalties."""
import asyncio
import time
import uuid

import pytest
import redis.asyncio as aioredis

from arbv2.adapters.redis.rate_limiter import RedisRateLimiter

pytestmark = pytest.mark.integration


class FakeClock:
    def __init__(self):
        self.t = time.time_ns()
        self.slept = []

    def now_ns(self):
        return self.t

    def monotonic_ns(self):
        return self.t

    async def sleep(self, s):
        self.slept.append(s)


@pytest.fixture
async def client():
    r = aioredis.Redis(host="127.0.0.1", port=6379, socket_timeout=2)
    try:
        await r.ping()
    except Exception as exc:  # a missing service is a clear failure, not a skip
        pytest.fail(f"Redis is not reachable on 127.0.0.1:6379: {exc}")
    prefix = f"test:{uuid.uuid4().hex}:"
    yield r, prefix
    keys = [k async for k in r.scan_iter(f"{prefix}*")]
    if keys:
        await r.delete(*keys)
    await r.aclose()


BUCKETS = {"upbit:order": ((8, 1.0),), "binance:order": ((300, 10.0), (1200, 60.0)), "binance:weight": ((2400, 60.0),)}


async def test_concurrent_acquires_across_instances_are_atomic(client):
    r, prefix = client
    clock = FakeClock()
    limiters = [RedisRateLimiter(r, prefix=prefix, clock=clock, buckets=BUCKETS) for _ in range(4)]
    waits = await asyncio.gather(*(limiters[i % 4].acquire("upbit:order") for i in range(40)))
    waits = sorted(waits)
    assert waits[:8] == [0.0] * 8                       # exactly one burst for all "processes"
    assert waits[8:] == pytest.approx([0.125 * i for i in range(1, 33)], abs=1e-5)
    assert await r.exists(f"{prefix}ratelimit:upbit:order") == 1


async def test_weight_headroom_and_ttl(client):
    r, prefix = client
    rl = RedisRateLimiter(r, prefix=prefix, clock=FakeClock(), buckets=BUCKETS)
    assert await rl.acquire("binance:weight", 600) == 0.0
    assert await rl.headroom("binance:weight") == pytest.approx(0.75, abs=1e-5)
    assert 0 < await r.pttl(f"{prefix}ratelimit:binance:weight") <= 120_000


async def test_penalty_is_shared_with_other_instances(client):
    r, prefix = client
    clock = FakeClock()
    a = RedisRateLimiter(r, prefix=prefix, clock=clock, buckets=BUCKETS)
    b = RedisRateLimiter(r, prefix=prefix, clock=clock, buckets=BUCKETS)
    a.penalize("binance:order", 5.0)
    await a.close()                                      # the penalty write has landed
    assert await b.headroom("binance:order") == 0.0
    assert await b.acquire("binance:order") == pytest.approx(5.0 + 60 / 1200, abs=1e-4)   # the 1200/min window refills slower
