"""`arbv2 preflight` in a subprocess: the table, the exit code and the v2_preflight.prom textfile."""
from __future__ import annotations

import os
import subprocess

from required import tool

ARBV2 = tool("arbv2")
SECRET = "binance-secret-value-e2e-42"
DEFAULT_PROM = "monitoring/textfile-collector/v2_preflight.prom"


def run(cwd, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("ARBV2_") and k not in ("DATABASE_URL", "REDIS_URL")}
    full.update(env or {})
    return subprocess.run([ARBV2, "preflight", *args], cwd=cwd, capture_output=True, text=True, env=full,
                          timeout=120)


def test_default_paper_run_passes_against_the_embedded_simulator(tmp_path):
    out = run(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "embedded simulator" in out.stdout and "markets_binance_usdm     PASS" in out.stdout
    prom = (tmp_path / DEFAULT_PROM).read_text()
    assert 'arbv2_preflight_check{check="clock_upbit"} 1' in prom
    assert "arbv2_preflight_passed 1" in prom


def test_live_without_unlock_fails_and_never_prints_secrets(tmp_path):
    env = {"ARBV2_MODE": "live", "BINANCE_API_SECRET": SECRET,
           "ARBV2_VENUES__UPBIT__REST_URL": "http://127.0.0.1:1",
           "ARBV2_VENUES__BINANCE_USDM__REST_URL": "http://127.0.0.1:1"}
    textfile = tmp_path / "out" / "pf.prom"
    out = run(tmp_path, "--textfile", str(textfile), env=env)
    assert out.returncode == 1
    assert "ARBV2_LIVE_UNLOCK is missing" in out.stdout
    assert "BINANCE_API_SECRET present" in out.stdout and "UPBIT_ACCESS_KEY missing" in out.stdout
    assert SECRET not in out.stdout + out.stderr + textfile.read_text()
    prom = textfile.read_text()
    assert 'arbv2_preflight_check{check="mode"} 0' in prom and "arbv2_preflight_passed 0" in prom


def test_invalid_config_exits_2_and_is_reported_in_the_textfile(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("risk:\n  daily_loss_limit_krw: lots\n")
    out = run(tmp_path, "--config", str(bad))
    assert out.returncode == 2
    assert "config  FAIL" in out.stdout and "risk.daily_loss_limit_krw" in out.stdout
    prom = (tmp_path / DEFAULT_PROM).read_text()
    assert 'arbv2_preflight_check{check="config"} 0' in prom and "arbv2_preflight_passed 0" in prom


def test_insane_risk_limit_fails_with_exit_1(tmp_path):
    cfg = tmp_path / "risk.yml"
    cfg.write_text("risk:\n  daily_loss_limit_krw: 0\n")
    out = run(tmp_path, "--config", str(cfg), "--textfile", str(tmp_path / "x.prom"))
    assert out.returncode == 1
    assert "risk_limits" in out.stdout and "daily_loss_limit_krw must be > 0" in out.stdout
