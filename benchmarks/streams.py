"""Seeded, realistic book streams and timing helpers for the kernel and anchor benchmarks.

The stream: a 1000-level-a-side book on a 0.1 tick around 100,000 (a BTC perp); 70 % of the
updates within 20 ticks of the touch, the rest anywhere in the book; ~35 % of updates to an
existing level delete it (so ~1000 levels a side stay present over ~1350 ticks); the mid drifts a tick at a time (3 % of steps), removing the level it
crosses. Level sizes average ~0.45, so a 2.5 BTC walk touches about 6 levels.
"""
from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

TICK = 0.1
LEVELS = 1000
N_DELTAS = 20_000
FRAME = 20
WALK_BASE = 2.5                 # BTC
WALK_QUOTE = 2.5 * 100_000.0    # USDT, the same walk sized in quote
MIXED_EVERY = 10


@dataclass(frozen=True)
class Stream:
    """A snapshot and the deltas that follow it, as arrays and as Python tuples."""

    snapshot: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    sides: np.ndarray
    prices: np.ndarray
    qtys: np.ndarray
    rows: list[tuple[int, float, float]]
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]]


def _qty(rng: random.Random) -> float:
    return round(rng.expovariate(1 / 0.45) + 0.001, 3)


def make_stream(seed: int = 7, n: int = N_DELTAS, levels: int = LEVELS) -> Stream:
    """Return a seeded stream (see the module docstring for its shape)."""
    rng = random.Random(seed)
    c = 1_000_000                        # best bid tick <= c < best ask tick
    book: list[dict[int, float]] = [{}, {}]
    for d in range(levels):
        book[0][c - d] = _qty(rng)
        book[1][c + 1 + d] = _qty(rng)
    bids = sorted(book[0].items(), reverse=True)
    asks = sorted(book[1].items())
    snapshot = (np.array([t * TICK for t, _ in bids]), np.array([q for _, q in bids]),
                np.array([t * TICK for t, _ in asks]), np.array([q for _, q in asks]))
    rows: list[tuple[int, float, float]] = []
    while len(rows) < n:
        if rng.random() < 0.03:         # mid drifts one tick; the crossed level goes
            up = rng.random() < 0.5
            side, tick = (1, c + 1) if up else (0, c)
            if book[side].pop(tick, None) is not None:
                rows.append((side, tick * TICK, 0.0))
            c += 1 if up else -1
            continue
        side = 0 if rng.random() < 0.5 else 1
        # far updates span 1.35x the depth: with 35 % deletes, ~1000 levels a side stay present
        d = rng.randrange(20) if rng.random() < 0.7 else rng.randrange(20, int(levels * 1.35))
        tick = c - d if side == 0 else c + 1 + d
        if tick in book[side] and rng.random() < 0.35:
            del book[side][tick]
            rows.append((side, tick * TICK, 0.0))
        else:
            q = _qty(rng)
            book[side][tick] = q
            rows.append((side, tick * TICK, q))
    sides = np.array([r[0] for r in rows], dtype=np.int8)
    prices = np.array([r[1] for r in rows])
    qtys = np.array([r[2] for r in rows])
    frames = [(sides[i:i + FRAME].copy(), prices[i:i + FRAME].copy(), qtys[i:i + FRAME].copy())
              for i in range(0, n, FRAME)]
    return Stream(snapshot, sides, prices, qtys, rows, frames)


def fresh_book(impl: Any, s: Stream) -> Any:
    """Return a new `impl.L2Book` loaded with the stream's snapshot."""
    book = impl.L2Book()
    book.apply_snapshot(*s.snapshot)
    return book


def run_deltas(book: Any, rows: list) -> None:
    apply = book.apply_delta
    for side, price, qty in rows:
        apply(side, price, qty)


def run_frames(book: Any, frames: list) -> None:
    apply = book.apply_deltas
    for sides, prices, qtys in frames:
        apply(sides, prices, qtys)


def run_mixed(book: Any, rows: list) -> None:
    """Every delta, plus a top-of-book read and a buy and a sell walk every MIXED_EVERY deltas."""
    apply, bid, ask, walk = book.apply_delta, book.best_bid, book.best_ask, book.vwap_base
    i = 0
    for side, price, qty in rows:
        apply(side, price, qty)
        i += 1
        if i == MIXED_EVERY:
            i = 0
            bid()
            ask()
            walk("buy", WALK_BASE)
            walk("sell", WALK_BASE)


def median_round_ns(fn: Callable[..., Any], setup: Callable[[], tuple], rounds: int) -> float:
    """Time `fn(*setup()[0])` `rounds` times (setup excluded); return the median in ns."""
    times = []
    for _ in range(rounds):
        args, kwargs = setup()
        t0 = time.perf_counter_ns()
        fn(*args, **kwargs)
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times)


def kernel_median_ns(benchmark: Any) -> float | None:
    """Return the pytest-benchmark median in ns, or None under --benchmark-disable."""
    return None if benchmark.stats is None else benchmark.stats.stats.median * 1e9
