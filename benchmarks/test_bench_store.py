"""Sustained write throughput through PostgresTradeStore: premium points (COPY) and fills.

Budget: >= 20,000 premium rows/s (issue #8). Fills go through pipelined executemany with
ON CONFLICT, so they are slower per row; their floor is lower and only guards a regression
to one round trip per row. Skips with a reason when PostgreSQL is unreachable.
"""
from __future__ import annotations

import asyncio
import os
import uuid
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from arbv2.core.model import Fill, Side, Venue

DSN = os.environ.get("ARBV2_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
PREMIUM_ROWS = 20_000
FILL_ROWS = 5_000
MIN_PREMIUM_ROWS_PER_S = 20_000
MIN_FILL_ROWS_PER_S = 3_000


@pytest.fixture(scope="module")
def loop():
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


@pytest.fixture(scope="module")
def store(loop):
    import asyncpg

    from arbv2.adapters.postgres import PostgresTradeStore

    schema = f"bench_{uuid.uuid4().hex[:10]}"

    async def setup():
        conn = await asyncpg.connect(DSN, timeout=3)
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        finally:
            await conn.close()
        return await PostgresTradeStore.connect(DSN, schema=schema, migrate=True, premium_flush_interval_s=60)

    try:
        s = loop.run_until_complete(setup())
    except (OSError, asyncio.TimeoutError) as exc:
        pytest.fail(f"PostgreSQL unreachable (./scripts/test.sh starts it) at {urlsplit(DSN).hostname}:{urlsplit(DSN).port or 5432}: {exc}")
    yield s

    async def teardown():
        await s.close()
        conn = await asyncpg.connect(DSN)
        try:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await conn.close()

    loop.run_until_complete(teardown())


def _premium_batch(round_no: int) -> list[tuple[int, str, float, float, float]]:
    t0 = 1_717_200_000 * 10**9 + round_no * PREMIUM_ROWS * 1000
    return [(t0 + i * 1000, ("BTC", "ETH", "XRP")[i % 3], 0.02 + i * 1e-9, 0.021, 0.019) for i in range(PREMIUM_ROWS)]


def test_premium_copy_rows_per_second(benchmark, store, loop):
    rounds = iter(range(1000))

    def setup():
        return (_premium_batch(next(rounds)),), {}

    def run(batch) -> None:
        async def write():
            await store.record_premium(batch)        # converts to rows and buffers
            await store.flush()                      # one COPY
        loop.run_until_complete(write())

    benchmark.pedantic(run, setup=setup, rounds=5, iterations=1, warmup_rounds=1)
    if benchmark.stats is not None:
        rate = PREMIUM_ROWS / benchmark.stats.stats.median
        benchmark.extra_info["rows_per_s"] = round(rate)
        print(f"\npremium COPY: {rate:,.0f} rows/s")
        assert rate >= MIN_PREMIUM_ROWS_PER_S
    written = 6 if benchmark.stats is not None else 1
    assert len(loop.run_until_complete(store.premium(0, 2**62))) == written * PREMIUM_ROWS


def test_fill_rows_per_second(benchmark, store, loop):
    rounds = iter(range(1000))

    def setup():
        r = next(rounds)
        return ([Fill(Venue.UPBIT, "BTC/KRW", Side.BUY, f"c{r}-{i // 4}", f"t{r}-{i}", Decimal("0.001"),
                      Decimal("90000000"), Decimal("45"), "KRW", 1_717_200_000 * 10**9 + i * 1000)
                 for i in range(FILL_ROWS)],), {}

    def run(fills) -> None:
        loop.run_until_complete(store.record_fills(fills))

    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1, warmup_rounds=1)
    if benchmark.stats is not None:
        rate = FILL_ROWS / benchmark.stats.stats.median
        benchmark.extra_info["rows_per_s"] = round(rate)
        print(f"\nfills executemany: {rate:,.0f} rows/s")
        assert rate >= MIN_FILL_ROWS_PER_S
