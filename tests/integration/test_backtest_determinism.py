"""Two backtests of the same recording and config write byte-identical evidence, whatever the
process (hash seed) they run in."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from test_backtest_session import fast_config, live_session


def test_two_replays_in_separate_processes_write_identical_evidence(tmp_path):
    rec = tmp_path / "rec"
    opps, _ = asyncio.run(live_session(fast_config(), rec, 20.0))
    cfg = tmp_path / "cfg.yml"
    cfg.write_text("symbols: [BTC, ETH]\nstrategy: {entry_edge_bps: 10, exit_edge_bps: 5, anchor_halflife_s: 8, "
                   "warmup_s: 2}\nrisk: {cooldown_after_loss_s: 0, cooldown_after_failure_s: 0}\n")
    outs = []
    for seed in ("1", "2"):
        ev = tmp_path / f"ev{seed}"
        proc = subprocess.run([sys.executable, "-m", "arbv2", "backtest", "--data", str(rec), "--config", str(cfg),
                               "--evidence-dir", str(ev), "--run-id", "same", "--no-progress"],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert proc.returncode in (0, 1), proc.stderr
        assert "frames/s" in proc.stdout
        outs.append((ev / "same.json").read_bytes())
    assert outs[0] == outs[1]
    assert b'"kind": "backtest"' in outs[0] and b'"opportunities_sha256"' in outs[0]
    assert len(opps) >= 1
