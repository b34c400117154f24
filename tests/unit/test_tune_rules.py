"""Tuning helpers: grid parsing, candidates, aggregation and the out-of-sample veto."""
from __future__ import annotations

import pytest

from arbv2.app.tune import aggregate, candidates, parse_grid, verdict
from arbv2.core.errors import ConfigError


def win(pnl, n, wins, edge, dd=0.0):
    return {"pnl_krw": pnl, "round_trips": n, "wins": wins, "mean_edge_bps": edge, "max_drawdown_krw": dd,
            "failed": 0, "open": 0}


def test_grid_aliases_values_and_product():
    grid = parse_grid(["entry_edge_bps=8,10", "risk.cooldown_after_loss_s=0,30.5", "size=1000000"])
    assert grid == [("strategy.entry_edge_bps", [8, 10]), ("risk.cooldown_after_loss_s", [0, 30.5]),
                    ("sizing.order_notional_krw", [1000000])]
    cands = candidates(grid)
    assert len(cands) == 4
    assert cands[1].overlay() == {"strategy": {"entry_edge_bps": 8}, "risk": {"cooldown_after_loss_s": 30.5},
                                  "sizing": {"order_notional_krw": 1000000}}
    assert cands[1].label == "entry_edge_bps=8,cooldown_after_loss_s=30.5,order_notional_krw=1000000"
    for bad in (["entry_edge_bps"], ["=1,2"], ["entry_edge_bps=8", "strategy.entry_edge_bps=9"]):
        with pytest.raises(ConfigError):
            parse_grid(bad)


def test_aggregate_weights_edge_by_trades_and_keeps_worst_drawdown():
    a = aggregate([win(100.0, 3, 2, 10.0, 50.0), win(-20.0, 1, 0, -2.0, 80.0), win(0.0, 0, 0, None)])
    assert a["pnl_krw"] == 80.0 and a["round_trips"] == 4 and a["winrate"] == 0.5
    assert a["mean_edge_bps"] == pytest.approx(7.0) and a["max_drawdown_krw"] == 80.0
    assert a["windows_profitable"] == 1 and a["windows"] == 3


def test_verdict_vetoes_what_only_works_in_sample():
    ins = aggregate([win(500.0, 2, 2, 20.0)])
    ok, why = verdict(ins, aggregate([win(0.0, 0, 0, None)]), 1)
    assert not ok and why.startswith("in_sample_only") and "OOS round trips" in why
    ok, why = verdict(ins, aggregate([win(-10.0, 2, 1, 1.0)]), 1)
    assert not ok and "OOS PnL" in why
    ok, why = verdict(aggregate([win(-5.0, 1, 0, -1.0)]), aggregate([win(-10.0, 2, 1, 1.0)]), 1)
    assert not ok and why.startswith("rejected")
    ok, why = verdict(ins, aggregate([win(50.0, 2, 2, 3.0), win(-1.0, 1, 0, -0.5)]), 2)
    assert ok, why
    ok, _ = verdict(ins, aggregate([win(50.0, 2, 2, 3.0)]), 5)
    assert not ok
