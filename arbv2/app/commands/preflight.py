"""`arbv2 preflight`: may this config run now? A table, an exit code and v2_preflight.prom.

With the embedded simulator as the market (mode paper or sim, market_data.source sim,
simulator.embedded), the venue checks run against an in-process simulator, as the engine would.
A config that does not load is reported as a failed `config` check in the table and the
textfile too (exit 2), so monitoring sees it.
"""
from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from arbv2.app import checks
from arbv2.app.preflight import run_preflight, textfile_rows
from arbv2.core.config import Config, load_config
from arbv2.core.errors import ConfigError

DEFAULT_TEXTFILE = "monitoring/textfile-collector/v2_preflight.prom"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preflight", help="check config, mode, secrets, stores, clocks, venues, limits")
    p.add_argument("--config", default=None, help="YAML file over the defaults")
    p.add_argument("--textfile", default=DEFAULT_TEXTFILE,
                   help=f"node-exporter textfile to write (default {DEFAULT_TEXTFILE})")
    p.set_defaults(func=run)


def uses_embedded_simulator(cfg: Config) -> bool:
    return cfg.mode in ("paper", "sim") and cfg.market_data.source == "sim" and cfg.simulator.embedded


async def _preflight(cfg: Config, source: str) -> list[checks.CheckResult]:
    if not uses_embedded_simulator(cfg):
        return await run_preflight(cfg, config_source=source)
    from arbv2.adapters.simulator import FaultPlan, SimulatorServer

    faults = FaultPlan.load(cfg.simulator.faults_file) if cfg.simulator.faults_file else None
    async with SimulatorServer(seed=cfg.simulator.seed, symbols=cfg.symbols, faults=faults,
                               premium_mean=cfg.simulator.premium_mean) as sim:
        urls = {"upbit": sim.upbit_url, "binance_usdm": sim.binance_url}
        return await run_preflight(cfg, venue_urls=urls, config_source=source + " (embedded simulator)")


def _write_textfile(path: str, results: list[checks.CheckResult]) -> None:
    from arbv2.adapters.prometheus.textfile import write_preflight_textfile

    dest = Path(path)
    (dest if dest.suffix != ".prom" else dest.parent).mkdir(parents=True, exist_ok=True)
    write_preflight_textfile(dest, textfile_rows(results), time.time())


def run(args: argparse.Namespace) -> int:
    source = args.config or "defaults"
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        results = [checks.CheckResult("config", False, str(exc))]
        checks.print_table("arbv2 preflight", results)
        _write_textfile(args.textfile, results)
        return 2
    results = asyncio.run(_preflight(cfg, source))
    checks.print_table(f"arbv2 preflight (mode {cfg.mode})", results)
    _write_textfile(args.textfile, results)
    return 0 if all(r.ok for r in results) else 1
