"""`arbv2 pnl [--by day|week|month] [--from YYYY-MM-DD] [--to YYYY-MM-DD]`: PnL rollups as a table."""
from __future__ import annotations

import argparse
import asyncio
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from arbv2.app.commands.db import database_url, where
from arbv2.core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pnl", help="PnL by day, week or month from the trade store")
    p.add_argument("--by", choices=("day", "week", "month"), default="day")
    p.add_argument("--from", dest="date_from", default=None, help="first day, YYYY-MM-DD (UTC; default: 30 days back)")
    p.add_argument("--to", dest="date_to", default=None, help="last day, inclusive, YYYY-MM-DD (UTC; default: today)")
    p.add_argument("--symbol", default=None, help="only this base asset, e.g. BTC")
    p.add_argument("--json", action="store_true", help="print JSON lines (exact decimals) instead of a table")
    p.add_argument("--config", default=None, help="YAML file over the defaults")
    p.set_defaults(func=_pnl)


def _day(value: str | None, flag: str, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{flag}: invalid value {value!r}; allowed: a date YYYY-MM-DD") from None


def period(by: str, date_from: str | None, date_to: str | None, today: date) -> tuple[int, int]:
    """Return [start_ns, end_ns) covering whole buckets from the bucket holding --from to --to."""
    last = _day(date_to, "--to", today)
    first = _day(date_from, "--from", last - timedelta(days=29))
    if first > last:
        raise ConfigError(f"--from: {first} is after --to {last}")
    if by == "week":
        first -= timedelta(days=first.weekday())
    elif by == "month":
        first = first.replace(day=1)
    to_ns = lambda d: int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp()) * 10**9  # noqa: E731
    return to_ns(first), to_ns(last + timedelta(days=1))


def render(rows: list[dict[str, Any]]) -> str:
    """Return the rollups as an aligned text table with a total line."""
    head = ("bucket", "symbol", "trips", "wins", "win%", "pnl_krw", "pnl_usdt", "fees_krw")
    total = {"round_trips": 0, "wins": 0, "pnl_krw": Decimal(0), "pnl_usdt": Decimal(0), "fees_krw": Decimal(0)}
    lines = []

    def line(bucket: str, sym: str, r: dict[str, Any]) -> tuple[str, ...]:
        rate = f"{100 * r['wins'] / r['round_trips']:.1f}" if r["round_trips"] else "-"
        return (bucket, sym, str(r["round_trips"]), str(r["wins"]), rate, f"{r['pnl_krw']:,.0f}",
                f"{r['pnl_usdt']:,.2f}", f"{r['fees_krw']:,.0f}")

    for r in rows:
        lines.append(line(str(r["bucket"]), r["symbol_base"], r))
        for k in total:
            total[k] += r.get(k) or 0
    lines.append(line("total", "", total))
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
    fmt = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(head), sep, *(fmt(x) for x in lines[:-1]), sep, fmt(lines[-1])])


def _pnl(args: argparse.Namespace) -> int:
    url = database_url(args.config)
    start_ns, end_ns = period(args.by, args.date_from, args.date_to, datetime.now(timezone.utc).date())

    async def run() -> list[dict[str, Any]]:
        import asyncpg

        from arbv2.adapters.postgres import PostgresTradeStore

        try:
            store = await PostgresTradeStore.connect(url, pool_min=1, pool_max=1)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConnectionError(f"database at {where(url)} is unreachable: {exc}") from None
        try:
            return await store.pnl(args.by, start_ns, end_ns)
        except asyncpg.UndefinedTableError:
            raise ConfigError(f"database at {where(url)} has no arbv2 schema; run `arbv2 db migrate`") from None
        finally:
            await store.close()

    rows = asyncio.run(run())
    if args.symbol:
        rows = [r for r in rows if r["symbol_base"] == args.symbol.upper()]
    if args.json:
        for r in rows:
            print(json.dumps({k: str(v) if isinstance(v, (Decimal, date)) else v for k, v in r.items()}))
    else:
        print(render(rows))
    return 0
