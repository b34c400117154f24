"""Migrations on an empty schema, re-runs, concurrent migrators and tampered history."""
from __future__ import annotations

import asyncio

import asyncpg
import pytest

from arbv2.adapters.postgres import MigrationError
from arbv2.adapters.postgres import migrate as m

ROLLUP_COLUMNS = [("bucket", "timestamp with time zone"), ("symbol_base", "text"), ("round_trips", "bigint"),
                  ("wins", "bigint"), ("pnl_krw", "numeric"), ("pnl_usdt", "numeric"), ("fees_krw", "numeric")]


@pytest.fixture
async def conn(pg_dsn, pg_schema):
    c = await asyncpg.connect(pg_dsn, server_settings={"search_path": pg_schema})
    yield c
    await c.close()


async def _columns(conn, schema: str, table: str) -> list[tuple[str, str]]:
    rows = await conn.fetch("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position", schema, table)
    return [(r[0], r[1]) for r in rows]


async def test_empty_schema_gets_every_table_and_rollup(conn, pg_schema):
    assert (await m.status(conn)).version == 0
    applied = await m.migrate(conn)
    assert applied == sorted(m.packaged_migrations())
    st = await m.status(conn)
    assert (st.schema, st.version, st.latest, st.pending) == (pg_schema, max(applied), max(applied), ())
    assert st.variant == ("timescale" if st.timescale else "plain")
    rels = {r[0] for r in await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", pg_schema)}
    assert {"schema_version", "v2_orders", "v2_order_events", "v2_fills", "v2_trades", "v2_premium",
            "v2_pnl_daily", "v2_pnl_weekly", "v2_pnl_monthly"} <= rels
    for view in ("v2_pnl_daily", "v2_pnl_weekly", "v2_pnl_monthly"):
        assert await _columns(conn, pg_schema, view) == ROLLUP_COLUMNS
    orders = dict(await _columns(conn, pg_schema, "v2_orders"))
    assert orders["raw"] == "jsonb" and orders["price"] == "numeric" and orders["created_at"].startswith("timestamp")
    # schema-relative: nothing landed in public
    assert await conn.fetchval("SELECT to_regclass('public.v2_orders')") is None


async def test_rerun_is_a_no_op(conn):
    await m.migrate(conn)
    before = await conn.fetch("SELECT * FROM schema_version ORDER BY version")
    await conn.execute("INSERT INTO v2_premium VALUES (now(), 'BTC', 0.01, 0.011, 0.009)")
    assert await m.migrate(conn) == []
    assert await conn.fetch("SELECT * FROM schema_version ORDER BY version") == before
    assert await conn.fetchval("SELECT count(*) FROM v2_premium") == 1


async def test_concurrent_migrators_apply_each_file_once(pg_dsn, pg_schema):
    conns = [await asyncpg.connect(pg_dsn, server_settings={"search_path": pg_schema}) for _ in range(3)]
    try:
        results = await asyncio.gather(*(m.migrate(c) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, len(m.packaged_migrations())]
        assert await conns[0].fetchval("SELECT count(*) FROM schema_version") == len(m.packaged_migrations())
    finally:
        for c in conns:
            await c.close()


async def test_an_edited_migration_is_refused(conn):
    await m.migrate(conn)
    await conn.execute("UPDATE schema_version SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match="checksum mismatch"):
        await m.migrate(conn)


async def test_a_database_newer_than_the_code_is_refused(conn):
    await m.migrate(conn)
    await conn.execute("INSERT INTO schema_version (version, name, variant, checksum) VALUES (999, 'future', 'plain', 'x')")
    with pytest.raises(MigrationError, match="newer than the code"):
        await m.migrate(conn)


async def test_a_failing_migration_leaves_nothing_half_applied(conn, monkeypatch):
    real = m.packaged_migrations()
    broken = dict(real)
    broken[len(real) + 1] = {"plain": m.Migration(len(real) + 1, "broken", "plain",
                                                  "CREATE TABLE v2_half (x int); SELECT no_such_function();")}
    await m.migrate(conn)
    monkeypatch.setattr(m, "packaged_migrations", lambda: broken)
    with pytest.raises(MigrationError, match="broken"):
        await m.migrate(conn)
    assert await conn.fetchval("SELECT to_regclass('v2_half')") is None
    assert (await m.status(conn)).version == len(real)
