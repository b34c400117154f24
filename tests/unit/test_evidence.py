"""The evidence document: schema-valid, deterministic, atomic, and safe with hostile run ids."""
from __future__ import annotations

import json
from decimal import Decimal

import jsonschema
import pytest

from arbv2.app import evidence
from arbv2.app.kpi import GateResult, compute_kpis, kpi_gate
from arbv2.core.config import Config, KpiConfig
from arbv2.core.model import Direction, RoundTrip, RoundTripState

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def _trips():
    out = []
    for i, (pnl, edge) in enumerate([("1200", 8.0), ("-300", -2.0), ("500", 4.5)]):
        out.append(RoundTrip(round_trip_id=f"rt{i}", symbol_base="BTC", direction=Direction.LONG_UPBIT,
                             state=RoundTripState.CLOSED, opened_ns=T0 + i, entry_premium=0.01,
                             expected_edge_bps=10.0, closed_ns=T0 + i + 1, realized_edge_bps=edge,
                             pnl_krw=Decimal(pnl), fees_krw=Decimal("90.5")))
    return out


def _doc(**over):
    cfg = Config()
    trips = _trips()
    kw = dict(run_id="smoke-20260101T000000Z-abc123", kind="smoke", started_ns=T0, ended_ns=T0 + 1_200_000_000_000,
              cfg=cfg, counts={"frames": 1000, "opportunities": 5, "trades": 3},
              round_trips=trips, latency_samples_s=[5e-6, 7e-6, 12e-6],
              gates=kpi_gate(compute_kpis(trips), cfg.kpi), extra={"seed": 7, "note": Decimal("1.5")},
              sha="0" * 40)
    kw.update(over)
    return evidence.build_evidence(**kw)


def test_document_validates_against_the_packaged_schema():
    doc = _doc()
    jsonschema.Draft202012Validator.check_schema(evidence.load_schema())
    jsonschema.validate(doc, evidence.load_schema())
    assert doc["schema_version"] == 1 and doc["verdict"] == "PASS"
    assert doc["counts"]["reconnects"] == 0 and doc["counts"]["frames"] == 1000
    assert doc["kpis"]["round_trips"] == 3 and doc["latency"]["p99_us"] == 12.0
    assert doc["started_at"] == "2026-01-01T00:00:00.000000Z" and doc["duration_s"] == 1200.0
    assert "secrets" not in doc["config"] and doc["extra"]["note"] == "1.5"


@pytest.mark.parametrize("kind", ["engine", "smoke", "paper", "backtest"])
def test_every_run_kind_the_schema_names_is_accepted(kind):
    # `arbv2 engine` writes kind "engine": build_evidence once refused it after the run
    doc = _doc(kind=kind)
    jsonschema.validate(doc, evidence.load_schema())
    assert doc["kind"] == kind
    assert set(evidence.KINDS) == set(evidence.load_schema()["properties"]["kind"]["enum"])


def test_schema_rejects_a_document_missing_a_gate_reason():
    doc = _doc()
    doc["gates"][0]["reason"] = ""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, evidence.load_schema())


def test_one_failed_gate_or_no_gate_fails_the_run():
    failing = _doc(gates=[GateResult("a", True, "ok"), GateResult("b", False, "too slow")])
    assert failing["verdict"] == "FAIL"
    assert _doc(gates=[])["verdict"] == "FAIL"
    jsonschema.validate(failing, evidence.load_schema())


def test_write_is_deterministic_and_atomic(tmp_path):
    p1 = evidence.write_evidence(_doc(), tmp_path / "a")
    p2 = evidence.write_evidence(_doc(), tmp_path / "b")
    assert p1.name == "smoke-20260101T000000Z-abc123.json"
    assert p1.read_bytes() == p2.read_bytes()
    assert [p.name for p in (tmp_path / "a").iterdir()] == [p1.name]   # no temp file left behind
    assert evidence.read_evidence("smoke-20260101T000000Z-abc123", tmp_path / "a") == json.loads(p1.read_text())
    text = p1.read_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_overwrite_replaces_the_previous_file(tmp_path):
    evidence.write_evidence(_doc(counts={"frames": 1}), tmp_path)
    path = evidence.write_evidence(_doc(counts={"frames": 2}), tmp_path)
    assert json.loads(path.read_text())["counts"]["frames"] == 2


@pytest.mark.parametrize("run_id", ["../escape", "a/b", "", ".hidden", "a..b", "x" * 200, "a b"])
def test_unsafe_run_ids_are_refused(run_id, tmp_path):
    assert not evidence.valid_run_id(run_id)
    with pytest.raises(ValueError):
        _doc(run_id=run_id)
    with pytest.raises(ValueError):
        evidence.evidence_path(run_id, tmp_path)


@pytest.mark.parametrize("over,match", [({"kind": "live"}, "kind"), ({"ended_ns": T0 - 1}, "before"),
                                        ({"counts": {"frames": -1}}, "counts.frames"),
                                        ({"counts": {"frames": 1.5}}, "counts.frames")])
def test_bad_inputs_are_named(over, match):
    with pytest.raises(ValueError, match=match):
        _doc(**over)


def test_git_sha_is_a_sha_or_unknown(tmp_path):
    assert evidence.git_sha(tmp_path) == "unknown"   # not a checkout
    sha = evidence.git_sha()
    assert sha == "unknown" or len(sha) == 40


def test_summary_names_verdict_kpis_latency_and_gates():
    doc = _doc(gates=kpi_gate(compute_kpis(_trips()), KpiConfig(min_round_trips=10)))
    text = evidence.summary_text(doc)
    assert text.splitlines()[0].startswith("smoke run smoke-20260101T000000Z-abc123: FAIL")
    assert "winrate 66.7%" in text and "p99 12.0 us" in text and "PnL 1,400 KRW" in text
    assert "[FAIL] kpi_round_trips: 3 closed round trips; target >= 10" in text
    empty = _doc(round_trips=[], latency_samples_s=None, gates=[])
    assert "winrate n/a" in evidence.summary_text(empty)
