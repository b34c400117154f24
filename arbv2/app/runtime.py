"""The composition root: build a running engine from config, and take it apart again.

`open_runtime(cfg)` is the one place where adapters meet the core. It starts the embedded
simulator when the config asks for it (and points both venues at it), picks durable or
in-memory stores by whether DATABASE_URL / REDIS_URL are set, builds the market-data feed,
the exchange adapters for the execution mode (MockAdapter for paper, the real signed
adapters for sim/live), the engine, the funding task (rates refreshed, payments booked: arbv2/app/funding.py) and the
/metrics + /admin server. `arbv2 engine`, the smoke and paper runners all run through it, so
they run the same code.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, AsyncIterator, Callable

from arbv2.adapters.binance.exchange import BinanceUsdmAdapter
from arbv2.adapters.common.clock import SystemClock
from arbv2.adapters.common.rate_limits import buckets_from_config
from arbv2.adapters.memory.metrics import MemoryMetrics
from arbv2.adapters.mock.exchange import MockAdapter
from arbv2.adapters.prometheus.metrics import PrometheusMetrics, metrics_handler
from arbv2.adapters.upbit.exchange import UpbitAdapter
from arbv2.adapters.upbit.rules import DEFAULT_MIN_TOTAL_KRW, KRW_TICKS, VOLUME_STEP
from arbv2.app.funding import FundingWatch
from arbv2.app.logs import register_secrets
from arbv2.app.metrics_tee import TeeMetrics
from arbv2.core.config import Config
from arbv2.core.engine import ArbitrageEngine
from arbv2.core.execution import InstrumentRules
from arbv2.core.model import Venue, binance_symbol, upbit_symbol

log = logging.getLogger(__name__)

SIM_KEYS = {"upbit_access_key": "sim-upbit-access", "upbit_secret_key": "sim-upbit-secret",
            "binance_api_key": "sim-binance-key", "binance_api_secret": "sim-binance-secret"}
PAPER_BALANCES = {Venue.UPBIT: {"KRW": Decimal(1_000_000_000)}, Venue.BINANCE_USDM: {"USDT": Decimal(1_000_000)}}


@dataclass
class Runtime:
    """Everything a running engine is made of; owned and closed by `open_runtime`."""

    cfg: Config
    clock: SystemClock
    metrics: TeeMetrics
    market_data: Any
    exchanges: dict[Venue, Any]
    trade_store: Any
    state_store: Any
    engine: ArbitrageEngine
    sim: Any = None
    server_url: str | None = None
    venue_adapters: dict[Venue, Any] = field(default_factory=dict)
    funding: FundingWatch | None = None


def use_embedded_simulator(cfg: Config) -> bool:
    return cfg.market_data.source == "sim" and cfg.simulator.embedded and cfg.mode != "live"


def point_at_simulator(cfg: Config, sim: Any) -> Config:
    """Return cfg with both venues' URLs on the simulator (and its default keys when unset in sim mode)."""
    venues = dataclasses.replace(
        cfg.venues,
        upbit=dataclasses.replace(cfg.venues.upbit, rest_url=sim.upbit_url, ws_url=sim.upbit_ws_url),
        binance_usdm=dataclasses.replace(cfg.venues.binance_usdm, rest_url=sim.binance_url, ws_url=sim.binance_ws_url))
    secrets = cfg.secrets
    if cfg.mode in ("sim", "paper"):
        missing = {k: v for k, v in SIM_KEYS.items() if not getattr(secrets, k)}
        secrets = dataclasses.replace(secrets, **missing)
    return dataclasses.replace(cfg, venues=venues, secrets=secrets)


@contextlib.asynccontextmanager
async def embedded_simulator(cfg: Config) -> AsyncIterator[tuple[Config, Any]]:
    """Start the in-process simulator when the config asks for it; yield (cfg pointed at it, sim)."""
    if not use_embedded_simulator(cfg):
        yield cfg, None
        return
    from arbv2.adapters.simulator import FaultPlan, SimulatorServer

    faults = FaultPlan.load(cfg.simulator.faults_file) if cfg.simulator.faults_file else None
    sim = SimulatorServer(seed=cfg.simulator.seed, symbols=cfg.symbols, faults=faults,
                          premium_mean=cfg.simulator.premium_mean, funding_interval_s=cfg.simulator.funding_interval_s)
    await sim.start(cfg.simulator.host, cfg.simulator.upbit_port, cfg.simulator.binance_port)
    log.info("embedded simulator: upbit %s, binance %s", sim.upbit_url, sim.binance_url)
    try:
        yield point_at_simulator(cfg, sim), sim
    finally:
        await sim.stop()


def instrument_rules(upbit: UpbitAdapter, binance: BinanceUsdmAdapter, symbols: tuple[str, ...]
                     ) -> dict[tuple[Venue, str], InstrumentRules]:
    """Return the executor's rounding rules from the adapters' loaded venue rules."""
    table = tuple(sorted(KRW_TICKS))
    out: dict[tuple[Venue, str], InstrumentRules] = {}
    urules, brules = upbit.rules, binance.rules
    for base in symbols:
        u = urules.get(f"KRW-{base}")
        b = brules.get(f"{base}USDT")
        if u is None or b is None:
            raise RuntimeError(f"{base}: not listed on both venues (upbit {u is not None}, binance {b is not None})")
        out[(Venue.UPBIT, upbit_symbol(base))] = InstrumentRules(
            step_size=VOLUME_STEP, min_qty=Decimal(0), min_notional=u.min_total or DEFAULT_MIN_TOTAL_KRW,
            tick_size=table[0][1], tick_table=table)
        lot = b.market_lot
        out[(Venue.BINANCE_USDM, binance_symbol(base))] = InstrumentRules(
            step_size=lot.step, min_qty=lot.min_qty, min_notional=b.min_notional, tick_size=b.tick_size)
    return out


async def _stores(cfg: Config, clock: SystemClock, stack: contextlib.AsyncExitStack) -> tuple[Any, Any, Any, Any]:
    """Return (trade_store, state_store, market_cache, rate_limiter): durable when configured."""
    s = cfg.secrets
    if s.database_url:
        from arbv2.adapters.postgres.trade_store import PostgresTradeStore

        st = cfg.storage
        trade_store = await PostgresTradeStore.connect(
            s.database_url, pool_min=st.db_pool_min, pool_max=st.db_pool_max,
            command_timeout_s=st.db_command_timeout_s, write_retries=st.write_retries,
            premium_flush_interval_s=st.premium_flush_interval_s, migrate=True)
    else:
        from arbv2.adapters.memory.trade_store import MemoryTradeStore

        trade_store = MemoryTradeStore()
    stack.push_async_callback(trade_store.close)
    if s.redis_url:
        from arbv2.adapters.redis.connection import connect_redis, ping_redis
        from arbv2.adapters.redis.market_cache import RedisMarketCache
        from arbv2.adapters.redis.rate_limiter import RedisRateLimiter
        from arbv2.adapters.redis.state_store import RedisStateStore

        client = connect_redis(s.redis_url)
        stack.push_async_callback(client.aclose)
        await ping_redis(client)
        prefix = cfg.storage.redis_prefix
        state_store = RedisStateStore(client, prefix)
        cache = RedisMarketCache(client, prefix, cfg.market_data.cache_ttl_ms)
        limiter = RedisRateLimiter(client, prefix=prefix, clock=clock, buckets=buckets_from_config(cfg))
    else:
        from arbv2.adapters.memory.market_cache import MemoryMarketCache
        from arbv2.adapters.memory.rate_limiter import MemoryRateLimiter
        from arbv2.adapters.memory.state_store import MemoryStateStore

        state_store = MemoryStateStore()
        cache = MemoryMarketCache(clock, cfg.market_data.cache_ttl_ms)
        limiter = MemoryRateLimiter(clock, buckets_from_config(cfg))
    return trade_store, state_store, cache, limiter


def _paper_exchanges(cfg: Config, md: Any, clock: SystemClock, upbit: UpbitAdapter,
                     binance: BinanceUsdmAdapter) -> dict[Venue, Any]:
    ex = cfg.execution
    u_rules = {upbit_symbol(b): upbit.rules[f"KRW-{b}"] for b in cfg.symbols}
    b_rules = {binance_symbol(b): binance.rules[f"{b}USDT"] for b in cfg.symbols}
    return {
        Venue.UPBIT: MockAdapter(Venue.UPBIT, lambda s: md.book(Venue.UPBIT, s), cfg.venues.upbit.fees.taker_bps,
                                 clock=clock, latency_s=ex.paper_latency_ms_upbit / 1000, seed=ex.seed,
                                 balances=PAPER_BALANCES[Venue.UPBIT], rules=u_rules),
        Venue.BINANCE_USDM: MockAdapter(Venue.BINANCE_USDM, lambda s: md.book(Venue.BINANCE_USDM, s),
                                        cfg.venues.binance_usdm.fees.taker_bps, clock=clock,
                                        latency_s=ex.paper_latency_ms_binance / 1000, seed=ex.seed + 1,
                                        balances=PAPER_BALANCES[Venue.BINANCE_USDM], rules=b_rules),
    }


async def _funding_source(binance: BinanceUsdmAdapter, symbols: tuple[str, ...], clock: SystemClock, *,
                          payments: bool) -> FundingWatch:
    """Return the engine's funding rate callable, rates read once now (the funding task refreshes them).

    Payments are booked from the venue time the runtime opened (venue clock: local + offset).
    """
    watch = FundingWatch(binance, symbols, start_ms=clock.now_ns() // 1_000_000 + binance.time_offset_ms,
                         payments=payments)
    await watch.refresh_rates()
    return watch


async def _start_funding_task(watch: FundingWatch, engine: ArbitrageEngine, cfg: Config, clock: SystemClock,
                              stack: contextlib.AsyncExitStack) -> None:
    """Run the funding refresh/payment task for the runtime's life (cancelled on exit)."""
    task = asyncio.get_running_loop().create_task(
        watch.run(engine, cfg.venues.binance_usdm.funding_refresh_s, clock), name="funding")

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    stack.push_async_callback(stop)


@contextlib.asynccontextmanager
async def open_runtime(cfg: Config, *, serve: bool = True, on_frame: Callable | None = None,
                       live_preflight_passed: bool = False) -> AsyncIterator[Runtime]:
    """Build the whole engine for `cfg`; close everything (stores flushed, sockets shut) on exit."""
    from arbv2.adapters.feeds.market_data import MarketData

    register_secrets(cfg.secrets.values())
    clock = SystemClock()
    async with contextlib.AsyncExitStack() as stack:
        cfg, sim = await stack.enter_async_context(embedded_simulator(cfg))
        register_secrets(cfg.secrets.values())
        metrics = TeeMetrics(PrometheusMetrics(cfg.symbols), MemoryMetrics(cfg.symbols, max_samples=200_000))
        metrics.set("cycle_p99_budget_seconds", cfg.kpi.cycle_p99_budget_us * 1e-6)
        metrics.set("daily_loss_limit_krw", cfg.risk.daily_loss_limit_krw)
        trade_store, state_store, cache, limiter = await _stores(cfg, clock, stack)
        md = MarketData(cfg, clock=clock, metrics=metrics, cache=cache, rate_limiter=limiter, on_frame=on_frame)
        stack.push_async_callback(md.close)
        upbit = UpbitAdapter(cfg, rate_limiter=limiter, clock=clock, metrics=metrics,
                             live_preflight_passed=live_preflight_passed)
        binance = BinanceUsdmAdapter(cfg, rate_limiter=limiter, clock=clock, metrics=metrics,
                                     live_preflight_passed=live_preflight_passed)
        stack.push_async_callback(upbit.close)
        stack.push_async_callback(binance.close)
        await upbit.load_markets(cfg.symbols)
        await binance.load_markets(cfg.symbols)
        rules = instrument_rules(upbit, binance, cfg.symbols)
        if cfg.mode == "paper":
            exchanges = _paper_exchanges(cfg, md, clock, upbit, binance)
        else:
            exchanges = {Venue.UPBIT: upbit, Venue.BINANCE_USDM: binance}
        # paper trades on MockAdapter, which pays no funding: rates only
        funding = await _funding_source(binance, cfg.symbols, clock, payments=cfg.mode != "paper")
        engine = ArbitrageEngine(cfg, market_data=md, exchanges=exchanges, trade_store=trade_store,
                                 state_store=state_store, metrics=metrics, clock=clock, rules=rules,
                                 funding_rate=funding)
        await _restore_thresholds(engine, state_store)
        await _start_funding_task(funding, engine, cfg, clock, stack)
        rt = Runtime(cfg=cfg, clock=clock, metrics=metrics, market_data=md, exchanges=exchanges,
                     trade_store=trade_store, state_store=state_store, engine=engine, sim=sim,
                     venue_adapters={Venue.UPBIT: upbit, Venue.BINANCE_USDM: binance}, funding=funding)
        if serve:
            rt.server_url = await _serve(rt, stack)
        yield rt


async def _restore_thresholds(engine: ArbitrageEngine, state_store: Any) -> None:
    """Re-apply thresholds an operator set through the admin API before a restart."""
    doc = await state_store.get("thresholds")
    if not doc:
        return
    strategy = doc.get("strategy") or {}
    overrides = strategy.get("overrides") or {}
    glob = {k: v for k, v in strategy.items() if k != "overrides"}
    if "order_notional_krw" in (doc.get("sizing") or {}):
        glob["order_notional_krw"] = doc["sizing"]["order_notional_krw"]
    try:
        if glob:
            engine.set_thresholds(None, **glob)
        for base, values in overrides.items():
            if base in engine.slots and values:
                engine.set_thresholds(base, **{k: v for k, v in values.items() if v is not None})
        log.warning("restored operator thresholds from the state store")
    except Exception as exc:  # a stale saved document must not stop a restart; say why
        log.error("saved thresholds not applied: %s", exc)


async def _serve(rt: Runtime, stack: contextlib.AsyncExitStack) -> str:
    from aiohttp import web

    from arbv2.app.admin import build_server_app, check_admin_bind

    check_admin_bind(rt.cfg)
    # no state store for the admin app: the engine persists the thresholds it applied (one writer)
    app = build_server_app(rt.engine, rt.cfg, metrics_handler=metrics_handler(rt.metrics.registry),
                           metrics=rt.metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, rt.cfg.server.host, rt.cfg.server.port)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}"
    log.info("metrics and admin API on %s", url)
    return url
