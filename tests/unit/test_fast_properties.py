"""Hypothesis: random snapshot + delta streams through the compiled kernels and the reference.

Book contents must be identical after every step; walks, consolidated books and spread quotes
must agree within 1e-9 relative. Prices sit on a coarse tick grid so updates collide with
existing levels (updates, deletions of present and absent levels) as they do on a real feed.
"""
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from arbv2._fast import book as cbook
from arbv2._fast import consolidated as ccons
from arbv2._fast import reference as ref
from arbv2._fast import spread as cspread

prices = st.integers(1, 120).map(lambda t: t * 0.25)
qtys = st.one_of(st.just(0.0), st.floats(1e-6, 50.0, allow_nan=False), st.sampled_from([0.1, 1.0, 2.5]))
levels = st.lists(st.tuples(prices, qtys), max_size=40)
bad_values = st.sampled_from([math.nan, math.inf, -1.0])

delta_op = st.tuples(st.just("delta"), st.integers(0, 1), prices, qtys)
batch_op = st.tuples(st.just("batch"), st.lists(st.tuples(st.integers(0, 1), prices, qtys), max_size=25))
levels_op = st.tuples(st.just("levels"), st.integers(0, 1), levels)
snapshot_op = st.tuples(st.just("snapshot"), levels, levels)
bad_op = st.tuples(st.just("bad"), st.lists(st.tuples(st.integers(0, 1), prices, qtys), max_size=5), bad_values)
ops = st.lists(st.one_of(delta_op, delta_op, batch_op, levels_op, snapshot_op, bad_op), max_size=40)
# Sizes are 0 or >= 1e-9: a subnormal size underflows price * size to 0 in both implementations.
walk_sizes = st.lists(st.one_of(st.floats(1e-9, 200.0), st.sampled_from([0.0, 0.1, 1.0])), min_size=1, max_size=4)


def _arrays(rows):
    if not rows:
        return np.empty(0), np.empty(0)
    p, q = zip(*rows)
    return np.array(p, dtype=np.float64), np.array(q, dtype=np.float64)


def _apply(book, op):
    kind = op[0]
    if kind == "delta":
        book.apply_delta(op[1], op[2], op[3])
    elif kind == "batch":
        rows = op[1]
        book.apply_deltas(np.array([r[0] for r in rows], dtype=np.int8), *_arrays([r[1:] for r in rows]))
    elif kind == "levels":
        book.apply_levels(op[1], *_arrays(op[2]))
    elif kind == "snapshot":
        book.apply_snapshot(*_arrays(op[1]), *_arrays(op[2]))
    else:                                   # a valid batch with one poisoned row at the end
        rows = op[1] + [(0, 10.0, op[2])]
        with pytest.raises(ValueError):
            book.apply_deltas(np.array([r[0] for r in rows], dtype=np.int8), *_arrays([r[1:] for r in rows]))


def _same_walk(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, float) and math.isnan(x):
            assert math.isnan(y)
        else:
            assert x == pytest.approx(y, rel=1e-9, abs=1e-12)


def _pair(snapshot, stream):
    c, r = cbook.L2Book(depth_hint=8), ref.L2Book()
    for book in (c, r):
        book.apply_snapshot(*_arrays(snapshot[0]), *_arrays(snapshot[1]))
    for op in stream:
        _apply(c, op)
        _apply(r, op)
        assert c.bids(10_000).tolist() == r.bids(10_000).tolist()
        assert c.asks(10_000).tolist() == r.asks(10_000).tolist()
    return c, r


@settings(max_examples=150, deadline=None)
@given(snapshot=st.tuples(levels, levels), stream=ops, sizes=walk_sizes)
@example(snapshot=([(1.0, 1.0)], []), stream=[("delta", 0, 1.0, 0.0), ("delta", 0, 1.0, 0.0)], sizes=[1.0])
def test_book_stream_and_walks_match_reference(snapshot, stream, sizes):
    c, r = _pair(snapshot, stream)
    assert len(c) == len(r) and c.best_bid() == r.best_bid() and c.best_ask() == r.best_ask()
    assert c.is_crossed() == r.is_crossed()
    for size in sizes:
        for side in ("buy", "sell"):
            _same_walk(c.vwap_base(side, size), r.vwap_base(side, size))
            _same_walk(c.vwap_quote(side, size * 10.0), r.vwap_quote(side, size * 10.0))
            avg, filled, worst, used = c.vwap_base(side, size)
            if filled > 0.0:                # VWAP lies between the best and the last touched price
                best = (c.best_ask() if side == "buy" else c.best_bid())[0]
                lo, hi = min(best, worst), max(best, worst)
                assert lo * (1 - 1e-12) <= avg <= hi * (1 + 1e-12)
            total = sum(q for _, q in (c.asks(10_000) if side == "buy" else c.bids(10_000)))
            assert filled <= max(size, 0.0) and filled <= total * (1 + 1e-12)


@settings(max_examples=80, deadline=None)
@given(books=st.lists(st.tuples(levels, levels), min_size=1, max_size=4),
       mults=st.lists(st.floats(1e-4, 1e4), min_size=4, max_size=4),
       qmults=st.lists(st.sampled_from([1.0, 1000.0, 0.5]), min_size=4, max_size=4),
       n=st.integers(0, 60))
def test_consolidated_matches_reference(books, mults, qmults, n):
    cs, rs = [], []
    for bids, asks in books:
        c, r = _pair((bids, asks), [])
        cs.append(c)
        rs.append(r)
    m = len(books)
    got = ccons.consolidate(cs, np.array(mults[:m]), n, np.array(qmults[:m]))
    want = ref.consolidate(rs, mults[:m], n, qmults[:m])
    for g, w in zip(got, want):
        assert g.tolist() == w.tolist()
    bids, _, asks, _ = got
    assert np.all(np.diff(bids[:, 0]) <= 0) and np.all(np.diff(asks[:, 0]) >= 0)


@settings(max_examples=100, deadline=None)
@given(upbit=st.tuples(levels, levels), binance=st.tuples(levels, levels),
       size=st.floats(0.01, 100.0), in_quote=st.booleans(), fx=st.floats(0.5, 2000.0),
       anchor=st.floats(-0.05, 0.05), fees=st.tuples(st.floats(0, 10), st.floats(0, 10), st.floats(-5, 5)))
def test_quote_spread_matches_reference(upbit, binance, size, in_quote, fx, anchor, fees):
    cu, ru = _pair(upbit, [])
    cb, rb = _pair(binance, [])
    cq = cspread.quote_spread(cu, cb, fx, size, in_quote, cspread.CostParams(fees[0], fees[1], funding_bps=fees[2]), anchor)
    rq = ref.quote_spread(ru, rb, fx, size, in_quote, ref.CostParams(fees[0], fees[1], funding_bps=fees[2]), anchor)
    names = [f for f in ref.SpreadQuote.__dataclass_fields__ if f != "complete"]
    _same_walk(tuple(getattr(cq, f) for f in names), tuple(getattr(rq, f) for f in names))
    assert cq.complete == rq.complete
