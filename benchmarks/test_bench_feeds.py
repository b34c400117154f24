"""Frames/s through parse+merge, and frame-in-hand to book-updated latency, for both venues.

The streams are generated once, seeded, in the venues' exact wire formats: a Binance
`@depth@100ms` combined stream of 20-level diffs (10 bid + 10 ask levels, some deletions,
continuous U/u/pu after a 1000-level snapshot) and Upbit 30-level orderbook frames (DEFAULT
keys). Each round replays the whole stream through `MarketData.handle_frame`, the API both the
sockets and replay use. Budget: >= 100,000 frames/s per core (10 µs a frame), with a 2x
ceiling for this shared machine, and the compiled path at least 3x the orjson twin's speed.
"""
from __future__ import annotations

import random
import time

import numpy as np
import orjson
import pytest

from arbv2.adapters.binance.market_data import snapshot_frame
from arbv2.adapters.feeds import pydecode
from arbv2.adapters.feeds.market_data import MarketData
from arbv2.core.config import Config

TARGET_FRAME_NS = 10_000
CEILING_FACTOR = 2.0
MIN_SPEEDUP_VS_TWIN = 3.0
N_FRAMES = 5_000


class _Clock:
    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    async def sleep(self, seconds: float) -> None:  # never awaited here
        raise AssertionError("benchmarks do not sleep")


def binance_stream(n: int = N_FRAMES, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    mid_ticks = 670_000                                            # 67,000.0 at tick 0.1
    lid = 9_000_000_000
    snap = {"lastUpdateId": lid, "E": 1, "T": 1,
            "bids": [[f"{(mid_ticks - 1 - i) / 10:.1f}", f"{rng.uniform(0.001, 5):.3f}"] for i in range(1000)],
            "asks": [[f"{(mid_ticks + 1 + i) / 10:.1f}", f"{rng.uniform(0.001, 5):.3f}"] for i in range(1000)]}
    frames = [snapshot_frame("BTCUSDT", orjson.dumps(snap))]
    u = lid
    for k in range(n):
        U, pu, u = u + 1 - (k == 0), u - (k == 0), u + rng.randint(1, 40)
        levels = lambda sgn: [[f"{(mid_ticks + sgn * rng.randint(1, 60)) / 10:.1f}",
                               "0" if rng.random() < 0.15 else f"{rng.uniform(0.001, 5):.3f}"] for _ in range(10)]
        frames.append(orjson.dumps({"stream": "btcusdt@depth@100ms", "data": {
            "e": "depthUpdate", "E": 1_730_000_000_000 + k, "T": 1_730_000_000_000 + k, "s": "BTCUSDT",
            "U": U, "u": u, "pu": pu, "b": levels(-1), "a": levels(1)}}))
    return frames


def upbit_stream(n: int = N_FRAMES, seed: int = 2) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        mid = 145_000_000 + 1000 * rng.randint(-50, 50)
        units = [{"ask_price": float(mid + 1000 * (i + 1)), "bid_price": float(mid - 1000 * i),
                  "ask_size": round(rng.uniform(0.0001, 3), 8), "bid_size": round(rng.uniform(0.0001, 3), 8)}
                 for i in range(30)]
        out.append(orjson.dumps({"type": "orderbook", "code": "KRW-BTC", "timestamp": 1_730_000_000_000 + k,
                                 "total_ask_size": 1.0, "total_bid_size": 1.0, "orderbook_units": units,
                                 "stream_type": "REALTIME", "level": 0}))
    return out


STREAMS = {"binance_usdm": binance_stream, "upbit": upbit_stream}


@pytest.fixture(scope="module")
def streams() -> dict[str, list[bytes]]:
    return {venue: make() for venue, make in STREAMS.items()}


def _feed() -> MarketData:
    return MarketData(Config(symbols=("BTC",)), clock=_Clock())


def _replay(md: MarketData, venue: str, frames: list[bytes]) -> None:
    handle = md.handle_frame
    for raw in frames:
        handle(venue, raw, 0)


def _twin(venue: str, frames: list[bytes]) -> None:
    """The readable path: orjson + float() per level, merged level by level (the twin's cost)."""
    from arbv2._fast import book as fast_book

    book = fast_book.L2Book(1024)
    dec = pydecode.decode_binance if venue == "binance_usdm" else pydecode.decode_upbit
    for raw in frames:
        d = dec(raw)
        for side, levels in ((0, d.bids), (1, d.asks)):
            for px, qty in levels:
                book.apply_delta(side, px, qty)


@pytest.mark.parametrize("venue", list(STREAMS))
def test_parse_merge_frames_per_second(benchmark, streams, venue):
    frames = streams[venue]
    md = _feed()
    _replay(md, venue, frames)                                     # warm up; checks the stream really merges
    part = md.binance if venue == "binance_usdm" else md.upbit
    assert not part.counters.malformed and part.counters.gaps == 0
    assert md.health(venue, "BTC/USDT:USDT" if venue == "binance_usdm" else "BTC/KRW").synced
    benchmark.pedantic(_replay, args=(md, venue, frames), rounds=5)
    t0 = time.perf_counter()
    _twin(venue, frames)
    twin_ns = (time.perf_counter() - t0) * 1e9 / len(frames)
    if benchmark.stats is not None:
        per_frame_ns = benchmark.stats.stats.median * 1e9 / len(frames)
        benchmark.extra_info.update(frames_per_s=round(1e9 / per_frame_ns), ns_per_frame=round(per_frame_ns),
                                    twin_ns_per_frame=round(twin_ns))
        print(f"\n{venue}: {1e9 / per_frame_ns:,.0f} frames/s ({per_frame_ns:,.0f} ns/frame); "
              f"orjson twin {twin_ns:,.0f} ns/frame")
        assert per_frame_ns < TARGET_FRAME_NS * CEILING_FACTOR
        assert twin_ns / per_frame_ns >= MIN_SPEEDUP_VS_TWIN


@pytest.mark.parametrize("venue", list(STREAMS))
def test_frame_to_book_latency_percentiles(benchmark, streams, venue):
    """Per frame: from the frame in hand to handle_frame returning with the book updated."""
    frames = streams[venue]
    md = _feed()
    lat = np.empty(len(frames), dtype=np.int64)
    clock = time.perf_counter_ns

    def run() -> None:
        handle = md.handle_frame
        for i, raw in enumerate(frames):
            t0 = clock()
            handle(venue, raw, 0)
            lat[i] = clock() - t0

    benchmark.pedantic(run, rounds=3)
    body = lat[1:] if venue == "binance_usdm" else lat             # the 1000-level snapshot is not a diff
    p50, p99 = np.percentile(body, 50), np.percentile(body, 99)
    benchmark.extra_info.update(p50_ns=int(p50), p99_ns=int(p99))
    print(f"\n{venue}: frame-to-book latency p50 {p50 / 1e3:.2f} µs, p99 {p99 / 1e3:.2f} µs")
    assert p50 < TARGET_FRAME_NS * CEILING_FACTOR
    assert p99 < 10 * TARGET_FRAME_NS
