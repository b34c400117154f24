"""Detector formulas on hand-computed books (kimchi-premium.md section 4's worked example)."""
from __future__ import annotations

import math

import pytest

from arbv2._fast import reference as ref
from arbv2.core.config import Config, SizingConfig, StrategyConfig, SymbolOverride
from arbv2.core.fees import FeeModel
from arbv2.core.model import Direction
from arbv2.core.strategy import Action, Holding, OpportunityDetector
from test_engine_fakes import NS, make_book

FX = 1440.0
T0 = 1_700_000_000 * NS
# Worked example: Upbit ask VWAP(0.1) = 145,100,000; Binance bid VWAP(0.1) = 100,000.
ENTRY_UPBIT = ([(144_900_000.0, 1.0)], [(145_000_000.0, 0.05), (145_200_000.0, 0.05), (146_000_000.0, 1.0)])
ENTRY_BINANCE = ([(100_000.0, 1.0)], [(100_010.0, 1.0)])
# Exit: Upbit bid VWAP(0.1) = 147,330,000; Binance ask VWAP(0.1) = 101,000.
EXIT_UPBIT = ([(147_330_000.0, 1.0)], [(147_400_000.0, 1.0)])
EXIT_BINANCE = ([(100_990.0, 1.0)], [(101_000.0, 1.0)])
# A warm-up market whose mid premium is the exit premium above (147.33M / (101,000 x 1440) - 1).
HIGH_UPBIT = ([(147_300_000.0, 1.0)], [(147_360_000.0, 1.0)])
HIGH_BINANCE = ([(100_990.0, 1.0)], [(101_010.0, 1.0)])
P_ENTRY = 145_100_000 / (100_000 * 1440) - 1          # 0.7639 %
P_EXIT = 147_330_000 / (101_000 * 1440) - 1           # 1.2995 %
SIZING = SizingConfig(order_notional_krw=14_510_000.0, max_order_notional_krw=20_000_000.0)
BE = 2 * 5 + 2 * 5 + 0 + 2                            # fees (taker 5 bps x 4) + safety 2


def cfg(**strategy) -> Config:
    base = dict(entry_edge_bps=10.0, exit_edge_bps=5.0, safety_margin_bps=2.0, slippage_bps=0.0,
                anchor_halflife_s=1e9, warmup_s=5.0)
    base.update(strategy)
    return Config(symbols=("BTC",), strategy=StrategyConfig(**base), sizing=SIZING)


def books(pair, ts=T0):
    (ub, ua), (bb, ba) = pair
    return make_book(ub, ua, ts), make_book(bb, ba, ts)


def detector(c: Config | None = None) -> OpportunityDetector:
    c = c or cfg()
    return OpportunityDetector(c, FeeModel.from_config(c.venues))


def warm(det: OpportunityDetector, t=T0):
    up, bn = books((HIGH_UPBIT, HIGH_BINANCE), t)
    assert det.evaluate("BTC", up, bn, FX, t) is None      # first quote: anchor starts here
    return det.anchor("BTC")


def test_worked_example_premiums_and_entry_edge():
    det = detector()
    anchor = warm(det)
    assert anchor == pytest.approx(P_EXIT, abs=1e-12)
    t = T0 + 6 * NS
    up, bn = books((ENTRY_UPBIT, ENTRY_BINANCE), T0 + 5 * NS)
    opp = det.evaluate("BTC", up, bn, FX, t)
    assert opp is not None and opp.action is Action.ENTER and opp.direction is Direction.LONG_UPBIT
    assert opp.entry_premium == pytest.approx(0.0076389, abs=1e-7)
    assert opp.entry_premium == pytest.approx(P_ENTRY, rel=1e-12)
    assert opp.qty_base == pytest.approx(0.1, rel=1e-12)
    assert opp.upbit_vwap == pytest.approx(145_100_000.0)
    assert opp.binance_vwap == pytest.approx(100_000.0)
    assert opp.upbit_worst == 145_200_000.0
    assert opp.break_even_bps == pytest.approx(BE)
    edge = (P_EXIT - P_ENTRY) * 1e4 - BE                   # 53.56 - 22 = 31.56 bps
    assert opp.edge_bps == pytest.approx(edge, rel=1e-9)
    assert opp.expected_pnl_krw == pytest.approx(edge * 1e-4 * 0.1 * 145_100_000, rel=1e-9)
    assert opp.upbit_age_ns == NS and opp.binance_age_ns == NS
    assert opp.ref_premium == pytest.approx(P_EXIT, abs=1e-12)


def test_worked_example_exit_edge():
    det = detector()
    warm(det)
    up, bn = books((EXIT_UPBIT, EXIT_BINANCE))
    hold = Holding(Direction.LONG_UPBIT, 0.1, P_ENTRY)
    opp = det.evaluate("BTC", up, bn, FX, T0 + 10 * NS, hold)
    assert opp is not None and opp.action is Action.EXIT
    assert opp.exit_premium == pytest.approx(0.012995, abs=1e-6)
    assert opp.edge_bps == pytest.approx((P_EXIT - P_ENTRY) * 1e4 - BE, rel=1e-9)
    assert opp.upbit_vwap == 147_330_000.0 and opp.binance_vwap == 101_000.0


def test_exit_waits_until_the_move_clears_costs_and_the_threshold():
    det = detector(cfg(exit_edge_bps=40.0))             # 31.56 bps net is not enough
    warm(det)
    up, bn = books((EXIT_UPBIT, EXIT_BINANCE))
    assert det.evaluate("BTC", up, bn, FX, T0 + NS, Holding(Direction.LONG_UPBIT, 0.1, P_ENTRY)) is None


def test_no_entry_during_warmup():
    det = detector()
    warm(det)
    up, bn = books((ENTRY_UPBIT, ENTRY_BINANCE))
    assert det.evaluate("BTC", up, bn, FX, T0 + 4 * NS) is None
    assert det.evaluate("BTC", up, bn, FX, T0 + 5 * NS) is not None


@pytest.mark.parametrize("threshold,fires", [(31.0, True), (32.0, False)])
def test_entry_threshold_per_symbol_override(threshold, fires):
    c = cfg()
    c = Config(symbols=("BTC",), strategy=StrategyConfig(
        **{**{f: getattr(c.strategy, f) for f in ("exit_edge_bps", "safety_margin_bps", "slippage_bps",
                                                  "anchor_halflife_s", "warmup_s")},
           "entry_edge_bps": 100.0, "overrides": {"BTC": SymbolOverride(entry_edge_bps=threshold)}}),
        sizing=SIZING)
    det = detector(c)
    warm(det)
    up, bn = books((ENTRY_UPBIT, ENTRY_BINANCE))
    assert (det.evaluate("BTC", up, bn, FX, T0 + 6 * NS) is not None) is fires


def test_funding_received_by_the_short_lowers_break_even():
    det = detector()
    det.set_funding_rate("BTC", 0.0001)                  # 1 bp per 8 h, horizon 8 h
    warm(det)
    up, bn = books((ENTRY_UPBIT, ENTRY_BINANCE))
    opp = det.evaluate("BTC", up, bn, FX, T0 + 6 * NS)
    assert opp.break_even_bps == pytest.approx(BE - 1.0)
    assert det.break_even_bps("BTC", Direction.SHORT_UPBIT) == pytest.approx(BE + 1.0)


def test_reverse_entry_only_when_allowed():
    # Anchor at the low (entry-book) mid; then the high book: sell Upbit / long perp.
    for allow in (False, True):
        det = detector(cfg(allow_reverse=allow))
        up, bn = books((ENTRY_UPBIT, ENTRY_BINANCE))
        det.evaluate("BTC", up, bn, FX, T0)
        anchor = det.anchor("BTC")
        up2, bn2 = books((EXIT_UPBIT, EXIT_BINANCE))
        opp = det.evaluate("BTC", up2, bn2, FX, T0 + 6 * NS)
        if not allow:
            assert opp is None
            continue
        assert opp.direction is Direction.SHORT_UPBIT and opp.action is Action.ENTER
        q = det.last_quote("BTC")
        assert opp.edge_bps == pytest.approx((q.exit_premium - anchor) * 1e4 - BE, rel=1e-9)
        assert not opp.upbit_buys and opp.upbit_vwap == q.upbit_sell_vwap


def test_incomplete_depth_gives_nothing():
    det = detector()
    warm(det)
    thin = ([(144_900_000.0, 1.0)], [(145_000_000.0, 0.01)])   # 1.45 M KRW of asks < 14.5 M
    up, bn = books((thin, ENTRY_BINANCE))
    assert det.evaluate("BTC", up, bn, FX, T0 + 6 * NS) is None


def test_anchor_is_an_ema_with_the_configured_half_life():
    det = detector(cfg(anchor_halflife_s=10.0))
    a0 = warm(det)
    up, bn = books((ENTRY_UPBIT, ENTRY_BINANCE))
    det.evaluate("BTC", up, bn, FX, T0 + 10 * NS)       # one half-life later
    mid = det.last_quote("BTC").mid_premium
    assert det.anchor("BTC") == pytest.approx((a0 + mid) / 2, rel=1e-12)
    det.evaluate("BTC", up, bn, FX, T0 + 10 * NS)       # same timestamp: no change
    assert det.anchor("BTC") == pytest.approx((a0 + mid) / 2, rel=1e-12)


def test_compiled_and_reference_kernels_agree():
    from arbv2._fast import COMPILED
    if not COMPILED:
        pytest.skip("compiled kernels not in use")
    results = []
    for kernel, mod in ((None, None), (ref, ref)):
        c = cfg()
        det = OpportunityDetector(c, FeeModel.from_config(c.venues), kernel=kernel)
        for (ub, ua), (bb, ba), t in ((HIGH_UPBIT, HIGH_BINANCE, T0),
                                      (ENTRY_UPBIT, ENTRY_BINANCE, T0 + 6 * NS)):
            last = det.evaluate("BTC", make_book(ub, ua, t, mod), make_book(bb, ba, t, mod), FX, t)
        results.append(last)
    assert results[0].edge_bps == pytest.approx(results[1].edge_bps, rel=1e-12)
    assert not math.isnan(results[0].edge_bps)
