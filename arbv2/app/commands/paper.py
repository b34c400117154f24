"""`arbv2 paper`: the PaperRunner — paper execution (MockAdapter fills on the live books) with the KPI gate."""
from __future__ import annotations

import argparse
import asyncio

from arbv2.app.commands.engine import add_session_args
from arbv2.app.runners import exit_code, run_session
from arbv2.core.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("paper", help="paper trading run (default 1h) judged by the KPI gate")
    add_session_args(p, default_duration=3600.0)
    p.add_argument("--source", choices=["sim", "public"], default="sim",
                   help="market data: the embedded simulator or the real public feeds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, overlay={"mode": "paper", "market_data": {"source": args.source}})
    result = asyncio.run(run_session(cfg, "paper", args.duration, status_every_s=args.status_every,
                                     evidence_dir=args.evidence_dir))
    return exit_code(result)
