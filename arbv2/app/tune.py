"""Tuning: sweep strategy parameters over a recording with walk-forward validation.

The recording's span is cut into `folds + 1` equal windows. Fold i fits on window i
(in-sample) and scores on window i+1 (out-of-sample, data the fit never saw). Every candidate
is backtested on every window, in parallel processes; each window replays from the start of
the recording so its books are synced, and trades only inside the window.

A candidate is recommended only if it holds up out of sample: OOS PnL > 0, OOS mean realized
edge > 0, at least `kpi.min_round_trips` (and >= 1) OOS round trips, and a profit in at least
half of the OOS windows. A candidate profitable in-sample that fails this is marked
`in_sample_only` and is never recommended, however good its in-sample figures. Among the
eligible, the best in-sample PnL wins (the fit chooses, the holdout only vetoes), ties broken
by OOS PnL. The walk-forward figure of the procedure itself (per fold, pick the best in-sample
candidate, book its OOS result) is reported too.
"""
from __future__ import annotations

import itertools
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from arbv2.adapters.common.files import atomic_write
from arbv2.adapters.recording.reader import recording_span
from arbv2.app.backtest import iter_windows, run_backtest
from arbv2.core.config import Config, load_config
from arbv2.core.errors import ConfigError

ALIASES = {
    "entry_edge_bps": "strategy.entry_edge_bps", "exit_edge_bps": "strategy.exit_edge_bps",
    "size": "sizing.order_notional_krw", "order_notional_krw": "sizing.order_notional_krw",
    "cooldown": "risk.cooldown_after_loss_s", "cooldown_after_loss_s": "risk.cooldown_after_loss_s",
    "slippage_bps": "strategy.slippage_bps", "safety_margin_bps": "strategy.safety_margin_bps",
    "anchor_halflife_s": "strategy.anchor_halflife_s", "warmup_s": "strategy.warmup_s",
}


def parse_grid(specs: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """Parse `key=v1,v2,...` items into (dotted config path, values); aliases allowed."""
    out: list[tuple[str, list[Any]]] = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ConfigError(f"--grid {spec!r}: expected key=v1,v2,...")
        path = ALIASES.get(key, key)
        vals = [yaml.safe_load(v.strip()) for v in values.split(",") if v.strip()]
        if any(p == path for p, _ in out):
            raise ConfigError(f"--grid {key}: given twice")
        out.append((path, vals))
    if not out:
        raise ConfigError("tune: give at least one --grid key=v1,v2,...")
    return out


def _nest(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path, value in pairs:
        node = root
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return root


@dataclass(frozen=True, slots=True)
class Candidate:
    params: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        return ",".join(f"{p.rsplit('.', 1)[-1]}={v}" for p, v in self.params)

    def overlay(self) -> dict[str, Any]:
        return _nest(self.params)


def candidates(grid: list[tuple[str, list[Any]]]) -> list[Candidate]:
    paths = [p for p, _ in grid]
    return [Candidate(tuple(zip(paths, combo))) for combo in itertools.product(*(v for _, v in grid))]


def _job(args: tuple[Config, str, int, int, str]) -> dict[str, Any]:
    cfg, data, start, end, run_id = args
    doc = run_backtest(cfg, data, start_ns=start, end_ns=end, run_id=run_id, sha="tune").doc
    k = doc["kpis"]
    return {"pnl_krw": k["realized_pnl_krw"], "round_trips": k["round_trips"], "wins": k["wins"],
            "mean_edge_bps": k["mean_edge_bps"], "max_drawdown_krw": k["max_drawdown_krw"],
            "failed": k["round_trips_failed"], "open": k["round_trips_open"],
            "opportunities": doc["counts"]["opportunities"]}


def aggregate(windows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Combine per-window results: sums, trade-weighted mean edge, the worst window drawdown."""
    n = sum(w["round_trips"] for w in windows)
    wins = sum(w["wins"] for w in windows)
    edge_n = sum(w["round_trips"] for w in windows if w["mean_edge_bps"] is not None)
    edge = (sum(w["mean_edge_bps"] * w["round_trips"] for w in windows if w["mean_edge_bps"] is not None)
            / edge_n) if edge_n else None
    return {"pnl_krw": round(sum(w["pnl_krw"] for w in windows), 4), "round_trips": n,
            "winrate": round(wins / n, 6) if n else None,
            "mean_edge_bps": round(edge, 4) if edge is not None else None,
            "max_drawdown_krw": max((w["max_drawdown_krw"] for w in windows), default=0.0),
            "failed": sum(w["failed"] for w in windows), "windows_profitable": sum(w["pnl_krw"] > 0 for w in windows),
            "windows": len(windows)}


def verdict(ins: Mapping[str, Any], oos: Mapping[str, Any], min_round_trips: int) -> tuple[bool, str]:
    """Return (eligible, reason) by the out-of-sample rules in the module docstring."""
    need = max(1, min_round_trips)
    if oos["round_trips"] < need:
        why = f"{oos['round_trips']} OOS round trips < {need}"
    elif oos["pnl_krw"] <= 0:
        why = f"OOS PnL {oos['pnl_krw']:,.0f} KRW <= 0"
    elif oos["mean_edge_bps"] is None or oos["mean_edge_bps"] <= 0:
        why = f"OOS mean edge {oos['mean_edge_bps']} bps <= 0"
    elif oos["windows_profitable"] * 2 < oos["windows"]:
        why = f"profitable in only {oos['windows_profitable']}/{oos['windows']} OOS windows"
    else:
        return True, "holds up out of sample"
    prefix = "in_sample_only: " if ins["pnl_krw"] > 0 else "rejected: "
    return False, prefix + why


def tune(base_cfg_path: str | None, data: str | Path, grid_specs: Sequence[str], *, folds: int = 2,
         workers: int = 1, base_overlay: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run the sweep and return the report (see the module docstring for the rules)."""
    if folds < 1:
        raise ConfigError("tune: --folds must be >= 1")
    grid = parse_grid(grid_specs)
    cands = candidates(grid)
    cfgs = [load_config(base_cfg_path, overlay=_merge(dict(base_overlay or {}), c.overlay())) for c in cands]
    first, last, _ = recording_span(data)
    windows = list(iter_windows(first, last, folds + 1))
    jobs = [(cfg, str(data), w0, w1, f"tune-{ci}-{wi}") for ci, cfg in enumerate(cfgs)
            for wi, (w0, w1) in enumerate(windows)]
    if workers <= 1:
        results = [_job(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            results = list(pool.map(_job, jobs))
    per = {ci: results[ci * len(windows):(ci + 1) * len(windows)] for ci in range(len(cands))}
    min_rt = cfgs[0].kpi.min_round_trips
    rows = []
    for ci, c in enumerate(cands):
        ws = per[ci]
        ins, oos = aggregate(ws[:folds]), aggregate(ws[1:folds + 1])
        ok, why = verdict(ins, oos, min_rt)
        rows.append({"candidate": c.label, "overlay": c.overlay(), "in_sample": ins, "out_of_sample": oos,
                     "eligible": ok, "verdict": why, "windows": ws})
    eligible = [r for r in rows if r["eligible"]]
    best = max(eligible, key=lambda r: (r["in_sample"]["pnl_krw"], r["out_of_sample"]["pnl_krw"]), default=None)
    wf = []
    for f in range(folds):
        pick = max(range(len(cands)), key=lambda ci: (per[ci][f]["pnl_krw"], -ci))
        wf.append({"fold": f, "chosen": cands[pick].label, "in_sample": per[pick][f], "out_of_sample": per[pick][f + 1]})
    return {"data": str(data), "folds": folds, "windows": [{"start_ns": a, "end_ns": b} for a, b in windows],
            "grid": {p: v for p, v in grid}, "candidates": rows,
            "walk_forward": {"folds": wf, "out_of_sample": aggregate([x["out_of_sample"] for x in wf])},
            "recommended": best["candidate"] if best else None,
            "recommended_overlay": best["overlay"] if best else None}


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            base[k] = _merge(dict(base[k]), v)
        else:
            base[k] = v
    return base


def table(report: Mapping[str, Any]) -> str:
    """Return the candidates as a fixed-width text table (IS vs OOS)."""
    head = (f"{'candidate':<44} {'IS pnl':>12} {'IS n':>5} {'IS win':>7} {'OOS pnl':>12} {'OOS n':>6} "
            f"{'OOS win':>8} {'OOS edge':>9} {'OOS dd':>10}  verdict")
    lines = [head, "-" * len(head)]

    def pct(x):
        return "n/a" if x is None else f"{x:.0%}"

    for r in report["candidates"]:
        i, o = r["in_sample"], r["out_of_sample"]
        edge = "n/a" if o["mean_edge_bps"] is None else f"{o['mean_edge_bps']:.1f}"
        mark = "*" if r["candidate"] == report["recommended"] else " "
        lines.append(f"{mark}{r['candidate']:<43} {i['pnl_krw']:>12,.0f} {i['round_trips']:>5} {pct(i['winrate']):>7} "
                     f"{o['pnl_krw']:>12,.0f} {o['round_trips']:>6} {pct(o['winrate']):>8} {edge:>9} "
                     f"{o['max_drawdown_krw']:>10,.0f}  {r['verdict']}")
    wf = report["walk_forward"]["out_of_sample"]
    lines.append(f"walk-forward (best in-sample per fold, scored OOS): PnL {wf['pnl_krw']:,.0f} KRW over "
                 f"{wf['round_trips']} round trips")
    lines.append(f"recommended: {report['recommended'] or 'none (no candidate holds up out of sample)'}")
    return "\n".join(lines)


def write_overlay(overlay: Mapping[str, Any], path: str | Path) -> Path:
    """Write the chosen overlay as a config file that `--config` (or load_config) accepts."""
    text = "# written by `arbv2 tune`: the recommended overlay\n" + yaml.safe_dump(dict(overlay), sort_keys=True)
    return atomic_write(path, text.encode("utf-8"))


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 1)))


__all__ = ["ALIASES", "Candidate", "aggregate", "candidates", "default_workers", "parse_grid", "table",
           "tune", "verdict", "write_overlay"]
