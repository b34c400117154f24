"""ReplayLoop / ReplayClock: timers run in recorded time, instantly and in a fixed order."""
from __future__ import annotations

import asyncio
import time

import pytest

from arbv2.adapters.clock_replay import ReplayClock, ReplayLoop, ReplayStalled

ORIGIN = 1_700_000_000_000_000_000


def run(coro_fn, origin: int = ORIGIN):
    loop = ReplayLoop(origin)
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        return runner.run(coro_fn(loop, ReplayClock(loop)))


def test_sleep_takes_virtual_time_not_wall_time():
    async def main(loop, clock):
        t0 = clock.now_ns()
        await clock.sleep(3600.0)
        return clock.now_ns() - t0, clock.monotonic_ns()

    wall = time.monotonic()
    elapsed, mono = run(main)
    assert elapsed == 3600 * 10**9 and mono == 3600 * 10**9
    assert time.monotonic() - wall < 1.0


def test_wait_for_timeout_fires_in_virtual_time():
    async def main(loop, clock):
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(10.0), 0.25)
        return clock.monotonic_ns()

    assert run(main) == 250_000_000


def test_timers_fire_in_deadline_order_with_exact_nanoseconds():
    async def main(loop, clock):
        seen = []

        async def at(delay_s, tag):
            await clock.sleep(delay_s)
            seen.append((tag, clock.now_ns() - ORIGIN))

        await asyncio.gather(at(0.030, "c"), at(0.010, "a"), at(0.020, "b"))
        return seen

    assert run(main) == [("a", 10_000_000), ("b", 20_000_000), ("c", 30_000_000)]


def test_due_and_advance_to():
    async def main(loop, clock):
        loop.advance_to(ORIGIN + 5_000)
        loop.advance_to(ORIGIN + 1_000)            # never backwards
        assert clock.now_ns() == ORIGIN + 5_000
        assert not loop.due(ORIGIN + 10**12)
        task = asyncio.ensure_future(clock.sleep(0.001))
        assert loop.due(ORIGIN + 5_000)             # the new task is ready to run
        await asyncio.sleep(0)                      # it runs and arms its timer
        assert not loop.due(ORIGIN + 5_000 + 999_999)
        assert loop.due(ORIGIN + 5_000 + 1_000_000)
        task.cancel()
        await asyncio.sleep(0)
        assert not loop.due(ORIGIN + 10**12)        # a cancelled timer is not due
        return True

    assert run(main)


def test_step_to_advances_only_when_nothing_is_due_first():
    async def main(loop, clock):
        assert loop.step_to(ORIGIN + 1_000) is False          # nothing pending: time moves
        assert clock.now_ns() == ORIGIN + 1_000
        assert loop.step_to(ORIGIN + 500) is False            # never backwards
        assert clock.now_ns() == ORIGIN + 1_000
        task = asyncio.ensure_future(clock.sleep(0.002))      # timer at ORIGIN + 1_000 + 2 ms
        assert loop.step_to(ORIGIN + 10**9) is True           # a ready callback: run it first
        assert clock.now_ns() == ORIGIN + 1_000
        await asyncio.sleep(0)                                # the task arms its timer
        assert loop.step_to(ORIGIN + 1_000 + 1_999_999) is False   # before the timer: advance
        assert loop.step_to(ORIGIN + 1_000 + 2_000_000) is True    # the timer is due: stop
        await task                                            # it fires at its exact deadline
        assert clock.now_ns() == ORIGIN + 1_000 + 2_000_000
        return True

    assert run(main)


def test_a_task_waiting_on_nothing_is_reported_not_hung():
    async def main(loop, clock):
        await asyncio.get_running_loop().create_future()

    with pytest.raises(ReplayStalled):
        run(main)
