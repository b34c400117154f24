"""The evidence document: one JSON file per engine, smoke, paper or backtest run (docs/evidence.md).

Deterministic by construction: keys sorted, no wall-clock field other than the run's own start
and end, so replaying the same inputs writes a byte-identical file. Written atomically (a
temporary file in the same directory, then os.replace), so a reader never sees half a file.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

from arbv2.adapters.common.files import atomic_write
from arbv2.app.kpi import GateResult, compute_kpis, latency_summary_us
from arbv2.core.config import Config
from arbv2.core.typed_data import to_plain
from arbv2.core.model import RoundTrip

__all__ = ["GateResult", "SCHEMA_VERSION", "STANDARD_COUNTS", "build_evidence", "evidence_path",
           "git_sha", "load_schema", "read_evidence", "summary_text", "valid_run_id", "write_evidence"]

SCHEMA_VERSION = 1
RunKind = Literal["engine", "smoke", "paper", "backtest"]
KINDS = ("engine", "smoke", "paper", "backtest")
STANDARD_COUNTS = ("frames", "opportunities", "trades", "rejects", "reconnects", "resyncs")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def valid_run_id(run_id: str) -> bool:
    """Return True for a run id that is safe as a file name (no separators, no '..')."""
    return isinstance(run_id, str) and bool(_RUN_ID.match(run_id)) and ".." not in run_id


def git_sha(cwd: str | Path | None = None) -> str:
    """Return `git rev-parse HEAD` of the checkout arbv2 runs from, or "unknown"."""
    where = Path(cwd) if cwd else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", sha) else "unknown"


def _iso(ts_ns: int) -> str:
    secs, ns = divmod(int(ts_ns), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ns // 1000:06d}Z"


def _counts(counts: Mapping[str, Any]) -> dict[str, int]:
    out = {k: 0 for k in STANDARD_COUNTS}
    for key, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"counts.{key}: must be an integer >= 0, got {value!r}")
        out[str(key)] = value
    return out


def build_evidence(*, run_id: str, kind: RunKind, started_ns: int, ended_ns: int, cfg: Config,
                   counts: Mapping[str, int], round_trips: Sequence[RoundTrip | Mapping[str, Any]],
                   latency_samples_s: Sequence[float] | None, gates: Sequence[GateResult],
                   extra: Mapping[str, Any] | None = None, sha: str | None = None) -> dict[str, Any]:
    """Return the evidence document of one run (schema_version 1).

    KPIs come from `compute_kpis(round_trips)`, latency percentiles from the cycle samples (in
    seconds); `gates` are the runner's verdicts (kpi_gate, latency_gate and its own). `sha`
    overrides the git lookup (replays of a recorded run). The verdict is PASS only when there is
    at least one gate and every gate passed.
    """
    if not valid_run_id(run_id):
        raise ValueError(f"run_id: {run_id!r} is not a safe file name ([A-Za-z0-9_.-], no '..')")
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    if ended_ns < started_ns:
        raise ValueError(f"ended_ns ({ended_ns}) is before started_ns ({started_ns})")
    gate_list = [{"name": g.name, "passed": bool(g.passed), "reason": g.reason} for g in gates]
    config = to_plain(cfg)
    config.pop("secrets", None)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "kind": kind,
        "started_ns": int(started_ns),
        "ended_ns": int(ended_ns),
        "started_at": _iso(started_ns),
        "ended_at": _iso(ended_ns),
        "duration_s": round((ended_ns - started_ns) / 1e9, 6),
        "git_sha": sha if sha is not None else git_sha(),
        "config_hash": cfg.config_hash(),
        "mode": cfg.mode,
        "market_data_source": cfg.market_data.source,
        "symbols": list(cfg.symbols),
        "counts": _counts(counts),
        "kpis": compute_kpis(round_trips),
        "latency": latency_summary_us(latency_samples_s),
        "gates": gate_list,
        "verdict": "PASS" if gate_list and all(g["passed"] for g in gate_list) else "FAIL",
        "config": config,
        "extra": json.loads(json.dumps(dict(extra or {}), default=str, sort_keys=True)),
    }


def _dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def evidence_path(run_id: str, directory: str | Path = "evidence") -> Path:
    """Return evidence/<run id>.json, refusing run ids that could escape the directory."""
    if not valid_run_id(run_id):
        raise ValueError(f"run_id: {run_id!r} is not a safe file name")
    return Path(directory) / f"{run_id}.json"


def write_evidence(doc: Mapping[str, Any], directory: str | Path = "evidence") -> Path:
    """Write the document atomically to <directory>/<run id>.json and return the path."""
    return atomic_write(evidence_path(doc["run_id"], directory), _dumps(doc).encode("utf-8"))


def read_evidence(run_id: str, directory: str | Path = "evidence") -> dict[str, Any]:
    """Return a written evidence document; FileNotFoundError when there is none."""
    return json.loads(evidence_path(run_id, directory).read_text(encoding="utf-8"))


def load_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) shipped as package data."""
    return json.loads(resources.files("arbv2.app").joinpath("evidence.schema.json").read_text("utf-8"))


def _fmt(value: Any, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def summary_text(doc: Mapping[str, Any]) -> str:
    """Return a short human summary: verdict, KPIs, latency and each gate's reason."""
    k, lat, c = doc["kpis"], doc["latency"], doc["counts"]
    lines = [
        f"{doc['kind']} run {doc['run_id']}: {doc['verdict']}  ({doc['duration_s']:.1f} s, mode {doc['mode']}, "
        f"{','.join(doc['symbols'])}, config {doc['config_hash']}, git {doc['git_sha'][:12]})",
        f"  round trips {k['round_trips']} (failed {k['round_trips_failed']}, open {k['round_trips_open']})  "
        f"winrate {_fmt(k['winrate'], '.1%')}  edge mean {_fmt(k['mean_edge_bps'], '.2f', ' bps')} "
        f"median {_fmt(k['median_edge_bps'], '.2f', ' bps')}",
        f"  PnL {k['realized_pnl_krw']:,.0f} KRW  fees {k['fees_krw']:,.0f} KRW  "
        f"max drawdown {k['max_drawdown_krw']:,.0f} KRW",
        f"  cycle latency p50 {_fmt(lat['p50_us'], '.1f', ' us')} p90 {_fmt(lat['p90_us'], '.1f', ' us')} "
        f"p99 {_fmt(lat['p99_us'], '.1f', ' us')} max {_fmt(lat['max_us'], '.1f', ' us')} (n={lat['count']})",
        "  counts " + " ".join(f"{key}={c[key]}" for key in sorted(c)),
    ]
    lines += [f"  [{'PASS' if g['passed'] else 'FAIL'}] {g['name']}: {g['reason']}" for g in doc["gates"]]
    return "\n".join(lines)
