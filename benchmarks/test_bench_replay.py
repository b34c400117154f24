"""Replay throughput: frames/s of a whole backtest (read, decompress, parse, merge, decide, risk,
paper execution) over a recorded 2-symbol simulator session, on one core.

The figure is printed; the assertion is a generous floor so a shared CI machine does not flake,
and a per-stage split shows where the time goes (docs/backtest.md keeps the measured numbers):

- read: inflate every block (CRC checked) and walk its records, as the replay driver does;
- parse + merge: every frame through the feed's per-venue `handle_frame` (decode, book update);
- engine + driver: the rest of the end-to-end time (decisions, risk, time steps, paper fills);
- no-trade: the same replay with an unreachable entry threshold, i.e. the per-frame path alone
  (every decision priced, no order sent), so the cost of paper executions shows separately.
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
from arbv2.adapters.recording.format import RECORD_HEAD, VENUES  # noqa: E402
from arbv2.adapters.recording.reader import iter_blocks, iter_frames  # noqa: E402
from arbv2.app.backtest import run_backtest  # noqa: E402

FLOOR_FRAMES_PER_S = 5_000.0


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "rec"
    asyncio.run(live_session(fast_config(), out, 15.0))
    return out


def _best_us(fn, n: int, rounds: int = 7) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best / n * 1e6


def _read(recording: Path) -> None:
    unpack, head = RECORD_HEAD.unpack_from, RECORD_HEAD.size
    for raw in iter_blocks(recording):
        pos, end = 0, len(raw)
        while pos < end:
            _ts, _venue, _kind, size = unpack(raw, pos)
            pos += head
            raw[pos:pos + size]
            pos += size


def test_replay_frames_per_second(benchmark, recording):
    cfg = fast_config()
    result = benchmark.pedantic(run_backtest, args=(cfg, recording), kwargs={"run_id": "bench", "sha": "bench"},
                                rounds=5, iterations=1, warmup_rounds=1)
    frames = result.frames
    assert frames > 300
    stats = benchmark.stats.stats if benchmark.stats is not None else None
    fps = frames / stats.median if stats is not None else result.frames_per_s
    best_fps = frames / stats.min if stats is not None else result.frames_per_s
    recs = list(iter_frames(recording))
    n = len(recs)
    read_us = _best_us(lambda: _read(recording), n)
    clock = type("C", (), {"now_ns": staticmethod(time.time_ns), "monotonic_ns": staticmethod(time.monotonic_ns)})()

    def feed_all():
        feed = MarketData(cfg, clock=clock)
        handlers = {v: feed.frame_handler(v) for v in VENUES}
        for ts, venue, _, payload in recs:
            handlers[venue](payload, ts)

    feed_us = _best_us(feed_all, n)
    no_trade = fast_config(entry_edge_bps=1e9)
    quiet = min((run_backtest(no_trade, recording, run_id="bench", sha="bench") for _ in range(5)),
                key=lambda r: r.wall_s)
    assert not quiet.opportunities
    e2e_us = 1e6 / fps
    print(f"\nreplay: {frames} frames, {fps:,.0f} frames/s end to end, median (best {best_fps:,.0f}) "
          f"({e2e_us:.1f} us/frame: "
          f"read+decompress {read_us:.1f}, parse+merge {feed_us:.1f}, "
          f"engine+driver+paper fills {e2e_us - read_us - feed_us:.1f}); "
          f"no-trade replay {quiet.frames_per_s:,.0f} frames/s ({len(result.opportunities)} decisions "
          f"and {len(result.round_trips)} round trips in the traded run)")
    assert fps > FLOOR_FRAMES_PER_S
