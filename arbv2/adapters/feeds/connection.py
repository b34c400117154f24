"""WsConnection: one reconnecting WebSocket shard (one live socket at most) shared by both venues.

Why a hand-written loop instead of websockets' reconnecting iterator: we need the backoff on the
injected clock (tests assert it), a silence watchdog (an open socket that stops sending is dead:
the venues' retired routes behave exactly so), a proactive cut before the venue's 24 h limit,
and open/close hooks so the owner can resubscribe and mark its books unsynced.
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from typing import Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidURI, WebSocketException

from arbv2.ports.clock import Clock

log = logging.getLogger("arbv2.feeds.ws")

FrameHandler = Callable[[bytes, int], None]


def backoff_delay(attempt: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Return the wait before reconnect `attempt` (0-based): doubling, capped, 50-100 % jitter."""
    base = min(max_s, initial_s * (2.0 ** min(attempt, 30)))
    return base * (0.5 + 0.5 * rng.random())


class WsConnection:
    """Keep one WebSocket to `url` alive; hand every frame (bytes) with its receive time to `on_frame`.

    Parameters
    ----------
    on_open
        Awaited after each connect (send subscriptions); the socket is passed in.
    on_close
        Called after each disconnect (mark books unsynced), before the backoff sleep.
    silence_timeout_s
        A socket with no frame for this long is closed and reconnected.
    max_age_s
        Reconnect proactively after this long (the venue cuts at 24 h); None for never.
    """

    def __init__(self, name: str, url: str, on_frame: FrameHandler, *, clock: Clock,
                 on_open: Callable[[ClientConnection], Awaitable[None]] | None = None,
                 on_close: Callable[[], None] | None = None, silence_timeout_s: float = 10.0,
                 backoff_initial_s: float = 0.5, backoff_max_s: float = 30.0, max_age_s: float | None = None,
                 open_timeout_s: float = 10.0, ping_interval_s: float | None = 20.0,
                 rng: random.Random | None = None) -> None:
        self.name = name
        self.url = url
        self._on_frame = on_frame
        self._on_open = on_open
        self._on_close = on_close
        self._clock = clock
        self.silence_timeout_s = silence_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.max_age_s = max_age_s
        self.open_timeout_s = open_timeout_s
        self.ping_interval_s = ping_interval_s
        self._rng = rng or random.Random()
        self.connects = 0          # successful handshakes
        self.disconnects = 0       # sockets lost or cut (each one is followed by a reconnect)
        self.silences = 0          # sockets closed by the silence watchdog
        self.handler_errors = 0    # frames whose handler raised (logged, never fatal)
        self.delays: deque[float] = deque(maxlen=64)   # recent backoff sleeps, for tests and doctor
        self.live = False
        self._got_frame = False

    async def run(self) -> None:
        """Connect, read, reconnect with backoff, until cancelled."""
        attempt = 0
        while True:
            self._got_frame = False
            try:
                await self._session()
            except (OSError, TimeoutError, InvalidHandshake, WebSocketException) as exc:
                if isinstance(exc, InvalidURI):
                    raise
                log.warning("%s: connection lost: %s: %s", self.name, type(exc).__name__, exc)
            if self._got_frame:   # the socket delivered data: it was healthy, start the backoff over
                attempt = 0
            delay = backoff_delay(attempt, self.backoff_initial_s, self.backoff_max_s, self._rng)
            attempt += 1
            self.delays.append(delay)
            await self._clock.sleep(delay)

    async def _session(self) -> None:
        """Run one socket until it closes or goes silent (sets _got_frame once a frame arrives)."""
        async with asyncio.timeout(self.open_timeout_s):
            ws = await connect(self.url, open_timeout=None, ping_interval=self.ping_interval_s,
                               ping_timeout=self.ping_interval_s, close_timeout=2.0, max_size=2**23,
                               max_queue=1024, compression=None)
        self.connects += 1
        self.live = True
        try:
            if self._on_open is not None:
                await self._on_open(ws)
            await self._read(ws)
        finally:
            self.live = False
            self.disconnects += 1
            try:
                async with asyncio.timeout(3.0):
                    await ws.close()
            except (TimeoutError, OSError, WebSocketException):
                pass
            if self._on_close is not None:
                self._on_close()

    async def _read(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        born = loop.time()
        on_frame, now_ns = self._on_frame, self._clock.now_ns
        deadline = asyncio.timeout(None)
        try:
            async with deadline:
                while True:
                    limit = loop.time() + self.silence_timeout_s
                    if self.max_age_s is not None:
                        limit = min(limit, born + self.max_age_s)
                    deadline.reschedule(limit)
                    raw = await ws.recv(decode=False)
                    self._got_frame = True
                    try:
                        on_frame(raw, now_ns())
                    except Exception:  # a handler bug must not kill the feed; it is counted and logged
                        self.handler_errors += 1
                        if self.handler_errors == 1 or self.handler_errors % 1000 == 0:
                            log.exception("%s: frame handler failed (%d so far)", self.name, self.handler_errors)
        except TimeoutError:
            if not deadline.expired():
                raise
        if self.max_age_s is not None and loop.time() >= born + self.max_age_s:
            log.info("%s: reconnecting after %.0f s (venue connection lifetime)", self.name, self.max_age_s)
        else:
            self.silences += 1
            log.warning("%s: no frame for %.1f s; reconnecting", self.name, self.silence_timeout_s)
