"""Binance USDⓈ-M depth streams: combined streams on the /public route, sharded by the per-connection limit.

Since the 2026 URL split, book streams (`@depth`) are served only under `<base>/public/...`; the
legacy `<base>/stream` accepts the handshake but stays silent, which the silence watchdog of
WsConnection turns into a reconnect. Each shard is one WsConnection (one live socket at most).
"""
from __future__ import annotations

import random
from typing import Callable, Sequence

from arbv2.adapters.feeds.connection import WsConnection
from arbv2.ports.clock import Clock

DEPTH_SPEED = "@100ms"
MAX_CONNECTION_AGE_S = 23 * 3600.0   # the venue disconnects at 24 h; cut earlier, on our terms


def depth_stream(code: str, speed: str = DEPTH_SPEED) -> str:
    """Return the diff-depth stream name of a venue symbol ("BTCUSDT" -> "btcusdt@depth@100ms")."""
    return f"{code.lower()}@depth{speed}"


def shard(codes: Sequence[str], max_streams: int) -> list[list[str]]:
    """Split symbols into groups of at most `max_streams` (one connection each)."""
    if max_streams < 1:
        raise ValueError(f"max_streams: must be >= 1, got {max_streams}")
    return [list(codes[i:i + max_streams]) for i in range(0, len(codes), max_streams)]


def public_url(ws_base: str, codes: Sequence[str], speed: str = DEPTH_SPEED) -> str:
    """Return the combined-stream URL on the /public route for these symbols' diff depth."""
    return f"{ws_base.rstrip('/')}/public/stream?streams=" + "/".join(depth_stream(c, speed) for c in codes)


def depth_connections(ws_base: str, codes: Sequence[str], *, max_streams: int, clock: Clock,
                      on_frame: Callable[[bytes, int], None], on_close: Callable[[list[str]], None],
                      silence_timeout_s: float, backoff_initial_s: float, backoff_max_s: float,
                      max_age_s: float | None = MAX_CONNECTION_AGE_S,
                      rng: random.Random | None = None) -> list[WsConnection]:
    """Return one WsConnection per shard; `on_close(shard_codes)` runs after each disconnect."""
    out = []
    for i, group in enumerate(shard(codes, max_streams)):
        out.append(WsConnection(
            f"binance_usdm/depth#{i}", public_url(ws_base, group), on_frame, clock=clock,
            on_close=lambda g=group: on_close(g), silence_timeout_s=silence_timeout_s,
            backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s, max_age_s=max_age_s, rng=rng))
    return out
