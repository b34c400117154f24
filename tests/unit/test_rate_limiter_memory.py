"""MemoryRateLimiter: token-bucket pacing, multi-window buckets, penalties, headroom, fair concurrency."""
import asyncio

import pytest

from arbv2.adapters.memory.rate_limiter import MemoryRateLimiter


class FakeClock:
    def __init__(self):
        self.t = 0

    def now_ns(self):
        return self.t

    def monotonic_ns(self):
        return self.t

    async def sleep(self, s):
        self.t += int(s * 1e9)


BUCKETS = {"upbit:order": ((8, 1.0),), "binance:order": ((3, 10.0), (5, 60.0)), "binance:weight": ((2400, 60.0),)}


async def test_burst_then_paced_at_rate():
    rl = MemoryRateLimiter(FakeClock(), BUCKETS)
    waits = [await rl.acquire("upbit:order") for _ in range(8)]
    assert waits == [0.0] * 8
    assert rl.reserve("upbit:order") == pytest.approx(0.125)


async def test_weight_and_headroom():
    clock = FakeClock()
    rl = MemoryRateLimiter(clock, BUCKETS)
    await rl.acquire("binance:weight", 1200)
    assert await rl.headroom("binance:weight") == pytest.approx(0.5)
    clock.t += 30 * 10**9
    assert await rl.headroom("binance:weight") == pytest.approx(1.0)
    with pytest.raises(ValueError):
        await rl.acquire("binance:weight", 2401)
    with pytest.raises(ValueError, match="unknown"):
        await rl.acquire("nope")


async def test_every_window_of_a_bucket_must_have_room():
    rl = MemoryRateLimiter(FakeClock(), BUCKETS)
    assert [rl.reserve("binance:order") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rl.reserve("binance:order") == pytest.approx(10 / 3)   # the 3/10 s window binds first


async def test_penalty_blocks_then_paces_from_empty():
    clock = FakeClock()
    rl = MemoryRateLimiter(clock, BUCKETS)
    rl.penalize("upbit:order", 2.0)
    assert await rl.headroom("upbit:order") == 0.0
    assert await rl.acquire("upbit:order") == pytest.approx(2.125)
    assert clock.t == pytest.approx(2.125e9)


async def test_concurrent_callers_queue_fairly():
    clock = FakeClock()
    rl = MemoryRateLimiter(clock, BUCKETS)
    rl_sleeps = []
    clock.sleep = lambda s: rl_sleeps.append(s) or asyncio.sleep(0)   # time stands still: all arrive at once
    waits = await asyncio.gather(*(rl.acquire("upbit:order") for _ in range(16)))
    assert sorted(waits)[:8] == [0.0] * 8
    assert sorted(waits)[8:] == pytest.approx([0.125 * i for i in range(1, 9)])
    assert sorted(rl_sleeps) == sorted(w for w in waits if w > 0)
