"""Preflight against real PostgreSQL and Redis and a local venue server: every check fails on purpose."""
from __future__ import annotations

import dataclasses
import time
import types

import asyncpg
import pytest
from aiohttp import web

from arbv2.adapters.postgres.migrate import migrate
from arbv2.app import checks
from arbv2.app.preflight import check_mode, require_preflight, run_preflight
from arbv2.core.config import LIVE_UNLOCK_VALUE, Config, Secrets, build
from arbv2.core.errors import SafetyError

SECRET = "sk-very-secret-value-123"


class FakeVenues:
    """Answers the four REST endpoints preflight probes, with knobs to break each one."""

    def __init__(self) -> None:
        self.upbit_markets = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-USDT"]
        self.binance_symbols = {"BTCUSDT": "TRADING", "ETHUSDT": "TRADING", "XRPUSDT": "TRADING"}
        self.offset_ms = {"upbit": 0.0, "binance": 0.0}
        self.remaining_req: str | None = "group=default; min=1800; sec=9"
        self.used_weight: str | None = "12"
        self.venue_weight_limit = 2400
        self.status = 200

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/market/all", self.market_all)
        app.router.add_get("/v1/ticker", self.ticker)
        app.router.add_get("/fapi/v1/exchangeInfo", self.exchange_info)
        app.router.add_get("/fapi/v1/time", self.server_time)
        return app

    def _now_ms(self, venue: str) -> int:
        return int(time.time() * 1000 + self.offset_ms[venue])

    async def market_all(self, request: web.Request) -> web.Response:
        if self.status != 200:
            return web.json_response({"error": {"name": "down"}}, status=self.status)
        return web.json_response([{"market": m, "korean_name": m, "english_name": m} for m in self.upbit_markets])

    async def ticker(self, request: web.Request) -> web.Response:
        headers = {"Remaining-Req": self.remaining_req} if self.remaining_req else {}
        market = request.query["markets"]
        return web.json_response([{"market": market, "trade_price": 1.0, "timestamp": self._now_ms("upbit")}],
                                 headers=headers)

    async def exchange_info(self, request: web.Request) -> web.Response:
        return web.json_response({
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                            "limit": self.venue_weight_limit}],
            "symbols": [{"symbol": s, "status": st, "contractType": "PERPETUAL"}
                        for s, st in self.binance_symbols.items()]})

    async def server_time(self, request: web.Request) -> web.Response:
        headers = {"X-MBX-USED-WEIGHT-1M": self.used_weight} if self.used_weight else {}
        return web.json_response({"serverTime": self._now_ms("binance")}, headers=headers)


@pytest.fixture
async def venues():
    fake = FakeVenues()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}"
    fake.urls = {"upbit": url, "binance_usdm": url}
    yield fake
    await runner.cleanup()


@pytest.fixture
async def migrated_dsn(pg_schema_dsn):
    conn = await asyncpg.connect(pg_schema_dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return pg_schema_dsn


def _cfg(data: dict | None = None, **secrets) -> Config:
    return dataclasses.replace(build(Config, data or {}), secrets=Secrets(**secrets))


def _by_name(results) -> dict[str, checks.CheckResult]:
    return {r.name: r for r in results}


async def _run(cfg, venues) -> dict[str, checks.CheckResult]:
    return _by_name(await run_preflight(cfg, venue_urls=venues.urls))


async def test_everything_passes_with_migrated_db_redis_and_healthy_venues(venues, migrated_dsn, redis_url):
    res = await _run(_cfg(database_url=migrated_dsn, redis_url=redis_url), venues)
    assert all(r.ok for r in res.values()), {n: r.detail for n, r in res.items() if not r.ok}
    assert list(res) == ["config", "mode", "secrets", "postgres", "postgres_schema", "redis", "clock",
                         "markets_upbit", "clock_upbit", "rate_limit_upbit", "markets_binance_usdm",
                         "clock_binance_usdm", "rate_limit_binance_usdm", "risk_limits"]
    assert not res["postgres_schema"].skipped and "version" in res["postgres_schema"].detail
    assert "used weight 12/2400" in res["rate_limit_binance_usdm"].detail


async def test_without_stores_the_store_checks_skip_but_pass(venues):
    res = await _run(_cfg(), venues)
    assert res["postgres"].skipped and res["postgres_schema"].skipped and res["redis"].skipped
    assert all(r.ok for r in res.values())


async def test_live_refused_without_unlock_durable_stores_or_public_data(venues):
    res = await _run(_cfg({"mode": "live"}, upbit_access_key=SECRET), venues)
    detail = res["mode"].detail
    assert not res["mode"].ok
    for needle in ("ARBV2_LIVE_UNLOCK is missing", "DATABASE_URL missing", "REDIS_URL missing", "'public'"):
        assert needle in detail
    res = await _run(_cfg({"mode": "live"}, live_unlock="yes please"), venues)
    assert "ARBV2_LIVE_UNLOCK is wrong" in res["mode"].detail


async def test_live_mode_passes_when_unlocked_with_stores(venues, migrated_dsn, redis_url):
    keys = dict(upbit_access_key="a" * 8, upbit_secret_key="b" * 8, binance_api_key="c" * 8,
                binance_api_secret="d" * 8)
    cfg = _cfg({"mode": "live", "market_data": {"source": "public"}}, live_unlock=LIVE_UNLOCK_VALUE,
               database_url=migrated_dsn, redis_url=redis_url, **keys)
    results = await require_preflight(cfg, venue_urls=venues.urls)
    assert all(r.ok for r in results)


async def test_sim_mode_refuses_real_exchange_urls():
    cfg = _cfg({"mode": "sim", "venues": {"upbit": {"enabled": True}, "binance_usdm": {"enabled": False}}})
    res = _by_name(await run_preflight(cfg, venue_urls={"upbit": "http://127.0.0.1:9"}))
    assert res["mode"].ok
    mode = await check_mode(cfg, {"upbit": "https://api.upbit.com"})()
    assert not mode.ok and "api.upbit.com" in mode.detail


async def test_secrets_missing_are_named_and_values_never_shown(venues):
    res = await _run(_cfg({"mode": "sim"}, upbit_access_key=SECRET, upbit_secret_key=SECRET), venues)
    s = res["secrets"]
    assert not s.ok
    assert "UPBIT_ACCESS_KEY present" in s.detail and "BINANCE_API_SECRET missing" in s.detail
    assert all(SECRET not in r.detail for r in res.values())


async def test_postgres_unreachable_fails(venues):
    res = await _run(_cfg(database_url="postgresql://postgres@127.0.0.1:1/test"), venues)
    assert not res["postgres"].ok and not res["postgres_schema"].ok


async def test_unmigrated_schema_fails(venues, pg_schema_dsn):
    res = await _run(_cfg(database_url=pg_schema_dsn), venues)
    assert res["postgres"].ok
    assert not res["postgres_schema"].ok and "not migrated" in res["postgres_schema"].detail


async def test_partially_migrated_schema_fails(venues, migrated_dsn):
    conn = await asyncpg.connect(migrated_dsn)
    try:
        latest = await conn.fetchval("SELECT max(version) FROM schema_version")
        await conn.execute("DELETE FROM schema_version WHERE version = $1", latest)
    finally:
        await conn.close()
    res = await _run(_cfg(database_url=migrated_dsn), venues)
    assert not res["postgres_schema"].ok and f"pending {latest:03d}" in res["postgres_schema"].detail


async def test_redis_unreachable_fails(venues):
    res = await _run(_cfg(redis_url="redis://127.0.0.1:1/0"), venues)
    assert not res["redis"].ok


async def test_local_clock_out_of_range_fails(venues, monkeypatch):
    fake_time = types.SimpleNamespace(time=lambda: 0.0, monotonic_ns=time.monotonic_ns, gmtime=time.gmtime,
                                      strftime=time.strftime)
    monkeypatch.setattr(checks, "time", fake_time)
    res = await _run(_cfg(), venues)
    assert not res["clock"].ok and "1970" in res["clock"].detail


@pytest.mark.parametrize("venue", ["upbit", "binance"])
async def test_venue_clock_offset_beyond_bound_fails(venues, venue):
    venues.offset_ms[venue] = 5000.0
    res = await _run(_cfg({"risk": {"max_clock_skew_ms": 500}}), venues)
    name = "clock_upbit" if venue == "upbit" else "clock_binance_usdm"
    assert not res[name].ok and "offset +" in res[name].detail and "500 ms" in res[name].detail
    other = "clock_binance_usdm" if venue == "upbit" else "clock_upbit"
    assert res[other].ok


async def test_symbol_not_listed_or_not_trading_fails(venues):
    venues.upbit_markets.remove("KRW-XRP")
    venues.binance_symbols["ETHUSDT"] = "SETTLING"
    res = await _run(_cfg(), venues)
    assert not res["markets_upbit"].ok and "KRW-XRP" in res["markets_upbit"].detail
    assert not res["markets_binance_usdm"].ok and "ETHUSDT (SETTLING)" in res["markets_binance_usdm"].detail


async def test_unreachable_venue_fails_each_venue_check_with_the_reason(venues):
    venues.status = 503
    res = await _run(_cfg(), venues)
    for name in ("markets_upbit", "clock_upbit", "rate_limit_upbit"):
        assert not res[name].ok and "HTTP 503" in res[name].detail
    res = _by_name(await run_preflight(_cfg(), venue_urls={"upbit": "http://127.0.0.1:1",
                                                           "binance_usdm": "http://127.0.0.1:1"}))
    assert not res["markets_binance_usdm"].ok and "ProbeError" in res["markets_binance_usdm"].detail


@pytest.mark.parametrize("knob,value,name,needle", [
    ("used_weight", "2300", "rate_limit_binance_usdm", "2300/2400"),
    ("used_weight", None, "rate_limit_binance_usdm", "header"),
    ("venue_weight_limit", 1200, "rate_limit_binance_usdm", "exceeds the venue's 1200"),
    ("remaining_req", "group=default; min=100; sec=0", "rate_limit_upbit", "sec=0"),
    ("remaining_req", None, "rate_limit_upbit", "Remaining-Req"),
])
async def test_rate_limit_headroom_fails(venues, knob, value, name, needle):
    setattr(venues, knob, value)
    res = await _run(_cfg(), venues)
    assert not res[name].ok and needle in res[name].detail


@pytest.mark.parametrize("data,needle", [
    ({"risk": {"daily_loss_limit_krw": 0}}, "daily_loss_limit_krw"),
    ({"risk": {"max_position_krw_per_symbol": 500000}}, "exceeds risk.max_position_krw_per_symbol"),
    ({"risk": {"max_open_round_trips": 0}}, "max_open_round_trips"),
    ({"strategy": {"overrides": {"BTC": {"entry_edge_bps": 0}}}}, "BTC: entry edge"),
])
async def test_insane_risk_limits_fail(venues, data, needle):
    res = await _run(_cfg(data), venues)
    assert not res["risk_limits"].ok and needle in res["risk_limits"].detail


async def test_require_preflight_refuses_live_but_not_paper(venues):
    with pytest.raises(SafetyError, match="live start refused"):
        await require_preflight(_cfg({"mode": "live"}), venue_urls=venues.urls)
    venues.status = 503
    results = await require_preflight(_cfg(), venue_urls=venues.urls)
    assert not all(r.ok for r in results)


async def test_against_the_real_simulator_and_its_clock_skew_fault():
    from arbv2.adapters.simulator import FaultPlan, SimulatorServer

    async with SimulatorServer(seed=3, symbols=("BTC", "ETH")) as sim:
        urls = {"upbit": sim.upbit_url, "binance_usdm": sim.binance_url}
        res = _by_name(await run_preflight(_cfg({"symbols": ["BTC", "ETH"]}), venue_urls=urls))
    assert all(r.ok for r in res.values()), {n: r.detail for n, r in res.items() if not r.ok}
    plan = FaultPlan(venues=("binance_usdm",), clock_skew_ms=4000)
    async with SimulatorServer(seed=3, symbols=("BTC",), faults=plan) as sim:
        urls = {"upbit": sim.upbit_url, "binance_usdm": sim.binance_url}
        res = _by_name(await run_preflight(_cfg({"symbols": ["BTC"]}), venue_urls=urls))
    assert res["clock_upbit"].ok
    assert not res["clock_binance_usdm"].ok and "offset +" in res["clock_binance_usdm"].detail
