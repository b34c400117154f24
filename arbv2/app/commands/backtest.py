"""`arbv2 backtest`: replay a recording through the engine and write the standard evidence."""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from arbv2.core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backtest", help="replay a recording through detector, risk and paper execution")
    p.add_argument("--data", required=True, help="recording directory (arbv2 record --out)")
    p.add_argument("--config", default=None, help="config file (YAML); a tune overlay works here")
    p.add_argument("--from", dest="start", default=None,
                   help="trade from this time (ISO-8601 UTC or epoch ns); earlier frames only build books")
    p.add_argument("--to", dest="end", default=None, help="stop at this time (ISO-8601 UTC or epoch ns)")
    p.add_argument("--latency-ms-upbit", type=float, default=None, help="order latency to Upbit (paper fills)")
    p.add_argument("--latency-ms-binance", type=float, default=None, help="order latency to Binance")
    p.add_argument("--evidence-dir", default="evidence", help="where the evidence JSON goes")
    p.add_argument("--run-id", default=None, help="evidence run id (default: derived from config and data)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=_run)


def parse_time(value: str | None) -> int | None:
    """Return epoch ns from an integer (ns) or an ISO-8601 time (UTC when no zone is given)."""
    if value is None:
        return None
    v = value.strip()
    if v.isdigit():
        return int(v)
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"time: {value!r} is neither epoch ns nor ISO-8601") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def _run(args: argparse.Namespace) -> int:
    from arbv2.adapters.recording.reader import read_meta, segments
    from arbv2.app.backtest import run_backtest
    from arbv2.app.evidence import summary_text, write_evidence
    from arbv2.core.config import load_config

    try:
        meta = read_meta(segments(args.data)[0])
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"--data: {exc}") from None
    overlay: dict = {"market_data": {"source": "replay", "replay_path": str(args.data)}, "mode": "paper"}
    if args.config is None and meta.get("symbols"):
        overlay["symbols"] = meta["symbols"]
    ex = {}
    if args.latency_ms_upbit is not None:
        ex["paper_latency_ms_upbit"] = args.latency_ms_upbit
    if args.latency_ms_binance is not None:
        ex["paper_latency_ms_binance"] = args.latency_ms_binance
    if ex:
        overlay["execution"] = ex
    cfg = load_config(args.config, overlay=overlay)
    missing = sorted(set(cfg.symbols) - set(meta.get("symbols") or cfg.symbols))
    if missing:
        raise ConfigError(f"symbols: {', '.join(missing)} not in the recording ({', '.join(meta['symbols'])})")
    start, end = parse_time(args.start), parse_time(args.end)
    if start is not None and end is not None and end <= start:
        raise ConfigError("--to must be after --from")
    res = run_backtest(cfg, args.data, start_ns=start, end_ns=end, run_id=args.run_id,
                       progress=not args.no_progress and sys.stderr.isatty())
    path = write_evidence(res.doc, args.evidence_dir)
    print(summary_text(res.doc))
    print(f"  replay {res.frames:,} frames in {res.wall_s:.2f} s = {res.frames_per_s:,.0f} frames/s")
    print(f"evidence: {path}")
    return 0 if res.doc["verdict"] == "PASS" else 1
