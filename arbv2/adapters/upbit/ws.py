"""Upbit orderbook stream: every code in one subscription on one connection, resubscribed on connect.

Upbit frames are binary UTF-8 JSON; every orderbook frame (SNAPSHOT first, then REALTIME) is the
full top-N book, so a reconnect resyncs by itself once the SNAPSHOT frames arrive. The idle cut
(~120 s without traffic) is prevented by the WebSocket ping frames WsConnection sends.
"""
from __future__ import annotations

import random
import uuid
from typing import Callable, Sequence

import orjson
from websockets.asyncio.client import ClientConnection

from arbv2.adapters.feeds.connection import WsConnection
from arbv2.ports.clock import Clock


def subscription(codes: Sequence[str], ticket: str | None = None, fmt: str = "DEFAULT") -> bytes:
    """Return the subscription request for the orderbooks of `codes` (upper case, e.g. KRW-BTC)."""
    return orjson.dumps([{"ticket": ticket or str(uuid.uuid4())},
                         {"type": "orderbook", "codes": [c.upper() for c in codes]},
                         {"format": fmt}])


def orderbook_connection(ws_url: str, codes: Sequence[str], *, clock: Clock,
                         on_frame: Callable[[bytes, int], None], on_open: Callable[[], None],
                         on_close: Callable[[], None], silence_timeout_s: float, backoff_initial_s: float,
                         backoff_max_s: float, rng: random.Random | None = None) -> WsConnection:
    """Return the WsConnection that subscribes to `codes` each time it connects."""
    request = subscription(codes)

    async def subscribe(ws: ClientConnection) -> None:
        on_open()
        await ws.send(request.decode())

    return WsConnection("upbit/orderbook", ws_url, on_frame, clock=clock, on_open=subscribe, on_close=on_close,
                        silence_timeout_s=silence_timeout_s, backoff_initial_s=backoff_initial_s,
                        backoff_max_s=backoff_max_s, rng=rng)
