"""Issue #10: the SmokeRunner and PaperRunner as the real `arbv2` console script.

1. `arbv2 smoke --duration 60 --faults tests/e2e/faults/smoke_survivable.yml` (WS drops every
   15 s, pu gaps, malformed and reordered frames, 429s, a tenth of orders rejected) against the
   embedded simulator, trading (low thresholds), with the PostgreSQL trade store in a fresh schema
   and Redis under a fresh prefix: exit 0, evidence valid against the schema, every smoke gate
   PASS, and the counts show the faults really hit (reconnects, resyncs, gaps, malformed frames)
   while orders really went out (the reconciliation gate checked some). How many orders, and
   whether one was rejected, is chance: a rejected unwind leaves a residual over
   risk.max_residual_krw and the engine (rightly) opens nothing more, so only "at least one
   entry reached both venues" is required.
2. A fault the engine must not survive (every Binance depth event withheld): exit 1,
   books_synced FAIL naming exactly the three Binance books, on stderr and in the evidence.
3. `arbv2 paper --duration 20`: evidence with the KPI gates measured and explained, exit code
   matching the gates.

Cycle latency: the live-run budget is 1 ms at p99 of wall-clock cycles. On a shared 2-core CI box
other processes preempt the engine for whole scheduler slices (2-12 ms), and when more than 1 %
of cycles are hit the p99 is a slice, not the engine. The smoke therefore judges p99 against a
CI budget of 20 ms (still catching a blocking call on the hot path) and the test asserts the p90
against the 1 ms live budget, which preemption does not reach.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers_engine import FAULTS_DIR, TRADING, gates, read_evidence, schema_errors, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SMOKE_GATES = {"no_crash", "books_synced", "orders_reconciled", "cycle_latency_p99", "faults_survived"}
CI_P99_BUDGET_US = 20_000.0
LIVE_BUDGET_US = 1_000.0
BINANCE_BOOKS = ("binance_usdm BTC/USDT:USDT", "binance_usdm ETH/USDT:USDT", "binance_usdm XRP/USDT:USDT")


def _run(procs, name: str, args: list[str], tmp_path: Path, timeout_s: float, **env: str):
    proc = procs.start(name, [procs.arbv2, *args], env=procs.env(**env), cwd=tmp_path)
    code = proc.wait(timeout_s)
    return code, proc.stdout(), proc.stderr()


def test_smoke_60s_with_faults_passes_every_gate(procs, tmp_path, pg_schema_dsn, redis_url, redis_prefix):
    cfg = write_config(tmp_path / "smoke.yml", TRADING, {
        "server": {"port": 0},
        "storage": {"redis_prefix": redis_prefix},
        "kpi": {"cycle_p99_budget_us": CI_P99_BUDGET_US},
    })
    evidence = tmp_path / "evidence"
    code, out, err = _run(procs, "smoke", ["smoke", "--config", str(cfg), "--duration", "60",
                                           "--faults", str(FAULTS_DIR / "smoke_survivable.yml"),
                                           "--evidence-dir", str(evidence), "--status-every", "10"],
                          tmp_path, 150, DATABASE_URL=pg_schema_dsn, REDIS_URL=redis_url)
    doc = read_evidence(evidence)
    summary = f"exit {code}\n{out[-3000:]}\nstderr tail:\n{err[-3000:]}"
    assert schema_errors(doc) == [], summary
    by_name = gates(doc)
    assert set(by_name) == SMOKE_GATES, summary
    failed = {n: g["reason"] for n, g in by_name.items() if not g["passed"]}
    assert failed == {}, summary
    assert code == 0 and doc["verdict"] == "PASS", summary
    assert f"evidence: {evidence / doc['run_id']}.json" in out
    assert doc["kind"] == "smoke" and doc["mode"] == "sim" and 59 <= doc["duration_s"] < 75

    counts = doc["counts"]
    # the faults hit: every connection dropped ~4 times, pu gaps forced resyncs, junk frames skipped
    assert counts["reconnects"] >= 4, counts
    assert counts["resyncs"] > 0 and counts["gaps"] > 0, counts
    assert counts["malformed_frames"] > 0, counts
    assert counts["frames"] > 1000, counts
    # ... while the engine traded: the reconciliation gate compared real orders with the store
    orders = int(re.match(r"(\d+) orders at the simulator", by_name["orders_reconciled"]["reason"]).group(1))
    assert orders >= 2, by_name["orders_reconciled"]
    assert doc["kpis"]["round_trips_started"] >= 1, doc["kpis"]
    assert "books synced=True" in by_name["faults_survived"]["reason"]
    lat = doc["latency"]
    assert lat["count"] > 1000 and lat["p90_us"] <= LIVE_BUDGET_US, lat
    assert "Traceback" not in err and "gate " not in err, err[-3000:]


def test_smoke_fails_books_synced_when_binance_depth_is_silent(procs, tmp_path):
    cfg = write_config(tmp_path / "smoke.yml", {"server": {"port": 0}})
    evidence = tmp_path / "evidence"
    code, out, err = _run(procs, "smoke-broken", ["smoke", "--config", str(cfg), "--duration", "14",
                                                  "--faults", str(FAULTS_DIR / "binance_depth_silent.yml"),
                                                  "--evidence-dir", str(evidence)], tmp_path, 90)
    doc = read_evidence(evidence)
    assert schema_errors(doc) == []
    by_name = gates(doc)
    summary = f"exit {code}\n{out[-2000:]}\nstderr tail:\n{err[-2000:]}"
    assert code == 1 and doc["verdict"] == "FAIL", summary
    books = by_name["books_synced"]
    assert books["passed"] is False
    assert books["reason"] == "never synced: " + ", ".join(BINANCE_BOOKS)   # the Upbit books did sync
    assert f"gate books_synced: FAIL: {books['reason']}" in err.splitlines()
    assert by_name["faults_survived"]["passed"] is False
    assert by_name["no_crash"]["passed"] is True        # it failed the gate, it did not crash
    # nothing traded on half a market, and the silence was noticed (the feed reconnected)
    assert doc["kpis"]["round_trips_started"] == 0
    assert doc["counts"]["reconnects"] >= 1, doc["counts"]
    failed_on_stderr = {line.split(":")[0].removeprefix("gate ") for line in err.splitlines()
                        if line.startswith("gate ") and ": FAIL: " in line}
    assert failed_on_stderr == {n for n, g in by_name.items() if not g["passed"]}


def test_paper_run_reports_kpi_gates_and_exits_by_them(procs, tmp_path):
    cfg = write_config(tmp_path / "paper.yml", TRADING, {"server": {"port": 0}})
    evidence = tmp_path / "evidence"
    code, out, err = _run(procs, "paper", ["paper", "--config", str(cfg), "--duration", "20",
                                           "--evidence-dir", str(evidence)], tmp_path, 90)
    doc = read_evidence(evidence)
    summary = f"exit {code}\n{out[-2000:]}\nstderr tail:\n{err[-2000:]}"
    assert schema_errors(doc) == [], summary
    assert doc["kind"] == "paper" and doc["mode"] == "paper"
    by_name = gates(doc)
    assert {"no_crash", "kpi_winrate", "kpi_mean_edge", "kpi_round_trips", "cycle_latency_p99"} <= set(by_name)
    kpis = doc["kpis"]
    assert kpis["round_trips"] >= 1, (kpis, summary)    # measured, not "unmeasured"
    # each reason names the measured value (consistent with the KPIs) and the target
    m = re.fullmatch(r"winrate ([\d.]+)% over (\d+) round trips; target \[50%, 80%\]", by_name["kpi_winrate"]["reason"])
    assert m and int(m.group(2)) == kpis["round_trips"], by_name["kpi_winrate"]
    assert abs(float(m.group(1)) / 100 - kpis["winrate"]) < 0.001
    m = re.fullmatch(r"mean realized edge (-?[\d.]+) bps; target > 0 bps", by_name["kpi_mean_edge"]["reason"])
    assert m and abs(float(m.group(1)) - kpis["mean_edge_bps"]) < 0.01, by_name["kpi_mean_edge"]
    assert by_name["kpi_round_trips"]["reason"] == f"{kpis['round_trips']} closed round trips; target >= 1"
    assert by_name["kpi_round_trips"]["passed"] is True
    assert by_name["kpi_winrate"]["passed"] is (0.5 <= kpis["winrate"] <= 0.8)
    assert by_name["kpi_mean_edge"]["passed"] is (kpis["mean_edge_bps"] > 0)
    assert by_name["cycle_latency_p99"]["passed"] is (doc["latency"]["p99_us"] <= 1000.0)
    all_passed = all(g["passed"] for g in by_name.values())
    assert doc["verdict"] == ("PASS" if all_passed else "FAIL")
    assert code == (0 if all_passed else 1), summary
    for name, g in by_name.items():
        assert (f"gate {name}: FAIL: {g['reason']}" in err) is (not g["passed"]), (name, err[-2000:])
