"""`arbv2 smoke`: the SmokeRunner — the engine against the simulator (execution `sim`) with the smoke gates."""
from __future__ import annotations

import argparse
import asyncio

from arbv2.app.commands.engine import add_session_args
from arbv2.app.runners import exit_code, run_session
from arbv2.core.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("smoke", help="smoke run against the simulator (default 20m) with PASS/FAIL gates")
    add_session_args(p, default_duration=20 * 60.0)
    p.add_argument("--faults", default=None, help="simulator fault plan (YAML/JSON) to survive")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    overlay: dict = {"mode": "sim", "market_data": {"source": "sim"}, "simulator": {"embedded": True}}
    if args.faults:
        overlay["simulator"]["faults_file"] = args.faults
    cfg = load_config(args.config, overlay=overlay)
    result = asyncio.run(run_session(cfg, "smoke", args.duration, status_every_s=args.status_every,
                                     evidence_dir=args.evidence_dir, faults_given=bool(args.faults)))
    return exit_code(result)
