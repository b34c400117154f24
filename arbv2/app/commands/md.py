"""`arbv2 md watch`: a live table of both venues' top of book, USDT/KRW, premium and feed health.

Against the embedded simulator by default (started in-process), or the real public endpoints
with `--source public` (no API keys needed). Exit 0 when every book was healthy at the end,
1 otherwise (so it doubles as a quick feed check).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from typing import Any

from arbv2.core.config import load_config
from arbv2.core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("md", help="market data tools")
    msub = p.add_subparsers(dest="md_command", metavar="ACTION")
    msub.required = True
    w = msub.add_parser("watch", help="print top of book, USDT/KRW, premium and health per symbol")
    w.add_argument("--config", default=None, help="YAML file over the defaults")
    w.add_argument("--symbols", nargs="+", default=None, help="base assets, e.g. BTC ETH (default: config)")
    w.add_argument("--source", choices=("sim", "public"), default="sim",
                   help="sim: start the simulator in-process; public: the real public feeds")
    w.add_argument("--duration", type=float, default=None, help="stop after S seconds (default: until Ctrl-C)")
    w.add_argument("--interval", type=float, default=1.0, help="seconds between tables")
    w.set_defaults(func=func)


def func(args: argparse.Namespace) -> int:
    """Run `md watch`; return 0 when every book ended healthy, else 1."""
    overlay: dict[str, Any] = {"market_data": {"source": args.source}}
    if args.symbols:
        overlay["symbols"] = [s.strip().upper() for item in args.symbols for s in item.split(",") if s.strip()]
    cfg = load_config(args.config, overlay=overlay)
    if args.interval <= 0 or (args.duration is not None and args.duration <= 0):
        raise ConfigError("md watch: --interval and --duration must be positive")
    return asyncio.run(_watch(cfg, args.duration, args.interval))


async def _watch(cfg, duration: float | None, interval: float) -> int:
    from arbv2.adapters.clock import SystemClock
    from arbv2.adapters.feeds.market_data import MarketData

    async with contextlib.AsyncExitStack() as stack:
        urls: dict[str, str] = {}
        if cfg.market_data.source == "sim":
            from arbv2.adapters.simulator import SimulatorServer

            sim = await stack.enter_async_context(SimulatorServer(
                seed=cfg.simulator.seed, symbols=cfg.symbols, premium_mean=cfg.simulator.premium_mean))
            urls = dict(upbit_url=sim.upbit_url, upbit_ws_url=sim.upbit_ws_url, binance_url=sim.binance_url,
                        binance_ws_url=sim.binance_ws_url)
        md = MarketData(cfg, clock=SystemClock(), **urls)
        stack.push_async_callback(md.close)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
        feed = asyncio.create_task(md.run(), name="md/watch")
        end = None if duration is None else time.monotonic() + duration
        try:
            while not stop.is_set() and (end is None or time.monotonic() < end):
                wait = interval if end is None else max(0.0, min(interval, end - time.monotonic()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                if feed.done():
                    feed.result()                       # surface the failure
                print(render(md), flush=True)
            healthy = all(h.healthy for h in md.all_health())
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
        if not healthy:
            print("arbv2 md watch: some books are not healthy (see the table)", file=sys.stderr)
        return 0 if healthy else 1


def _fmt(x: float | None, width: int) -> str:
    if x is None:
        return f"{'-':>{width}}"
    digits = len(str(int(abs(x)))) if abs(x) >= 1 else 0
    return f"{x:>{width},.{max(0, 8 - digits)}f}"


def render(md) -> str:
    """Return the table: per symbol both tops, premium, and each book's health."""
    fx = md.usdt_krw()
    lines = [time.strftime("%H:%M:%S") + f"  USDT/KRW {_fmt(fx, 10)}  "
             + ("(fixed)" if md.fixed_fx is not None else "(Upbit KRW-USDT mid)"),
             f"{'symbol':<7}{'upbit bid':>16}{'upbit ask':>16}{'binance bid':>16}{'binance ask':>16}"
             f"{'premium':>10}  health (upbit | binance)"]
    for base in md.cfg.symbols:
        up, bn = md.upbit.feeds[f"KRW-{base}"], md.binance.feeds[f"{base}USDT"]
        ub, ua, bb, ba = up.book.best_bid(), up.book.best_ask(), bn.book.best_bid(), bn.book.best_ask()
        p = md.premium(base)
        lines.append(f"{base:<7}{_fmt(ub and ub[0], 16)}{_fmt(ua and ua[0], 16)}{_fmt(bb and bb[0], 16)}"
                     f"{_fmt(ba and ba[0], 16)}{(f'{p * 100:+.3f}%' if p is not None else '-'):>10}  "
                     f"{_health(md, 'upbit', up.symbol)} | {_health(md, 'binance_usdm', bn.symbol)}")
    return "\n".join(lines)


def _health(md, venue: str, symbol: str) -> str:
    h = md.health(venue, symbol)
    state = "ok" if h.healthy else ("CROSSED" if h.crossed else "unsynced" if not h.synced else "STALE")
    age = f"{h.age_s:.2f}s" if h.age_s != float("inf") else "-"
    return f"{state} age {age} gaps {h.gaps} resyncs {h.resyncs}"
