"""`arbv2 tune`: sweep strategy parameters over a recording with walk-forward validation."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from arbv2.core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="grid-search strategy parameters, validated out of sample")
    p.add_argument("--data", required=True, help="recording directory (arbv2 record --out)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a parameter and its values, e.g. entry_edge_bps=8,10,12 or risk.cooldown_after_loss_s=0,30")
    p.add_argument("--folds", type=int, default=2, help="walk-forward folds (the data is cut in folds+1 windows)")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: min(4, CPUs))")
    p.add_argument("--config", default=None, help="base config file (YAML)")
    p.add_argument("--report", default="tune-report.json", help="JSON report path")
    p.add_argument("--out-config", default="tune-best.yml", help="where the recommended overlay is written")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from arbv2.adapters.recording.reader import read_meta, segments
    from arbv2.app.tune import default_workers, table, tune, write_overlay

    try:
        meta = read_meta(segments(args.data)[0])
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"--data: {exc}") from None
    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers must be >= 1")
    base = {"mode": "paper", "market_data": {"source": "replay", "replay_path": str(args.data)}}
    if args.config is None and meta.get("symbols"):
        base["symbols"] = meta["symbols"]
    report = tune(args.config, args.data, args.grid, folds=args.folds,
                  workers=args.workers or default_workers(), base_overlay=base)
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    print(table(report))
    print(f"report: {args.report}")
    if report["recommended_overlay"] is None:
        return 1
    print(f"overlay: {write_overlay(report['recommended_overlay'], args.out_config)}")
    return 0
