"""Shared fixtures for the integration tier: real PostgreSQL and Redis, isolated per test.

PostgreSQL: `pg_dsn` (session) waits for the server and fails with a clear message when it is not
there; `pg_schema` creates a fresh schema per test and drops it afterwards; `pg_schema_dsn` is a
DSN whose connections use that schema (asyncpg passes unknown query parameters as server
settings, so `?search_path=` works for the CLI too). Redis: `redis_url` (session) waits for PING;
`redis_prefix` is a unique key prefix whose keys are deleted afterwards.
Fixtures are synchronous (their I/O runs on a private loop in a thread), so sync tests and async
fixtures can both request them, also through request.getfixturevalue.
Override with ARBV2_TEST_DATABASE_URL / ARBV2_TEST_REDIS_URL.
"""
from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

TEST_DATABASE_URL = os.environ.get("ARBV2_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_REDIS_URL = os.environ.get("ARBV2_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WAIT_S = float(os.environ.get("ARBV2_TEST_SERVICE_WAIT_S", "15"))


def _run_in_thread(check) -> BaseException | None:
    # a fixture may be set up while the test's event loop runs: give the check its own loop
    out: list[BaseException | None] = [None]

    def target() -> None:
        try:
            asyncio.run(check())
        except BaseException as exc:
            out[0] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(10)
    return out[0] if not t.is_alive() else TimeoutError("the check did not finish in 10s")


def _wait(check, what: str, url: str) -> None:
    deadline = time.monotonic() + WAIT_S
    last: BaseException | None = None
    while time.monotonic() < deadline:
        last = _run_in_thread(check)
        if last is None:
            return
        if not isinstance(last, (OSError, TimeoutError, asyncio.TimeoutError)) and \
                "starting up" not in str(last) and "Connection" not in type(last).__name__:
            break       # not a "not up yet" error (auth, missing database): waiting will not help
        time.sleep(0.5)
    pytest.fail(f"{what} is not reachable at {url} after {WAIT_S:.0f}s ({type(last).__name__}: {last}). "
                "Start it (scripts/test.sh does) or point the test URL env var at one.", pytrace=False)


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """Return the test database DSN once PostgreSQL answers a query."""
    import asyncpg

    async def check() -> None:
        conn = await asyncpg.connect(TEST_DATABASE_URL, timeout=3)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    _wait(check, "PostgreSQL", TEST_DATABASE_URL)
    return TEST_DATABASE_URL


def _run(coro_fn) -> None:
    exc = _run_in_thread(coro_fn)
    if exc is not None:
        raise exc


@pytest.fixture
def pg_schema(pg_dsn: str):
    """Create an empty schema for one test; drop it (cascade) afterwards."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:12]}"

    async def sql(statement: str) -> None:
        conn = await asyncpg.connect(pg_dsn, timeout=5)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    _run(lambda: sql(f'CREATE SCHEMA "{name}"'))
    yield name
    _run(lambda: sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def dsn_with_schema(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = "&".join(q for q in (parts.query, urlencode({"search_path": schema})) if q)
    return urlunsplit(parts._replace(query=query))


@pytest.fixture
def pg_schema_dsn(pg_dsn: str, pg_schema: str) -> str:
    """Return a DSN whose connections see `pg_schema` first (for subprocesses and the CLI)."""
    return dsn_with_schema(pg_dsn, pg_schema)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Return the test Redis URL once it answers PING."""
    import redis.asyncio as aioredis

    async def check() -> None:
        client = aioredis.Redis.from_url(TEST_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        try:
            await client.ping()
        finally:
            await client.aclose()

    _wait(check, "Redis", TEST_REDIS_URL)
    return TEST_REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str):
    """Return a unique key prefix ('test:<hex>:'); every key under it is deleted afterwards."""
    import redis.asyncio as aioredis

    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix

    async def cleanup() -> None:
        client = aioredis.Redis.from_url(redis_url, socket_timeout=5)
        try:
            keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()

    _run(cleanup)
