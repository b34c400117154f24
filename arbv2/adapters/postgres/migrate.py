"""Numbered SQL migrations shipped in the package, applied in order and recorded in schema_version.

Files are `NNN_name.sql`; a `NNN_name.timescale.sql` twin, when present, replaces it on databases
where the timescaledb extension is installed. The variant is chosen once, by the first migration
applied, so a schema never mixes the two. Each migration runs in its own transaction under an
advisory lock (two processes migrating at once apply each file once), and a file whose text
changed after it was applied is an error rather than a silent skip.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from arbv2.core.errors import ArbError

_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+?)(\.timescale)?\.sql$")
PLAIN, TIMESCALE = "plain", "timescale"


class MigrationError(ArbError):
    """The database schema cannot be brought to the packaged version."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    variant: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    schema: str
    version: int
    latest: int
    variant: str | None
    timescale: bool
    applied: tuple[tuple[int, str, str], ...]   # (version, name, applied_at ISO)
    pending: tuple[int, ...]


def packaged_migrations() -> dict[int, dict[str, Migration]]:
    """Return {version: {variant: Migration}} read from the package's migrations directory."""
    out: dict[int, dict[str, Migration]] = {}
    for entry in resources.files("arbv2.adapters.postgres").joinpath("migrations").iterdir():
        m = _FILE.match(entry.name)
        if not m:
            continue
        variant = TIMESCALE if m.group(3) else PLAIN
        mig = Migration(int(m.group(1)), m.group(2), variant, entry.read_text(encoding="utf-8"))
        out.setdefault(mig.version, {})[variant] = mig
    for version, variants in out.items():
        if PLAIN not in variants:
            raise MigrationError(f"migration {version:03d}: a .timescale.sql file needs a plain twin")
    return dict(sorted(out.items()))


_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    variant     TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


async def timescale_schema(conn: asyncpg.Connection) -> str | None:
    """Return the schema the timescaledb extension is installed in, or None."""
    return await conn.fetchval(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'timescaledb'")


async def _applied(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return []
    return await conn.fetch("SELECT version, name, variant, checksum, applied_at FROM schema_version ORDER BY version")


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply every pending migration to the current schema; return the versions applied."""
    available = packaged_migrations()
    ts_schema = await timescale_schema(conn)
    applied_now: list[int] = []
    async with conn.transaction():
        # one migrator per schema at a time; the lock ends with this transaction
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('arbv2.migrate.' || current_schema()))")
        await conn.execute(_VERSION_TABLE)
        done = {r["version"]: r for r in await _applied(conn)}
        variant = done[max(done)]["variant"] if done else (TIMESCALE if ts_schema else PLAIN)
        for version, row in done.items():
            mig = available.get(version, {}).get(row["variant"])
            if mig is None:
                raise MigrationError(f"schema_version has {version:03d} ({row['name']}), which this "
                                     "arbv2 does not ship: the database is newer than the code")
            if mig.checksum != row["checksum"]:
                raise MigrationError(f"migration {version:03d}_{mig.name} changed after it was applied "
                                     "(checksum mismatch): add a new migration instead of editing it")
        for version, variants in available.items():
            if version in done:
                continue
            mig = variants.get(variant, variants[PLAIN])
            async with conn.transaction():   # a savepoint: the error names the file that failed
                if mig.variant == TIMESCALE:
                    await conn.execute("SELECT set_config('search_path', current_setting('search_path') "
                                       "|| ', ' || quote_ident($1), true)", ts_schema)
                try:
                    await conn.execute(mig.sql)
                except asyncpg.PostgresError as exc:
                    raise MigrationError(f"migration {version:03d}_{mig.name} ({mig.variant}) failed: "
                                         f"{type(exc).__name__}: {exc}") from exc
                await conn.execute("INSERT INTO schema_version (version, name, variant, checksum) "
                                   "VALUES ($1, $2, $3, $4)", version, mig.name, variant, mig.checksum)
            applied_now.append(version)
    return applied_now


async def status(conn: asyncpg.Connection) -> SchemaStatus:
    """Return the schema's migration state without changing anything."""
    available = packaged_migrations()
    rows = await _applied(conn)
    done = {r["version"] for r in rows}
    return SchemaStatus(
        schema=await conn.fetchval("SELECT current_schema()"),
        version=max(done, default=0),
        latest=max(available, default=0),
        variant=rows[-1]["variant"] if rows else None,
        timescale=await timescale_schema(conn) is not None,
        applied=tuple((r["version"], r["name"], r["applied_at"].isoformat()) for r in rows),
        pending=tuple(v for v in available if v not in done),
    )
