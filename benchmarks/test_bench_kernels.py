"""Latency gate for the _fast kernels: each benchmark vs the reference in the same run.

Every test also checks that the kernel's results equal the reference's on the same stream, so
`pytest benchmarks/ --benchmark-disable` still runs each workload once as a correctness test.
Budgets live in budgets.py; numbers measured on the dev machine are in README.md.
"""
from __future__ import annotations

import numpy as np
import pytest
from budgets import MAX_RATIO, TARGET_NS, ceiling_ns
from streams import (WALK_BASE, WALK_QUOTE, Stream, fresh_book, kernel_median_ns, median_round_ns,
                      run_deltas, run_frames, run_mixed)

from arbv2._fast import book as fast_book
from arbv2._fast import reference as ref
from arbv2._fast import spread as fast_spread

ROUNDS = 7
REF_ROUNDS = 3
READS = 10_000
FX = 1400.0
PREMIUM = 1.012
pytestmark = pytest.mark.benchmark(group="kernels", max_time=0.5, min_rounds=3, warmup=False)


def _gate(benchmark, name: str, ref_fn, ref_setup, n_ops: int) -> None:
    """Assert the ratio vs the reference and the absolute ceiling (skipped when disabled)."""
    kernel = kernel_median_ns(benchmark)
    if kernel is None:
        return
    fast_ns = kernel / n_ops
    ref_ns = median_round_ns(ref_fn, ref_setup, REF_ROUNDS) / n_ops
    benchmark.extra_info.update(ns_per_op=round(fast_ns, 1), ref_ns_per_op=round(ref_ns, 1),
                                ratio=round(fast_ns / ref_ns, 3), target_ns=TARGET_NS[name])
    assert fast_ns <= ceiling_ns(name), f"{name}: {fast_ns:.0f} ns > ceiling {ceiling_ns(name):.0f} ns"
    assert fast_ns / ref_ns <= MAX_RATIO[name], f"{name}: {fast_ns:.0f} ns vs reference {ref_ns:.0f} ns"


def _contents(book) -> tuple[list, list]:
    return book.bids(10**6).tolist(), book.asks(10**6).tolist()


def _end_state(impl, s: Stream):
    book = fresh_book(impl, s)
    run_deltas(book, s.rows)
    return book


def test_single_delta_apply(benchmark, stream):
    setup_fast = lambda: ((fresh_book(fast_book, stream), stream.rows), {})  # noqa: E731
    benchmark.pedantic(run_deltas, setup=setup_fast, rounds=ROUNDS)
    assert _contents(_end_state(fast_book, stream)) == _contents(_end_state(ref, stream))
    _gate(benchmark, "delta", run_deltas, lambda: ((fresh_book(ref, stream), stream.rows), {}), len(stream.rows))


def test_batch_apply_20_level_frames(benchmark, stream):
    setup_fast = lambda: ((fresh_book(fast_book, stream), stream.frames), {})  # noqa: E731
    benchmark.pedantic(run_frames, setup=setup_fast, rounds=ROUNDS)
    book = fresh_book(fast_book, stream)
    run_frames(book, stream.frames)
    assert _contents(book) == _contents(_end_state(ref, stream))
    _gate(benchmark, "batch_level", run_frames, lambda: ((fresh_book(ref, stream), stream.frames), {}),
          len(stream.rows))


def _read_top(book) -> None:
    bid, ask = book.best_bid, book.best_ask
    for _ in range(READS):
        bid()
        ask()


def test_best_bid_ask(benchmark, stream):
    book, twin = _end_state(fast_book, stream), _end_state(ref, stream)
    benchmark.pedantic(_read_top, args=(book,), rounds=ROUNDS)
    assert (book.best_bid(), book.best_ask()) == (twin.best_bid(), twin.best_ask())
    _gate(benchmark, "top_of_book", _read_top, lambda: ((twin,), {}), READS)


def _states(impl, s: Stream, every: int = 1000) -> list:
    """Copies of the book every `every` deltas along the stream (walk lengths vary by state)."""
    book, out = fresh_book(impl, s), []
    for i in range(0, len(s.rows), every):
        run_deltas(book, s.rows[i:i + every])
        bids, asks = book.bids(10**6), book.asks(10**6)
        copy = impl.L2Book()
        copy.apply_snapshot(bids[:, 0], bids[:, 1], asks[:, 0], asks[:, 1])
        out.append(copy)
    return out


def _walk_base(books) -> None:
    walks = [b.vwap_base for b in books]
    for _ in range(READS // (2 * len(walks))):
        for walk in walks:
            walk("buy", WALK_BASE)
            walk("sell", WALK_BASE)


def _walk_quote(books) -> None:
    walks = [b.vwap_quote for b in books]
    for _ in range(READS // (2 * len(walks))):
        for walk in walks:
            walk("buy", WALK_QUOTE)
            walk("sell", WALK_QUOTE)


@pytest.mark.parametrize("name,walk,size", [("walk_base", _walk_base, WALK_BASE),
                                            ("walk_quote", _walk_quote, WALK_QUOTE)])
def test_vwap_walk_about_6_levels(benchmark, stream, name, walk, size):
    books, twins = _states(fast_book, stream), _states(ref, stream)
    benchmark.pedantic(walk, args=(books,), rounds=ROUNDS)
    method = "vwap_base" if name == "walk_base" else "vwap_quote"
    used = []
    for book, twin in zip(books, twins):
        for side in ("buy", "sell"):
            got, want = getattr(book, method)(side, size), getattr(twin, method)(side, size)
            assert np.allclose(got, want, rtol=1e-9, atol=0.0)
            used.append(got[-1])
    assert 5.0 <= float(np.mean(used)) <= 8.0       # the workload walks about six levels
    _gate(benchmark, name, walk, lambda: ((twins,), {}), READS)


def test_mixed_workload(benchmark, stream):
    setup_fast = lambda: ((fresh_book(fast_book, stream), stream.rows), {})  # noqa: E731
    benchmark.pedantic(run_mixed, setup=setup_fast, rounds=ROUNDS)
    _gate(benchmark, "mixed", run_mixed, lambda: ((fresh_book(ref, stream), stream.rows), {}),
          len(stream.rows))


UPBIT_TICK_KRW = 1000.0


def _pair(impl, s: Stream, shift: float = 1.0):
    """An Upbit KRW book (30 visible levels, 1000 KRW tick) and a Binance USDT book (1000 levels)."""
    bp, bq, ap, aq = s.snapshot
    upbit, binance = impl.L2Book(), impl.L2Book()
    mid_krw = round((bp[0] + ap[0]) / 2 * FX * PREMIUM * shift / UPBIT_TICK_KRW) * UPBIT_TICK_KRW
    steps = np.arange(30)
    upbit.apply_snapshot(mid_krw - (steps + 1) * UPBIT_TICK_KRW, bq[:30] * 0.5,
                         mid_krw + (steps + 1) * UPBIT_TICK_KRW, aq[:30] * 0.5)
    binance.apply_snapshot(bp * shift, bq, ap * shift, aq)
    return upbit, binance


KRW_SIZE = 1.2 * 100_000.0 * FX * PREMIUM   # ~1.2 BTC of Upbit asks, ~6 levels


def _quotes(impl, upbit, binance, costs) -> None:
    quote = impl.quote_spread
    for _ in range(READS // 2):
        quote(upbit, binance, FX, KRW_SIZE, True, costs, 0.01)


def test_spread_one_symbol(benchmark, stream):
    up, bn = _pair(fast_book, stream)
    rup, rbn = _pair(ref, stream)
    costs, rcosts = fast_spread.CostParams(5.0, 4.5, 1.0, 0.5), ref.CostParams(5.0, 4.5, 1.0, 0.5)
    benchmark.pedantic(_quotes, args=(fast_spread, up, bn, costs), rounds=ROUNDS)
    got = fast_spread.quote_spread(up, bn, FX, KRW_SIZE, True, costs, 0.01)
    want = ref.quote_spread(rup, rbn, FX, KRW_SIZE, True, rcosts, 0.01)
    assert np.allclose([got.entry_premium, got.exit_premium, got.edge_long_bps, got.qty_base],
                       [want.entry_premium, want.exit_premium, want.edge_long_bps, want.qty_base],
                       rtol=1e-9, atol=0.0)
    assert got.complete and want.complete
    _gate(benchmark, "spread", _quotes, lambda: ((ref, rup, rbn, rcosts), {}), READS // 2)


N_SYMBOLS = 200


def test_scan_200_symbols(benchmark, stream):
    shifts = np.linspace(0.01, 2.0, N_SYMBOLS)
    fast_pairs = [_pair(fast_book, stream, s) for s in shifts]
    ref_pairs = [_pair(ref, stream, s) for s in shifts]
    sizes = KRW_SIZE * shifts
    anchors = np.full(N_SYMBOLS, 0.01)
    costs, rcosts = fast_spread.CostParams(5.0, 4.5, 1.0), ref.CostParams(5.0, 4.5, 1.0)
    ups, bns = [p[0] for p in fast_pairs], [p[1] for p in fast_pairs]
    rups, rbns = [p[0] for p in ref_pairs], [p[1] for p in ref_pairs]
    out = np.empty((N_SYMBOLS, 7))
    args = (ups, bns, FX, sizes, True, costs, anchors, out)
    benchmark.pedantic(fast_spread.scan, args=args, rounds=ROUNDS * 5)
    want = ref.scan(rups, rbns, FX, sizes, True, rcosts, anchors)
    assert np.allclose(fast_spread.scan(*args), want, rtol=1e-9, atol=1e-12, equal_nan=True)
    _gate(benchmark, "scan_symbol", ref.scan, lambda: ((rups, rbns, FX, sizes, True, rcosts, anchors), {}),
          N_SYMBOLS)
