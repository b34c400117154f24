"""Tuning on a simulator recording: the profitable regime is found out of sample, an overfit
candidate (profitable only on a one-off shock inside the fit window) is refused."""
from __future__ import annotations

import asyncio
import json

import pytest
from test_backtest_session import fast_config, live_session

from arbv2.app.commands.tune import _run as tune_command
from arbv2.app.tune import tune


@pytest.fixture(scope="module")
def shocked_recording(tmp_path_factory):
    """45 s of the sped-up simulator; at 6 s BTC's premium is forced 4 % below its mean."""
    out = tmp_path_factory.mktemp("tune") / "rec"
    asyncio.run(live_session(fast_config(), out, 45.0, shocks=[(6.0, "BTC", -0.02)]))
    return out


def test_walk_forward_recommends_the_regime_and_refuses_the_overfit(shocked_recording, tmp_path):
    grid = ["entry_edge_bps=10,250", "exit_edge_bps=5"]
    report = tune(None, shocked_recording, grid, folds=2, workers=2,
                  base_overlay={"symbols": ["BTC", "ETH"], "strategy": {"anchor_halflife_s": 8.0, "warmup_s": 2.0},
                                "risk": {"cooldown_after_loss_s": 0.0, "cooldown_after_failure_s": 0.0}})
    rows = {r["candidate"]: r for r in report["candidates"]}
    good, overfit = rows["entry_edge_bps=10,exit_edge_bps=5"], rows["entry_edge_bps=250,exit_edge_bps=5"]
    assert overfit["in_sample"]["pnl_krw"] > 0 and overfit["in_sample"]["round_trips"] >= 1
    assert overfit["out_of_sample"]["round_trips"] == 0
    assert not overfit["eligible"] and overfit["verdict"].startswith("in_sample_only")
    assert good["eligible"], good["verdict"]
    assert good["out_of_sample"]["pnl_krw"] > 0 and good["out_of_sample"]["mean_edge_bps"] > 0
    assert report["recommended"] == good["candidate"]
    assert report["recommended_overlay"] == {"strategy": {"entry_edge_bps": 10, "exit_edge_bps": 5}}
    assert len(report["windows"]) == 3 and len(report["walk_forward"]["folds"]) == 2


def test_tune_command_writes_report_and_overlay_config(shocked_recording, tmp_path, capsys):
    import argparse

    from arbv2.core.config import load_config

    cfg_path = tmp_path / "base.yml"
    cfg_path.write_text("symbols: [BTC, ETH]\nstrategy: {anchor_halflife_s: 8.0, warmup_s: 2.0}\n"
                        "risk: {cooldown_after_loss_s: 0.0, cooldown_after_failure_s: 0.0}\n")
    args = argparse.Namespace(data=str(shocked_recording), grid=["entry_edge_bps=10,250"], folds=2, workers=1,
                              config=str(cfg_path), report=str(tmp_path / "r.json"), out_config=str(tmp_path / "best.yml"))
    assert tune_command(args) == 0
    out = capsys.readouterr().out
    assert "in_sample_only" in out and "recommended: entry_edge_bps=10" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["recommended"] == "entry_edge_bps=10"
    best = load_config(tmp_path / "best.yml", env={}, dotenv_path=None)
    assert best.strategy.entry_edge_bps == 10.0
