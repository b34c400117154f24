"""Replay throughput: frames/s of a whole backtest (read, decompress, parse, merge, decide, risk,
paper execution) over a recorded 2-symbol simulator session, on one core.

The figure is printed; the assertion is a generous floor so a shared CI machine does not flake,
and a per-stage split shows where the time goes (docs/backtest.md keeps the measured numbers).
"""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from test_backtest_session import fast_config, live_session  # noqa: E402

from arbv2.adapters.feeds.market_data import MarketData  # noqa: E402
from arbv2.adapters.recording.reader import iter_frames  # noqa: E402
from arbv2.app.backtest import run_backtest  # noqa: E402

FLOOR_FRAMES_PER_S = 5_000.0


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "rec"
    asyncio.run(live_session(fast_config(), out, 15.0))
    return out


def test_replay_frames_per_second(benchmark, recording):
    cfg = fast_config()
    result = benchmark.pedantic(run_backtest, args=(cfg, recording), kwargs={"run_id": "bench", "sha": "bench"},
                                rounds=5, iterations=1, warmup_rounds=1)
    frames = result.frames
    assert frames > 300
    fps = frames / benchmark.stats.stats.median if benchmark.stats is not None else result.frames_per_s
    t = time.perf_counter()
    n = sum(1 for _ in iter_frames(recording))
    read_us = (time.perf_counter() - t) / n * 1e6
    feed = MarketData(cfg, clock=type("C", (), {"now_ns": staticmethod(time.time_ns)})())
    recs = list(iter_frames(recording))
    t = time.perf_counter()
    for ts, venue, _, payload in recs:
        feed.handle_frame(venue, payload, ts)
    feed_us = (time.perf_counter() - t) / n * 1e6
    print(f"\nreplay: {frames} frames, {fps:,.0f} frames/s end to end "
          f"(read+decompress {read_us:.1f} us/frame, parse+merge {feed_us:.1f} us/frame, "
          f"rest = engine cycle + driver)")
    assert fps > FLOOR_FRAMES_PER_S
