"""Recorded time for replays: an event loop whose clock is virtual, and the Clock port over it.

A backtest must run as fast as the data can be read and give the same answer twice, so nothing
in it may wait on the wall clock. `ReplayLoop` is a SelectorEventLoop whose `time()` is a
virtual nanosecond counter: when every task is waiting on a timer, the loop jumps straight to
that timer instead of blocking. `asyncio.sleep`, `asyncio.wait_for` timeouts, the MockAdapter's
latency and the executor's backoffs all run in recorded time, in a fixed order.

The replay driver moves time forward itself between frames (`step_to`, or `due` then
`advance_to`), and yields to the loop only when something is due before the next frame, so a
quiet stretch of frames costs no event-loop round trip.
"""
from __future__ import annotations

import asyncio
import heapq
import selectors

_NS = 1_000_000_000


class ReplayStalled(RuntimeError):
    """Every task waits on I/O that a replay will never deliver (a bug in the assembly)."""


class _VirtualSelector(selectors.BaseSelector):
    """Delegate registrations to a real selector, but never block: a timeout advances time."""

    def __init__(self, loop: "ReplayLoop", real: selectors.BaseSelector) -> None:
        self._loop = loop
        self._real = real

    def register(self, fileobj, events, data=None):
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj):
        return self._real.unregister(fileobj)

    def modify(self, fileobj, events, data=None):
        return self._real.modify(fileobj, events, data)

    def select(self, timeout=None):
        if timeout is None:
            raise ReplayStalled("replay: no timer pending and nothing ready; every task waits on I/O")
        if timeout > 0:
            self._loop.jump_to_next_timer()
        return self._real.select(0)

    def get_map(self):
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class ReplayLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time: `time()` is seconds since `origin_ns` of recorded time."""

    def __init__(self, origin_ns: int = 0) -> None:
        self._vns = 0
        self.origin_ns = int(origin_ns)
        super().__init__(_VirtualSelector(self, selectors.DefaultSelector()))
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._vns / _NS

    @property
    def virtual_ns(self) -> int:
        """Nanoseconds of recorded time elapsed since `origin_ns`."""
        return self._vns

    def jump_to_next_timer(self) -> None:
        """Advance to the earliest live timer, rounded to the nanosecond (idle loop only)."""
        if self._scheduled:   # never stand still, or a timer a rounding short would spin forever
            self._vns = max(self._vns + 1, round(self._scheduled[0]._when * _NS))

    def advance_to(self, epoch_ns: int) -> None:
        """Move recorded time forward to `epoch_ns` (never backwards)."""
        vns = int(epoch_ns) - self.origin_ns
        if vns > self._vns:
            self._vns = vns

    def step_to(self, epoch_ns: int) -> bool:
        """Move recorded time to `epoch_ns` unless something is due first (one call per frame).

        Return True, time unchanged, when a callback is ready or a live timer fires at or before
        `epoch_ns` (the caller lets the loop run them, then asks again); otherwise advance as
        `advance_to` does and return False.
        """
        if self._ready or (self._scheduled and self.due(epoch_ns)):  # type: ignore[attr-defined]
            return True
        vns = epoch_ns - self.origin_ns
        if vns > self._vns:
            self._vns = vns
        return False

    def due(self, epoch_ns: int) -> bool:
        """Return True when a callback is ready or a live timer fires at or before `epoch_ns`."""
        if self._ready:
            return True
        heap = self._scheduled
        while heap and heap[0]._cancelled:      # drop cancelled heads, as _run_once does
            handle = heapq.heappop(heap)
            handle._scheduled = False
            self._timer_cancelled_count -= 1
        return bool(heap) and round(heap[0]._when * _NS) <= epoch_ns - self.origin_ns   # float seconds: round to ns


class ReplayClock:
    """The Clock port in recorded time, read from a ReplayLoop.

    `now_ns` is the recording's epoch time (origin + elapsed virtual time); `monotonic_ns` is
    the elapsed virtual time; `sleep` waits in virtual time.
    """

    def __init__(self, loop: ReplayLoop) -> None:
        self._loop = loop

    def now_ns(self) -> int:
        return self._loop.origin_ns + self._loop._vns

    def monotonic_ns(self) -> int:
        return self._loop._vns

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
