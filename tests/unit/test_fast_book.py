"""L2 book behaviour, for the compiled kernel and the reference alike."""
import math

import numpy as np
import pytest

from arbv2._fast import book as compiled
from arbv2._fast import reference
from arbv2.core.model import Side

IMPLS = [pytest.param(compiled, id="compiled"), pytest.param(reference, id="reference")]


def _snap(impl):
    b = impl.L2Book()
    b.apply_snapshot([100.0, 99.0, 98.0], [1.0, 2.0, 3.0], [101.0, 102.0, 103.0], [1.0, 1.5, 2.0])
    return b


def _contents(b):
    return b.bids(10_000).tolist(), b.asks(10_000).tolist()


@pytest.mark.parametrize("impl", IMPLS)
def test_snapshot_then_reads(impl):
    b = _snap(impl)
    assert impl.BID == 0 and impl.ASK == 1
    assert b.best_bid() == (100.0, 1.0) and b.best_ask() == (101.0, 1.0)
    assert len(b) == 6 and b.depth(impl.BID) == 3
    assert b.bids(2).tolist() == [[100.0, 1.0], [99.0, 2.0]]
    assert b.asks(10).shape == (3, 2) and b.asks(0).shape == (0, 2)
    assert b.mid() == 100.5 and not b.is_crossed()


@pytest.mark.parametrize("impl", IMPLS)
def test_snapshot_accepts_unsorted_duplicates_and_zero_levels(impl):
    b = impl.L2Book()
    b.apply_snapshot(np.array([98.0, 100.0, 99.0, 100.0]), np.array([3.0, 1.0, 0.0, 4.0]),
                     np.array([102.0, 101.0]), np.array([1.0, 2.0]))
    assert _contents(b) == ([[100.0, 4.0], [98.0, 3.0]], [[101.0, 2.0], [102.0, 1.0]])


@pytest.mark.parametrize("impl", IMPLS)
def test_deltas_insert_update_remove(impl):
    b = _snap(impl)
    b.apply_delta(impl.BID, 100.5, 2.0)       # new best bid
    b.apply_delta(impl.ASK, 101.0, 0.0)       # remove best ask
    b.apply_delta(impl.ASK, 150.0, 0.0)       # removing a missing level: no-op
    b.apply_delta(impl.BID, 99.0, 7.0)        # update in place
    assert _contents(b) == ([[100.5, 2.0], [100.0, 1.0], [99.0, 7.0], [98.0, 3.0]],
                            [[102.0, 1.5], [103.0, 2.0]])


@pytest.mark.parametrize("impl", IMPLS)
def test_batch_and_levels_apply_in_order(impl):
    b = _snap(impl)
    b.apply_deltas(np.array([0, 1, 0, 0], dtype=np.int8), np.array([97.0, 104.0, 97.0, 100.0]),
                   np.array([1.0, 1.0, 5.0, 0.0]))
    b.apply_deltas([1], [101.5], [0.25])                       # lists and other dtypes convert
    b.apply_levels(impl.ASK, np.array([102.0, 103.0]), np.array([0.0, 9.0]))
    assert _contents(b) == ([[99.0, 2.0], [98.0, 3.0], [97.0, 5.0]],
                            [[101.0, 1.0], [101.5, 0.25], [103.0, 9.0], [104.0, 1.0]])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("price,qty", [(math.nan, 1.0), (math.inf, 1.0), (-1.0, 1.0), (0.0, 1.0),
                                       (100.0, math.nan), (100.0, -0.5), (100.0, math.inf)])
def test_bad_input_raises_and_leaves_book_unchanged(impl, price, qty):
    b = _snap(impl)
    before = _contents(b)
    with pytest.raises(ValueError):
        b.apply_delta(impl.BID, price, qty)
    with pytest.raises(ValueError):                            # first rows valid, last one bad
        b.apply_deltas(np.array([0, 1, 0], dtype=np.int8), np.array([100.5, 101.0, price]),
                       np.array([1.0, 0.0, qty]))
    with pytest.raises(ValueError):
        b.apply_levels(impl.ASK, np.array([100.7, price]), np.array([1.0, qty]))
    with pytest.raises(ValueError):
        b.apply_snapshot([50.0], [1.0], [60.0, price], [1.0, qty])
    assert _contents(b) == before


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_sides_and_lengths_raise_without_change(impl):
    b = _snap(impl)
    before = _contents(b)
    with pytest.raises(ValueError):
        b.apply_delta(2, 100.0, 1.0)
    with pytest.raises(ValueError):
        b.apply_deltas(np.array([0, 3]), np.array([100.5, 101.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError):
        b.apply_deltas(np.array([0, 1], dtype=np.int8), np.array([100.5]), np.array([1.0, 1.0]))
    assert _contents(b) == before


@pytest.mark.parametrize("impl", IMPLS)
def test_vwap_base_walks_opposite_side(impl):
    b = _snap(impl)
    # taker buy 2.0: 1.0 @ 101 + 1.0 @ 102 -> 101.5, worst 102, 2 levels
    assert b.vwap_base("buy", 2.0) == (101.5, 2.0, 102.0, 2)
    # taker sell 2.5: 1.0 @ 100 + 1.5 @ 99 -> 248.5 / 2.5 = 99.4
    avg, filled, worst, levels = b.vwap_base(Side.SELL, 2.5)
    assert avg == pytest.approx(99.4) and (filled, worst, levels) == (2.5, 99.0, 2)
    assert b.vwap_base(0, 1.0) == b.vwap_base(Side.BUY, 1.0) == (101.0, 1.0, 101.0, 1)
    partial = b.vwap_base("sell", 100.0)                       # depth runs out at 6.0
    assert partial[1] == 6.0 and partial[3] == 3
    nothing = impl.L2Book().vwap_base("buy", 1.0)
    assert nothing[1] == 0.0 and nothing[3] == 0 and math.isnan(nothing[0])


@pytest.mark.parametrize("impl", IMPLS)
def test_vwap_quote_spends_notional(impl):
    b = _snap(impl)
    # spend 305: 1.0 @ 101 (101) + 1.5 @ 102 (153) = 254, then the remaining 51 buys 51/103 @ 103
    avg, filled, spent, worst, levels = b.vwap_quote("buy", 305.0)
    assert filled == pytest.approx(1.0 + 1.5 + 51.0 / 103.0)
    assert spent == 305.0 and worst == 103.0 and levels == 3
    assert avg == pytest.approx(305.0 / filled)
    sell = b.vwap_quote("sell", 50.0)                          # 50 / 100 = 0.5 at the best bid
    assert sell == (100.0, 0.5, 50.0, 100.0, 1)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("side", ["hold", 2, None, 1.0])
def test_vwap_rejects_unknown_side_and_bad_size(impl, side):
    b = _snap(impl)
    with pytest.raises(ValueError):
        b.vwap_base(side, 1.0)
    with pytest.raises(ValueError):
        b.vwap_quote("buy", -1.0)
    with pytest.raises(ValueError):
        b.vwap_base("sell", math.nan)


@pytest.mark.parametrize("impl", IMPLS)
def test_crossed_clear_and_metadata(impl):
    b = _snap(impl)
    assert b.last_update_id == -1 and b.ts_event_ns == 0
    b.last_update_id = 42
    b.ts_event_ns = 1_700_000_000_000_000_000
    assert (b.last_update_id, b.ts_event_ns) == (42, 1_700_000_000_000_000_000)
    b.apply_delta(impl.BID, 101.0, 1.0)
    assert b.is_crossed()
    b.clear()
    assert len(b) == 0 and b.best_bid() is None and b.best_ask() is None
    assert b.last_update_id == -1 and math.isnan(b.mid()) and not b.is_crossed()


def test_compiled_book_grows_past_depth_hint():
    b = compiled.L2Book(depth_hint=4)
    prices = np.arange(1.0, 2001.0)
    b.apply_levels(compiled.BID, prices, np.ones_like(prices))
    for p in range(3000, 2000, -1):
        b.apply_delta(compiled.ASK, float(p), 1.0)
    assert b.depth(compiled.BID) == 2000 and b.depth(compiled.ASK) == 1000
    assert b.best_bid() == (2000.0, 1.0) and b.best_ask() == (2001.0, 1.0)
