"""`arbv2 db migrate` and `arbv2 db status`: the PostgreSQL schema (DSN from DATABASE_URL)."""
from __future__ import annotations

import argparse
import asyncio
from urllib.parse import urlsplit

from arbv2.core.config import load_config
from arbv2.core.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="migrate the database or show its schema version")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dsub.required = True
    mig = dsub.add_parser("migrate", help="apply the packaged SQL migrations (safe to re-run)")
    mig.add_argument("--config", default=None, help="YAML file over the defaults")
    mig.set_defaults(func=_migrate)
    st = dsub.add_parser("status", help="show the schema version and pending migrations")
    st.add_argument("--config", default=None, help="YAML file over the defaults")
    st.add_argument("--check", action="store_true", help="exit 1 when migrations are pending")
    st.set_defaults(func=_status)


def database_url(config_path: str | None) -> str:
    """Return DATABASE_URL from the environment (or .env); ConfigError when unset."""
    url = load_config(config_path).secrets.database_url
    if not url:
        raise ConfigError("DATABASE_URL: not set; allowed: a PostgreSQL URL such as "
                          "postgresql://user@127.0.0.1:5432/arbv2 (environment or .env)")
    return url


def where(url: str) -> str:
    """Return host:port/database of a DSN, without credentials, for messages."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"


async def _connect(url: str):
    import asyncpg

    try:
        return await asyncpg.connect(url, timeout=10)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as exc:
        raise ConnectionError(f"database at {where(url)} is unreachable: {type(exc).__name__}: {exc}") from None


def _migrate(args: argparse.Namespace) -> int:
    from arbv2.adapters.postgres import migrate as m

    url = database_url(args.config)

    async def run() -> int:
        conn = await _connect(url)
        try:
            applied = await m.migrate(conn)
            st = await m.status(conn)
        finally:
            await conn.close()
        done = ", ".join(f"{v:03d}" for v in applied) or "nothing (already current)"
        print(f"applied: {done}")
        print(f"schema {st.schema} at {where(url)}: version {st.version:03d} ({st.variant})")
        return 0

    return asyncio.run(run())


def _status(args: argparse.Namespace) -> int:
    from arbv2.adapters.postgres import migrate as m

    url = database_url(args.config)

    async def run() -> int:
        conn = await _connect(url)
        try:
            st = await m.status(conn)
        finally:
            await conn.close()
        print(f"database:  {where(url)} (schema {st.schema})")
        print(f"version:   {st.version:03d} of {st.latest:03d}" + (f" ({st.variant})" if st.variant else ""))
        print(f"timescale: {'installed' if st.timescale else 'not installed (plain tables and views)'}")
        for version, name, at in st.applied:
            print(f"  {version:03d} {name:<20} applied {at}")
        pending = ", ".join(f"{v:03d}" for v in st.pending)
        print(f"pending:   {pending or 'none'}")
        return 1 if args.check and st.pending else 0

    return asyncio.run(run())
