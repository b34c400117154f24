"""`arbv2 doctor`: is this installation able to run at all?"""
from __future__ import annotations

import argparse
import asyncio

from arbv2.app import checks
from arbv2.core.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check Python, compiled kernels, config, PostgreSQL, Redis, clock")
    p.add_argument("--config", default=None, help="YAML file over the defaults")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    results = asyncio.run(checks.run_checks([
        ("python", checks.check_python()),
        ("kernels", checks.check_kernels()),
        ("config", checks.check_config(cfg, args.config or "defaults")),
        ("postgres", checks.check_postgres(cfg)),
        ("redis", checks.check_redis(cfg)),
        ("clock", checks.check_clock()),
    ]))
    checks.print_table("arbv2 doctor", results)
    return 0 if all(r.ok for r in results) else 1
