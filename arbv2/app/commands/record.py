"""`arbv2 record`: write both venues' raw market data to an .arbrec recording (docs/recording.md)."""
from __future__ import annotations

import argparse
import asyncio
import sys

from arbv2.core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", help="record raw market-data frames of both venues for replay")
    p.add_argument("--source", choices=("sim", "public"), default="sim",
                   help="the embedded simulator (default) or the venues' public endpoints")
    p.add_argument("--symbols", nargs="+", default=None, help="base assets, e.g. BTC ETH (default: config)")
    p.add_argument("--out", required=True, help="recording directory (created; segments are appended)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--config", default=None, help="config file (YAML)")
    p.add_argument("--segment-mb", type=float, default=64.0, help="rotate a segment past this size")
    p.add_argument("--segment-minutes", type=float, default=60.0, help="rotate a segment past this age")
    p.add_argument("--fsync", action="store_true", help="fsync every block (survives power loss, slower)")
    p.set_defaults(func=_run)


def parse_symbols(values: list[str] | None) -> list[str] | None:
    """Accept `BTC ETH`, `BTC,ETH` or a mix; None when not given."""
    if not values:
        return None
    return [s.strip().upper() for v in values for s in v.replace(",", " ").split() if s.strip()]


def _run(args: argparse.Namespace) -> int:
    from arbv2.app.recorder import record_command
    from arbv2.core.config import load_config

    if args.duration is not None and args.duration <= 0:
        raise ConfigError("record: --duration must be positive")
    if args.segment_mb <= 0 or args.segment_minutes <= 0:
        raise ConfigError("record: --segment-mb and --segment-minutes must be positive")
    overlay = {"market_data": {"source": args.source}}
    symbols = parse_symbols(args.symbols)
    if symbols:
        overlay["symbols"] = symbols
    cfg = load_config(args.config, overlay=overlay)
    res = asyncio.run(record_command(cfg, args.out, args.duration, source=args.source,
                                     max_segment_bytes=int(args.segment_mb * (1 << 20)),
                                     max_segment_age_s=args.segment_minutes * 60.0, fsync=args.fsync))
    frames = " ".join(f"{v}={n}" for v, n in sorted(res.frames.items()))
    print(f"recorded {res.records} records ({frames}, rest_book={res.snapshots}) "
          f"in {res.segments} segment(s) to {res.out}", file=sys.stdout)
    return 0 if res.records else 1
