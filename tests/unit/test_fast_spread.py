"""Formula verification for the spread kernel: hand-computed numbers, both implementations."""
import math

import numpy as np
import pytest

from arbv2._fast import book as compiled_book
from arbv2._fast import reference
from arbv2._fast import spread as compiled

IMPLS = [pytest.param(compiled, id="compiled"), pytest.param(reference, id="reference")]

FX = 1400.0


def _book(impl, bids, asks):
    b = (reference if impl is reference else compiled_book).L2Book()
    b.apply_snapshot([p for p, _ in bids], [q for _, q in bids], [p for p, _ in asks], [q for _, q in asks])
    return b


def _books(impl):
    # Upbit KRW and Binance USDT; hand walks for Q = 0.1 are written next to each assertion.
    upbit = _book(impl, bids=[(141_300_000, 0.06), (141_100_000, 0.2)],
                  asks=[(141_500_000, 0.05), (141_700_000, 0.10)])
    binance = _book(impl, bids=[(100_000, 0.08), (99_900, 0.5)], asks=[(100_100, 0.04), (100_200, 0.5)])
    return upbit, binance


@pytest.mark.parametrize("impl", IMPLS)
def test_break_even_counts_four_fills_and_subtracts_funding(impl):
    costs = impl.CostParams(5.0, 4.0, slippage_bps=2.0, funding_bps=3.0, safety_bps=1.0)
    assert costs.break_even_bps == pytest.approx(2 * 5 + 2 * 4 + 2 + 1 - 3)      # 18
    assert impl.CostParams(5.0, 5.0).break_even_bps == pytest.approx(20.0)       # the 0.20 % of the protocol


@pytest.mark.parametrize("impl", IMPLS)
def test_break_even_rises_with_every_fee(impl):
    base = impl.CostParams(5.0, 4.0, 1.0, 2.0, 1.0).break_even_bps
    assert impl.CostParams(6.0, 4.0, 1.0, 2.0, 1.0).break_even_bps > base
    assert impl.CostParams(5.0, 5.0, 1.0, 2.0, 1.0).break_even_bps > base
    assert impl.CostParams(5.0, 4.0, 2.0, 2.0, 1.0).break_even_bps > base
    assert impl.CostParams(5.0, 4.0, 1.0, 2.0, 2.0).break_even_bps > base
    assert impl.CostParams(5.0, 4.0, 1.0, 3.0, 1.0).break_even_bps < base


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("bad", [dict(upbit_fee_bps=-1.0), dict(binance_fee_bps=math.nan),
                                 dict(slippage_bps=math.inf), dict(funding_bps=math.nan)])
def test_cost_params_reject_bad_values(impl, bad):
    kwargs = dict(upbit_fee_bps=5.0, binance_fee_bps=4.0) | bad
    with pytest.raises(ValueError):
        impl.CostParams(**kwargs)


@pytest.mark.parametrize("impl", IMPLS)
def test_quote_by_base_size_matches_hand_computation(impl):
    upbit, binance = _books(impl)
    costs = impl.CostParams(5.0, 4.0, slippage_bps=2.0, funding_bps=3.0, safety_bps=1.0)
    q = impl.quote_spread(upbit, binance, FX, 0.1, False, costs, 0.01)
    # Upbit buy 0.1: 0.05 @ 141.5M + 0.05 @ 141.7M -> 141.6M (worst 141.7M)
    assert q.upbit_buy_vwap == pytest.approx(141_600_000.0, rel=1e-12)
    assert q.upbit_buy_worst == 141_700_000.0
    # Binance sell 0.1: 0.08 @ 100000 + 0.02 @ 99900 -> 99980
    assert q.binance_sell_vwap == pytest.approx(99_980.0, rel=1e-12)
    assert q.binance_sell_worst == 99_900.0
    # Upbit sell 0.1: 0.06 @ 141.3M + 0.04 @ 141.1M -> 141.22M
    assert q.upbit_sell_vwap == pytest.approx(141_220_000.0, rel=1e-12)
    # Binance buy 0.1: 0.04 @ 100100 + 0.06 @ 100200 -> 100160
    assert q.binance_buy_vwap == pytest.approx(100_160.0, rel=1e-12)
    assert q.binance_buy_worst == 100_200.0 and q.upbit_sell_worst == 141_100_000.0
    # entry = 141.6M / (99980 * 1400) - 1 = 141.6M / 139.972M - 1
    assert q.entry_premium == pytest.approx(0.011630897608093, rel=1e-9)
    # exit = 141.22M / (100160 * 1400) - 1 = 141.22M / 140.224M - 1
    assert q.exit_premium == pytest.approx(0.007102921040621, rel=1e-9)
    # mid = 141.4M / (100050 * 1400) - 1 = 141.4M / 140.07M - 1
    assert q.mid_premium == pytest.approx(0.009495252373813, rel=1e-9)
    assert q.break_even_bps == pytest.approx(18.0)
    # edge_long = (0.01 - 0.0116309) * 1e4 - 18; edge_short = (0.0071029 - 0.01) * 1e4 - 18
    assert q.edge_long_bps == pytest.approx(-34.30897608093, rel=1e-9)
    assert q.edge_short_bps == pytest.approx(-46.97078959379, rel=1e-9)
    assert q.qty_base == 0.1 and q.complete


@pytest.mark.parametrize("impl", IMPLS)
def test_quote_by_krw_notional_sizes_base_from_upbit_asks(impl):
    upbit, binance = _books(impl)
    # 14.16M KRW buys 0.05 @ 141.5M (7.075M KRW) then 7.085M / 141.7M = 0.05 -> Q = 0.1
    q = impl.quote_spread(upbit, binance, FX, 14_160_000.0, True, impl.CostParams(5.0, 4.0), 0.0)
    assert q.qty_base == pytest.approx(0.1, rel=1e-12)
    assert q.upbit_buy_vwap == pytest.approx(141_600_000.0, rel=1e-12)
    assert q.entry_premium == pytest.approx(0.011630897608093, rel=1e-9)
    assert q.edge_long_bps == pytest.approx(-116.30897608093 - 18.0, rel=1e-9)
    assert q.complete


@pytest.mark.parametrize("impl", IMPLS)
def test_protocol_worked_example_premiums(impl):
    # protocols/kimchi-premium.md §4: FX 1440, entry 145.1M vs 100000, exit 147.33M vs 101000.
    entry_u = _book(impl, bids=[(145_000_000, 1.0)], asks=[(145_100_000, 1.0)])
    entry_b = _book(impl, bids=[(100_000, 1.0)], asks=[(100_010, 1.0)])
    q = impl.quote_spread(entry_u, entry_b, 1440.0, 0.1, False, impl.CostParams(5.0, 5.0), 0.0)
    assert round(q.entry_premium * 100, 4) == 0.7639
    exit_u = _book(impl, bids=[(147_330_000, 1.0)], asks=[(147_400_000, 1.0)])
    exit_b = _book(impl, bids=[(100_990, 1.0)], asks=[(101_000, 1.0)])
    q = impl.quote_spread(exit_u, exit_b, 1440.0, 0.1, False, impl.CostParams(5.0, 5.0), 0.0)
    assert round(q.exit_premium * 100, 4) == 1.2995


@pytest.mark.parametrize("impl", IMPLS)
def test_thin_depth_gives_partial_vwap_and_incomplete(impl):
    upbit, binance = _books(impl)
    q = impl.quote_spread(upbit, binance, FX, 0.2, False, impl.CostParams(5.0, 4.0), 0.0)
    assert not q.complete                     # Upbit asks hold only 0.15
    assert q.upbit_buy_vwap == pytest.approx((0.05 * 141_500_000 + 0.10 * 141_700_000) / 0.15)
    assert math.isfinite(q.entry_premium)


@pytest.mark.parametrize("impl", IMPLS)
def test_empty_side_gives_nan_premiums(impl):
    upbit = _book(impl, bids=[(141_300_000, 1.0)], asks=[])
    _, binance = _books(impl)
    q = impl.quote_spread(upbit, binance, FX, 0.1, False, impl.CostParams(5.0, 4.0), 0.0)
    assert math.isnan(q.entry_premium) and math.isnan(q.edge_long_bps) and math.isnan(q.mid_premium)
    assert math.isfinite(q.exit_premium) and not q.complete
    q = impl.quote_spread(upbit, binance, FX, 1_000_000.0, True, impl.CostParams(5.0, 4.0), 0.0)
    assert q.qty_base == 0.0 and math.isnan(q.exit_premium) and not q.complete


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("args", [(0.0, 0.1, 0.0), (math.nan, 0.1, 0.0), (FX, 0.0, 0.0),
                                  (FX, -1.0, 0.0), (FX, math.inf, 0.0), (FX, 0.1, math.nan)])
def test_quote_rejects_bad_inputs(impl, args):
    upbit, binance = _books(impl)
    fx, size, anchor = args
    with pytest.raises(ValueError):
        impl.quote_spread(upbit, binance, fx, size, False, impl.CostParams(5.0, 4.0), anchor)


@pytest.mark.parametrize("impl", IMPLS)
def test_scan_rows_equal_quote_spread(impl):
    upbit, binance = _books(impl)
    empty = _book(impl, bids=[], asks=[])
    costs = impl.CostParams(5.0, 4.0, 1.0)
    sizes = np.array([0.1, 0.2, 0.1])
    anchors = np.array([0.01, 0.0, -0.002])
    out = impl.scan([upbit, upbit, empty], [binance, binance, binance], FX, sizes, False, costs, anchors)
    assert out.shape == (3, 7) and impl.SCAN_COLUMNS[impl.SCAN_EDGE_LONG] == "edge_long_bps"
    for i, (u, b) in enumerate([(upbit, binance), (upbit, binance), (empty, binance)]):
        q = impl.quote_spread(u, b, FX, sizes[i], False, costs, anchors[i])
        expect = [q.entry_premium, q.exit_premium, q.mid_premium, q.edge_long_bps,
                  q.edge_short_bps, q.qty_base, float(q.complete)]
        np.testing.assert_array_equal(out[i], expect)
    with pytest.raises(ValueError):
        impl.scan([upbit], [binance, binance], FX, [0.1], False, costs, [0.0])
