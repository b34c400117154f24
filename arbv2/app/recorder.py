"""The recorder: run the market-data feed and write every raw frame it receives to .arbrec.

Only the feed's `on_frame` hook is used, so what is recorded is exactly what the live engine
would have parsed (WebSocket frames and the REST snapshots of book sync), stamped with the
same local receive time. The header also keeps what a replay needs and cannot fetch later:
the Binance filters (exchangeInfo) of the recorded symbols, the config hash, the sim seed.
"""
from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import aiohttp
import orjson

from arbv2.adapters.binance.market_data import SNAPSHOT_SUFFIX
from arbv2.adapters.binance.symbols import to_symbol
from arbv2.adapters.common.clock import SystemClock
from arbv2.adapters.recording.writer import RecordingWriter
from arbv2.core.config import Config
from arbv2.core.model import binance_symbol

log = logging.getLogger(__name__)
_FLUSH_TICK_S = 0.05
_SNAPSHOT_TAG = (SNAPSHOT_SUFFIX + '"').encode()


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the feed connects: the simulator's or the venues' public URLs."""

    upbit_url: str
    upbit_ws_url: str
    binance_url: str
    binance_ws_url: str


def endpoints_from_config(cfg: Config) -> Endpoints:
    v = cfg.venues
    return Endpoints(v.upbit.rest_url, v.upbit.ws_url, v.binance_usdm.rest_url, v.binance_usdm.ws_url)


class FrameSink:
    """The feed's `on_frame` callback: one call per raw frame → one record.

    The Binance feed hands its REST depth snapshots to the same callback, wrapped as
    `{"stream":"<code>@depthSnapshot","data":<body>}` (adapters/binance/market_data.py); those
    are stored as kind "rest_book", byte for byte, so a replay feeds them back unchanged.
    """

    def __init__(self, writer: RecordingWriter) -> None:
        self.writer = writer
        self.frames = {"upbit": 0, "binance_usdm": 0}
        self.snapshots = 0

    def __call__(self, venue: Any, raw: bytes | str, ts_recv_ns: int) -> None:
        venue = getattr(venue, "value", venue)
        if isinstance(raw, str):
            raw = raw.encode()
        if is_snapshot_frame(raw):
            self.snapshots += 1
            self.writer.write(venue, "rest_book", raw, ts_recv_ns)
        else:
            self.frames[venue] += 1
            self.writer.write(venue, "ws", raw, ts_recv_ns)


def is_snapshot_frame(raw: bytes) -> bool:
    """Return True for a Binance REST depth body as the feed wraps it (not a stream frame)."""
    return raw.startswith(b'{"stream":"') and _SNAPSHOT_TAG in raw[:64]


async def fetch_binance_filters(binance_url: str, symbols: tuple[str, ...], timeout_s: float = 10.0) -> dict:
    """Return the exchangeInfo `symbols[]` entries of the recorded bases, keyed by venue code."""
    want = {to_symbol(binance_symbol(b)) for b in symbols}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as s:
        async with s.get(f"{binance_url.rstrip('/')}/fapi/v1/exchangeInfo") as r:
            r.raise_for_status()
            doc = await r.json(loads=orjson.loads, content_type=None)
    return {e["symbol"]: e for e in doc.get("symbols", []) if e.get("symbol") in want}


async def fetch_funding_rates(binance_url: str, symbols: tuple[str, ...], timeout_s: float = 10.0) -> dict:
    """Return the last funding rate per base (premiumIndex), which the detector's break-even uses."""
    out = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as s:
        for base in symbols:
            code = to_symbol(binance_symbol(base))
            async with s.get(f"{binance_url.rstrip('/')}/fapi/v1/premiumIndex", params={"symbol": code}) as r:
                r.raise_for_status()
                doc = await r.json(loads=orjson.loads, content_type=None)
            out[base] = float(doc.get("lastFundingRate") or 0.0)
    return out


@dataclass(slots=True)
class RecordResult:
    out: Path
    records: int
    frames: dict[str, int]
    snapshots: int
    segments: int


async def record(cfg: Config, out: str | Path, *, endpoints: Endpoints, duration_s: float | None = None,
                 stop: asyncio.Event | None = None, meta: dict | None = None,
                 max_segment_bytes: int = 64 << 20, max_segment_age_s: float = 3600.0,
                 fsync: bool = False, feed_factory: Callable[..., Any] | None = None) -> RecordResult:
    """Record the feed of `cfg.symbols` from `endpoints` into `out` until `duration_s` or `stop`.

    The writer is closed whatever happens (a cancel or an error flushes the last block).
    """
    clock = SystemClock()
    header = {"symbols": list(cfg.symbols), "config_hash": cfg.config_hash(), **(meta or {})}
    try:
        header["binance_filters"] = await fetch_binance_filters(endpoints.binance_url, cfg.symbols)
        header["funding_rates"] = await fetch_funding_rates(endpoints.binance_url, cfg.symbols)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        log.warning("recorder: venue filters/funding not recorded (%r); a replay will use defaults", exc)
    writer = RecordingWriter(out, meta=header, max_segment_bytes=max_segment_bytes,
                             max_segment_age_ns=int(max_segment_age_s * 1e9), fsync=fsync)
    sink = FrameSink(writer)
    if feed_factory is None:
        from arbv2.adapters.feeds.market_data import MarketData as feed_factory
    feed = feed_factory(cfg, clock=clock, upbit_url=endpoints.upbit_url, upbit_ws_url=endpoints.upbit_ws_url,
                        binance_url=endpoints.binance_url, binance_ws_url=endpoints.binance_ws_url,
                        on_frame=sink)
    stop = stop or asyncio.Event()
    try:
        async with asyncio.TaskGroup() as tg:
            feed_task = tg.create_task(feed.run(), name="recorder-feed")
            flusher = tg.create_task(_flush_loop(writer, clock), name="recorder-flush")
            try:
                await asyncio.wait_for(stop.wait(), duration_s)
            except asyncio.TimeoutError:
                pass
            feed_task.cancel()
            flusher.cancel()
    finally:
        writer.close()
        close = getattr(feed, "close", None)
        if close is not None:
            await close()
    return RecordResult(Path(out), writer.records, dict(sink.frames), sink.snapshots, writer.segments)


async def _flush_loop(writer: RecordingWriter, clock: SystemClock) -> None:
    while True:
        await asyncio.sleep(_FLUSH_TICK_S)
        writer.flush_if_due(clock.now_ns())


async def record_command(cfg: Config, out: str | Path, duration_s: float | None, *, source: str,
                         max_segment_bytes: int, max_segment_age_s: float, fsync: bool) -> RecordResult:
    """Run `arbv2 record`: start the embedded simulator when asked, stop on SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    kw = dict(duration_s=duration_s, stop=stop, max_segment_bytes=max_segment_bytes,
              max_segment_age_s=max_segment_age_s, fsync=fsync)
    if source == "public":
        return await record(cfg, out, endpoints=endpoints_from_config(cfg), meta={"source": "public"}, **kw)
    from arbv2.adapters.simulator import SimulatorServer

    s = cfg.simulator
    async with SimulatorServer(seed=s.seed, symbols=cfg.symbols, premium_mean=s.premium_mean) as sim:
        ep = Endpoints(sim.upbit_url, sim.upbit_ws_url, sim.binance_url, sim.binance_ws_url)
        meta = {"source": "sim", "seed": s.seed, "premium_mean": s.premium_mean}
        return await record(cfg, out, endpoints=ep, meta=meta, **kw)
