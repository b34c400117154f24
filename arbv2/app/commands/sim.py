"""`arbv2 sim`: run the local Upbit + Binance USDⓈ-M simulator until SIGINT/SIGTERM or --duration."""
from __future__ import annotations

import argparse
import asyncio
import signal

from arbv2.core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="run the local exchange simulator (Upbit + Binance USDⓈ-M)")
    p.add_argument("--upbit-port", type=int, default=9001, help="Upbit REST+WS port (0 = any free port)")
    p.add_argument("--binance-port", type=int, default=9002, help="Binance REST+WS port (0 = any free port)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--symbols", nargs="+", default=["BTC", "ETH", "XRP"], help="base assets, e.g. BTC ETH XRP")
    p.add_argument("--accounts", default=None, help="YAML list of {venue, api_key, secret, balances}")
    p.add_argument("--faults", default=None, help="YAML/JSON fault plan")
    p.add_argument("--premium-mean", type=float, default=0.02, help="level the kimchi premium reverts to")
    p.add_argument("--tick-interval", type=float, default=0.1, help="market tick in seconds")
    p.add_argument("--upbit-fill-delay", type=float, default=0.0,
                   help="seconds between Upbit's 'wait' answer and the fill (0 = the next loop turn)")
    p.add_argument("--funding-interval", type=float, default=8 * 3600.0,
                   help="seconds between funding settlements on open Binance positions (default 8 h)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from arbv2.adapters.simulator import FaultPlan, SimulatorServer, load_accounts

    try:
        accounts = load_accounts(args.accounts) if args.accounts else None
        faults = FaultPlan.load(args.faults) if args.faults else None
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"simulator: {exc}") from exc
    symbols = [s for item in args.symbols for s in item.replace(",", " ").split()]
    if args.tick_interval <= 0 or (args.duration is not None and args.duration <= 0):
        raise ConfigError("simulator: --tick-interval and --duration must be positive")
    if args.upbit_fill_delay < 0:
        raise ConfigError(f"simulator: --upbit-fill-delay must be >= 0, got {args.upbit_fill_delay}")
    if not args.funding_interval >= 0.001:
        raise ConfigError(f"simulator: --funding-interval must be >= 0.001, got {args.funding_interval}")
    sim = SimulatorServer(seed=args.seed, symbols=symbols, accounts=accounts, faults=faults,
                          premium_mean=args.premium_mean, tick_interval_s=args.tick_interval,
                          upbit_fill_delay_s=args.upbit_fill_delay, funding_interval_s=args.funding_interval)
    return asyncio.run(_serve(sim, args))


async def _serve(sim, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sim.start(host=args.host, upbit_port=args.upbit_port, binance_port=args.binance_port)
    except OSError as exc:
        print(f"arbv2 sim: cannot bind: {exc}")
        return 1
    print(f"upbit   REST {sim.upbit_url}  WS {sim.upbit_ws_url}", flush=True)
    print(f"binance REST {sim.binance_url}  WS {sim.binance_ws_url}", flush=True)
    print(f"admin   {sim.upbit_url}/_sim/...  metrics {sim.upbit_url}/metrics", flush=True)
    try:
        if args.duration is not None:
            try:
                await asyncio.wait_for(stop.wait(), timeout=args.duration)
            except asyncio.TimeoutError:
                pass
        else:
            await stop.wait()
    finally:
        await sim.stop()
    return 0
