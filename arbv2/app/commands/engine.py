"""`arbv2 engine`: run the trading engine.

With no arguments this is the embedded default: the in-process simulator for both venues,
market data from it over real sockets, execution `sim` (the real signed adapters against
the simulator), memory stores unless DATABASE_URL / REDIS_URL are set, /metrics and the
admin API on 127.0.0.1. A --config file (or ARBV2_MODE) chooses the mode instead.
"""
from __future__ import annotations

import argparse
import asyncio
import os

from arbv2.app.runners import exit_code, run_session
from arbv2.core.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("engine", help="run the arbitrage engine (default: against the embedded simulator)")
    add_session_args(p)
    p.add_argument("--mode", choices=["paper", "sim", "live"], default=None,
                   help="execution mode (default: the config's; 'sim' when no --config is given)")
    p.set_defaults(func=run)


def add_session_args(p: argparse.ArgumentParser, default_duration: float | None = None) -> None:
    p.add_argument("--config", default=None, help="YAML file over the defaults")
    p.add_argument("--duration", type=parse_duration, default=default_duration,
                   help="stop after this long (seconds, or 90s/20m/1h); default: until Ctrl-C")
    p.add_argument("--status-every", type=float, default=5.0, help="seconds between status lines")
    p.add_argument("--evidence-dir", default="evidence", help="where the run's evidence JSON goes")


def parse_duration(text: str) -> float:
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        if text and text[-1] in units:
            value = float(text[:-1]) * units[text[-1]]
        else:
            value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use 60, 90s, 20m or 1h)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"duration must be > 0, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    overlay = {}
    if args.mode:
        overlay["mode"] = args.mode
    elif args.config is None and "ARBV2_MODE" not in os.environ:
        overlay["mode"] = "sim"   # the embedded default: real adapters against the local simulator
    cfg = load_config(args.config, overlay=overlay)
    result = asyncio.run(run_session(cfg, "engine", args.duration, status_every_s=args.status_every,
                                     evidence_dir=args.evidence_dir))
    return exit_code(result, fatal=("no_crash",))   # an engine run reports its gates; only a crash fails it
