"""One WebSocket client of the simulator: a bounded outbound queue drained by its own writer task.

The market loop never awaits a socket: it appends ready-made frames here. The writer applies the
frame-level faults (delay, reorder, malformed frames, venue-wide stalls) and a client that falls
more than `max_queue` frames behind is disconnected, as the real venues do with slow consumers.
"""
from __future__ import annotations

import asyncio
import collections
import time

from aiohttp import WSMsgType, web

from arbv2.adapters.simulator.faults import FaultDice
from arbv2.adapters.simulator.metrics import SimMetrics

MALFORMED = b'{"e":"depthUpdate","E":'
SIM_KEY = web.AppKey("arbv2_sim", object)   # the SimulatorServer an app belongs to


class VenueStall:
    """Venue-wide 'stop sending until' marker set by the stall fault."""

    __slots__ = ("until",)

    def __init__(self) -> None:
        self.until = 0.0


class WsClient:
    """Queue + writer for one connection; `binary` selects binary (Upbit) or text (Binance) frames."""

    def __init__(self, ws: web.WebSocketResponse, venue: str, binary: bool, dice: FaultDice,
                 metrics: SimMetrics, stall: VenueStall, max_queue: int = 20_000) -> None:
        self.ws, self.venue, self.dice, self.metrics, self.stall = ws, venue, dice, metrics, stall
        self.opcode = WSMsgType.BINARY if binary else WSMsgType.TEXT
        self.queue: collections.deque[bytes] = collections.deque()
        self.wakeup = asyncio.Event()
        self.max_queue = max_queue
        self.closed = False
        self.last_activity = time.monotonic()
        self._frames = metrics.frames.labels(venue)

    def push(self, frame: bytes) -> None:
        if self.closed:
            return
        if len(self.queue) >= self.max_queue:
            self.metrics.frames_dropped.labels(self.venue).inc(len(self.queue))
            self.queue.clear()
            self.closed = True
            asyncio.get_running_loop().create_task(self.ws.close(code=1008, message=b"slow consumer"))
            return
        self.queue.append(frame)
        self.wakeup.set()

    async def run_writer(self) -> None:
        """Send queued frames until the socket closes; faults are applied here."""
        plan_of = self.dice
        while not self.closed and not self.ws.closed:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.queue and not self.ws.closed:
                wait = self.stall.until - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                plan = plan_of.plan
                frame = self.queue.popleft()
                if plan.applies(self.venue):
                    if plan.ws_delay_ms > 0 and plan_of.roll(self.venue, plan.ws_delay_share, "ws_delay"):
                        await asyncio.sleep(plan.ws_delay_ms / 1000.0)
                    if self.queue and plan_of.roll(self.venue, plan.ws_reorder_share, "ws_reorder"):
                        frame, self.queue[0] = self.queue[0], frame
                    if plan_of.roll(self.venue, plan.ws_malformed_share, "ws_malformed"):
                        await self.ws.send_frame(MALFORMED, self.opcode)
                await self.ws.send_frame(frame, self.opcode)
                self._frames.inc()
                self.last_activity = time.monotonic()
