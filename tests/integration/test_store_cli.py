"""`arbv2 db migrate|status` and `arbv2 pnl` against a real database (in-process CLI)."""
from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from arbv2.adapters.postgres import PostgresTradeStore
from arbv2.app.cli import main
from arbv2.app.commands.pnl import period, render
from arbv2.core.model import Direction, RoundTrip, RoundTripState

DAY_NS = 86_400 * 10**9
JUNE_3 = 1_717_372_800 * 10**9      # Monday 2024-06-03 00:00 UTC


@pytest.fixture
def db_env(monkeypatch, pg_schema_dsn, tmp_path):
    monkeypatch.chdir(tmp_path)      # no stray .env
    monkeypatch.setenv("DATABASE_URL", pg_schema_dsn)
    return pg_schema_dsn


def test_without_database_url_the_commands_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for argv in (["db", "migrate"], ["db", "status"], ["pnl"]):
        assert main(argv) == 2
        assert "DATABASE_URL: not set" in capsys.readouterr().err


def test_migrate_then_status(db_env, pg_schema, capsys):
    assert main(["db", "status", "--check"]) == 1
    assert "pending:   001, 002" in capsys.readouterr().out
    assert main(["db", "migrate"]) == 0
    out = capsys.readouterr().out
    assert "applied: 001, 002" in out and f"schema {pg_schema}" in out
    assert main(["db", "migrate"]) == 0
    assert "nothing (already current)" in capsys.readouterr().out
    assert main(["db", "status", "--check"]) == 0
    out = capsys.readouterr().out
    assert "version:   002 of 002 (plain)" in out and "pending:   none" in out
    assert "postgres@" not in out            # no credentials or user in the output


def test_pnl_without_schema_says_to_migrate(db_env, capsys):
    assert main(["pnl"]) == 2
    assert "arbv2 db migrate" in capsys.readouterr().err


def test_pnl_prints_the_rollups(db_env, capsys):
    async def seed() -> None:
        store = await PostgresTradeStore.connect(db_env, migrate=True)
        for i, (day, base, pnl) in enumerate([(0, "BTC", "1000"), (0, "BTC", "-250"), (1, "ETH", "300"),
                                              (8, "BTC", "50")]):
            await store.record_round_trip(RoundTrip(f"rt{i}", base, Direction.LONG_UPBIT, RoundTripState.CLOSED,
                                                    JUNE_3 + day * DAY_NS + 5, 0.01, 12.0, pnl_krw=Decimal(pnl),
                                                    pnl_usdt=Decimal("0.5"), fees_krw=Decimal("10")))
        await store.close()

    asyncio.run(seed())
    assert main(["pnl", "--by", "day", "--from", "2024-06-03", "--to", "2024-06-04"]) == 0
    lines = capsys.readouterr().out.splitlines()
    body = [line.split() for line in lines[2:-2]]
    assert body == [["2024-06-03", "BTC", "2", "1", "50.0", "750", "1.00", "20"],
                    ["2024-06-04", "ETH", "1", "1", "100.0", "300", "0.50", "10"]]
    assert lines[-1].split() == ["total", "3", "2", "66.7", "1,050", "1.50", "30"]
    assert main(["pnl", "--by", "week", "--from", "2024-06-05", "--to", "2024-06-30", "--json",
                 "--symbol", "btc"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ['{"bucket": "2024-06-03", "symbol_base": "BTC", "round_trips": 2, "wins": 1, '
                   '"pnl_krw": "750", "pnl_usdt": "1.0", "fees_krw": "20"}',
                   '{"bucket": "2024-06-10", "symbol_base": "BTC", "round_trips": 1, "wins": 1, '
                   '"pnl_krw": "50", "pnl_usdt": "0.5", "fees_krw": "10"}']


def test_period_aligns_to_whole_buckets():
    from datetime import date
    start, end = period("month", "2024-06-15", "2024-06-20", date(2024, 7, 1))
    assert (start, end) == (1_717_200_000 * 10**9, 1_718_928_000 * 10**9)   # 06-01 .. 06-21


def test_bad_dates_are_config_errors(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/x")
    assert main(["pnl", "--from", "2024-13-01"]) == 2
    assert "--from: invalid value" in capsys.readouterr().err
    assert main(["pnl", "--from", "2024-06-10", "--to", "2024-06-01"]) == 2


def test_render_handles_no_rows():
    assert render([]).splitlines()[-1].split() == ["total", "0", "0", "-", "0", "0.00", "0"]
