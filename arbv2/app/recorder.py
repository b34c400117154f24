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

from arbv2.adapters.binance.symbols import to_symbol
from arbv2.adapters.common.clock import SystemClock
from arbv2.adapters.recording.writer import RecordingWriter
from arbv2.core.config import Config
from arbv2.core.model import binance_symbol

log = logging.getLogger(__name__)
_FLUSH_TICK_S = 0.05


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
    """The feed's `on_frame` callback: one call per raw frame or REST book body → one record.

    `kind` is "ws" for stream frames and "rest_book" for snapshot bodies; a Binance depth body
    carries no symbol, so it is stored wrapped as {"symbol": <venue code>, "body": <body>}
    (docs/recording.md).
    """

    def __init__(self, writer: RecordingWriter) -> None:
        self.writer = writer
        self.frames = {"upbit": 0, "binance_usdm": 0}
        self.snapshots = 0

    def __call__(self, venue: Any, raw: bytes | str, ts_recv_ns: int, kind: str = "ws",
                 symbol: str | None = None) -> None:
        venue = getattr(venue, "value", venue)
        if kind == "rest_book":
            self.snapshots += 1
            if venue == "binance_usdm":
                raw = wrap_binance_snapshot(symbol, raw)
        else:
            self.frames[venue] += 1
        self.writer.write(venue, kind, raw, ts_recv_ns)


def wrap_binance_snapshot(symbol: str | None, body: bytes | str) -> bytes:
    """Return a /fapi/v1/depth body wrapped with the venue symbol it belongs to."""
    if not symbol:
        raise ValueError("a Binance REST depth body needs its symbol to be replayable")
    if isinstance(body, str):
        body = body.encode()
    return b'{"symbol":' + orjson.dumps(symbol) + b',"body":' + body + b"}"


async def fetch_binance_filters(binance_url: str, symbols: tuple[str, ...], timeout_s: float = 10.0) -> dict:
    """Return the exchangeInfo `symbols[]` entries of the recorded bases, keyed by venue code."""
    want = {to_symbol(binance_symbol(b)) for b in symbols}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as s:
        async with s.get(f"{binance_url.rstrip('/')}/fapi/v1/exchangeInfo") as r:
            r.raise_for_status()
            doc = await r.json(loads=orjson.loads, content_type=None)
    return {e["symbol"]: e for e in doc.get("symbols", []) if e.get("symbol") in want}


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
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        log.warning("recorder: Binance filters not recorded (%r); a replay will use defaults", exc)
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
