"""SimulatorServer: the market loop, both venue apps on their own ports, faults and truth.

One tick = model step (unless paused) → every book requoted → resting orders that the market
crossed are filled → funding settled when a funding time has passed → changes published to the
WebSocket clients. REST handlers and order entry
run on the same event loop, so a REST snapshot always sees a state the streams will describe.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal

from aiohttp import web

from arbv2.adapters.simulator import binance_views
from arbv2.adapters.simulator.accounts import (BINANCE, UPBIT, FuturesWallet, SimAccount, UpbitWallet,
                                               default_accounts)
from arbv2.adapters.simulator.auth import BinanceAuth, NonceCache, UpbitAuth
from arbv2.adapters.simulator.binance_app import BinanceApp
from arbv2.adapters.simulator.binance_exchange import BinanceExchange
from arbv2.adapters.simulator.binance_ws import BinanceHub
from arbv2.adapters.simulator.book import ASK, BID, L2Book, Quoter
from arbv2.adapters.simulator.faults import FaultDice, FaultPlan
from arbv2.adapters.simulator.market import MarketModel, ModelParams
from arbv2.adapters.simulator.metrics import SimMetrics
from arbv2.adapters.simulator.ratelimit import BinanceLimiter, UpbitLimiter
from arbv2.adapters.simulator.specs import (USDT_LEVEL_QTY_UPBIT, FixedGrid, KrwGrid, decimals_of, spec_for)
from arbv2.adapters.simulator.truth import Truth, admin_routes
from arbv2.adapters.simulator.upbit_app import UpbitApp
from arbv2.adapters.simulator.upbit_exchange import UpbitExchange
from arbv2.adapters.simulator.upbit_ws import TickerState, UpbitHub
from arbv2.adapters.simulator.wsconn import VenueStall, WsClient

log = logging.getLogger(__name__)
KST = dt.timezone(dt.timedelta(hours=9))


class SimulatorServer:
    """A local Upbit + Binance USDⓈ-M exchange pair over real sockets (see docs/simulator.md)."""

    def __init__(self, seed: int = 7, symbols: Sequence[str] = ("BTC", "ETH", "XRP"),
                 accounts: Iterable[SimAccount] | None = None, faults: FaultPlan | None = None,
                 premium_mean: float = 0.02, tick_interval_s: float = 0.1, *,
                 binance_weight_limit_1m: int = 2400, upbit_idle_timeout_s: float = 120.0,
                 binance_levels: int = 200, upbit_levels: int = 40, upbit_fill_delay_s: float = 0.0,
                 funding_interval_s: float = 8 * 3600.0) -> None:
        if tick_interval_s <= 0:
            raise ValueError("tick_interval_s must be positive")
        if not funding_interval_s >= 0.001:
            raise ValueError("funding_interval_s must be at least 0.001 (1 ms)")
        # funding times are the multiples of the interval since the epoch (8 h: 00/08/16 UTC)
        self.funding_interval_ms = int(round(funding_interval_s * 1000))
        if not upbit_fill_delay_s >= 0:
            raise ValueError("upbit_fill_delay_s must be >= 0")
        self.upbit_fill_delay_s = upbit_fill_delay_s    # POST /v1/orders answer -> matching (0: next loop turn)
        self._match_handles: set[asyncio.Handle] = set()
        self.seed, self.tick_interval_s = seed, tick_interval_s
        self.bases = tuple(dict.fromkeys(s.upper() for s in symbols))
        if not self.bases:
            raise ValueError("at least one symbol is needed")
        self.upbit_idle_timeout_s = upbit_idle_timeout_s
        self.model = MarketModel(seed, self.bases, ModelParams(premium_mean=premium_mean))
        accts = list(accounts) if accounts is not None else default_accounts()
        self.metrics = SimMetrics()
        self.dice = FaultDice(faults or FaultPlan(), seed, self.metrics.on_fault)
        book_rng = random.Random(seed * 7919 + 17)
        self._quoters: list[tuple[Quoter, str, str]] = []       # (quoter, venue, base or USDT)
        up_books: dict[str, L2Book] = {}
        bn_books: dict[str, L2Book] = {}
        specs = {}
        self.upbit_names: dict[str, tuple[str, str]] = {}
        for i, base in enumerate(self.bases):
            spec = spec_for(base)
            specs[spec.symbol] = spec
            bn_books[spec.symbol] = L2Book(spec.symbol, 5_000_000_000 + 1_000_000_000 * i + seed * 1000)
            self._quoters.append((Quoter(bn_books[spec.symbol], FixedGrid(spec.tick_size), book_rng,
                                         spec.level_qty_binance, decimals_of(spec.step_size), binance_levels,
                                         churn=6, gap_prob=0.15), BINANCE, base))
            up_books[spec.upbit_code] = L2Book(spec.upbit_code, 0)
            self._quoters.append((Quoter(up_books[spec.upbit_code], KrwGrid(), book_rng, spec.level_qty_upbit,
                                         8, upbit_levels, churn=3, gap_prob=0.05), UPBIT, base))
            self.upbit_names[spec.upbit_code] = (spec.korean_name, spec.english_name)
        up_books["KRW-USDT"] = L2Book("KRW-USDT", 0)
        self._quoters.append((Quoter(up_books["KRW-USDT"], KrwGrid(), book_rng, USDT_LEVEL_QTY_UPBIT, 8,
                                     upbit_levels, churn=2, gap_prob=0.0), UPBIT, "USDT"))
        self.upbit_names["KRW-USDT"] = ("테더", "Tether")
        self.upbit = UpbitExchange(up_books, {a.api_key: UpbitWallet(dict(a.balances)) for a in accts
                                              if a.venue == UPBIT}, random.Random(seed + 2))
        self.binance = BinanceExchange(bn_books, specs, {a.api_key: FuturesWallet(dict(a.balances))
                                                         for a in accts if a.venue == BINANCE},
                                       first_order_id=4_000_000_000 + seed * 10_000)
        self.upbit_auth = UpbitAuth({a.api_key: a.secret for a in accts if a.venue == UPBIT}, NonceCache())
        self.binance_auth = BinanceAuth({a.api_key: a.secret for a in accts if a.venue == BINANCE})
        self.upbit_limiter = UpbitLimiter()
        self.binance_limiter = BinanceLimiter(weight_limit_1m=binance_weight_limit_1m)
        self.upbit_hub = UpbitHub(up_books)
        self.binance_hub = BinanceHub(bn_books, specs, self)
        self.upbit.on_trade = self.upbit_hub.record_trade
        self.stalls = {UPBIT: VenueStall(), BINANCE: VenueStall()}
        self.clients: dict[str, set[WsClient]] = {UPBIT: set(), BINANCE: set()}
        self.truth = Truth(self)
        self._tape_rng = random.Random(seed + 3)
        self._paused = False
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task] = []
        self.upbit_url = self.upbit_ws_url = self.binance_url = self.binance_ws_url = ""
        self.ticks = 0
        self.next_funding_ms = self._funding_after(self.now_ms(BINANCE))
        self._requote()
        for book in (*up_books.values(), *bn_books.values()):
            book.drain()                                   # the opening book is the snapshot, not an event
        for code, book in up_books.items():
            mid = float((book.best(BID)[0] + book.best(ASK)[0]) / 2)
            self.upbit_hub.ticker[code] = TickerState(mid, mid, mid, mid)

    # ---- clock -------------------------------------------------------------------------------
    def now_ms(self, venue: str) -> int:
        """Return the venue's server time in ms (wall clock plus the clock-skew fault)."""
        return int(time.time() * 1000) + self.dice.skew_ms(venue)

    def wall_s(self) -> float:
        return time.time()

    def iso_now(self, venue: str) -> str:
        return dt.datetime.fromtimestamp(self.now_ms(venue) / 1000, KST).isoformat(timespec="seconds")

    # ---- faults and market control ---------------------------------------------------------
    @property
    def faults(self) -> FaultPlan:
        """The live fault plan; assign a new FaultPlan or mutate this one at runtime."""
        return self.dice.plan

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        self.dice.plan = plan

    def pause_market(self) -> None:
        """Freeze the model and the quoters (orders still match against the frozen book)."""
        self._paused = True

    def resume_market(self) -> None:
        self._paused = False

    # ---- Upbit order matching ------------------------------------------------------------------
    def schedule_upbit_match(self, uuid: str) -> None:
        """Match an accepted Upbit order after `upbit_fill_delay_s` (0: on the next loop turn).

        Upbit answers POST /v1/orders before its matching engine has run (state `wait`, nothing
        executed); the fill shows up on GET /v1/order shortly after.
        """
        loop = asyncio.get_running_loop()
        handles = self._match_handles

        def run() -> None:
            handles.discard(handle)
            order = self.upbit.execute(uuid, self.now_ms(UPBIT))
            if order is not None:
                self.metrics.orders.labels(UPBIT, order.state).inc()

        delay = self.upbit_fill_delay_s
        handle = loop.call_later(delay, run) if delay > 0 else loop.call_soon(run)
        handles.add(handle)

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", upbit_port: int = 0, binance_port: int = 0) -> None:
        """Bind both venues, start the market loop, and fill in the *_url attributes."""
        ports = []
        for app, port in ((UpbitApp(self).build(), upbit_port), (BinanceApp(self).build(), binance_port)):
            runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
            await runner.setup()
            site = web.TCPSite(runner, host, port)
            await site.start()
            self._runners.append(runner)
            ports.append(runner.addresses[0][1])
        self.upbit_url, self.binance_url = f"http://{host}:{ports[0]}", f"http://{host}:{ports[1]}"
        self.upbit_ws_url, self.binance_ws_url = f"ws://{host}:{ports[0]}/websocket/v1", f"ws://{host}:{ports[1]}"
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._tick_loop(), name="sim-ticks"),
                       loop.create_task(self._fault_loop(), name="sim-faults")]
        for task in self._tasks:
            task.add_done_callback(_log_crash)

    async def stop(self) -> None:
        """Stop the loops, close every WebSocket and release both ports (bounded)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for handle in self._match_handles:      # orders still waiting for their turn stay `wait`
            handle.cancel()
        self._match_handles.clear()
        for venue in (UPBIT, BINANCE):
            await asyncio.gather(*(c.ws.close() for c in list(self.clients[venue])), return_exceptions=True)
        for runner in self._runners:
            await runner.cleanup()
        self._runners = []

    async def __aenter__(self) -> "SimulatorServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- market loop -------------------------------------------------------------------------
    def _requote(self) -> None:
        m = self.model
        for quoter, venue, base in self._quoters:
            if venue == BINANCE:
                quoter.requote(m.binance_mid(base))
            elif base == "USDT":
                quoter.requote(m.usdt_krw)
            else:
                quoter.requote(m.upbit_mid(base))

    def tick(self) -> None:
        """Run one market tick (public so tests and benchmarks can drive the model directly)."""
        now_u, now_b = self.now_ms(UPBIT), self.now_ms(BINANCE)
        if not self._paused:
            self.model.step(self.tick_interval_s)
            self._requote()
            for code, book in self.upbit.books.items():     # the public tape
                if self._tape_rng.random() < 0.2 and book.bids and book.asks:
                    side = BID if self._tape_rng.random() < 0.5 else ASK
                    px, qty = book.best(side)
                    vol = min(qty, qty * type(qty)(repr(round(self._tape_rng.random(), 4))))
                    if vol > 0:
                        self.upbit_hub.record_trade(code, px, vol, "ASK" if side == BID else "BID", now_u)
        for code in self.upbit.books:
            self.upbit.on_book_moved(code, now_u)
        for sym in self.binance.books:
            self.binance.on_book_moved(sym, now_b)
        self.settle_due_funding(now_b)
        self.upbit_hub.publish(now_u)
        self.binance_hub.publish(now_b, time.monotonic())
        self.ticks += 1

    def _funding_after(self, now_ms: int) -> int:
        step = self.funding_interval_ms
        return (now_ms // step + 1) * step

    def settle_due_funding(self, now_ms: int) -> list[dict]:
        """Settle every funding time up to `now_ms` (at the model's current rate); return the entries.

        Each funding time is settled once, stamped with that time; if the loop fell more than
        100 funding times behind, the missed ones are skipped (said in the log), not paid in a burst.
        """
        out: list[dict] = []
        if now_ms < self.next_funding_ms:
            return out
        behind = (now_ms - self.next_funding_ms) // self.funding_interval_ms
        if behind > 100:
            log.warning("simulator: %d funding times missed; settling only the last", behind)
            self.next_funding_ms += behind * self.funding_interval_ms
        rate = Decimal(repr(self.model.params.funding_rate))
        while self.next_funding_ms <= now_ms:
            out += self.binance.settle_funding(rate, self.next_funding_ms)
            self.next_funding_ms += self.funding_interval_ms
        return out

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while True:
            next_t += self.tick_interval_s
            self.tick()
            lag = loop.time() - next_t
            self.metrics.tick_lag.set(max(lag, 0.0))
            if lag > 1.0:                       # far behind: do not try to catch up in a burst
                next_t = loop.time()
            await asyncio.sleep(max(next_t - loop.time(), 0.0))

    async def _fault_loop(self) -> None:
        next_drop = {UPBIT: 0.0, BINANCE: 0.0}
        next_stall = {UPBIT: 0.0, BINANCE: 0.0}
        while True:
            await asyncio.sleep(0.05)
            plan, now = self.dice.plan, time.monotonic()
            for venue in (UPBIT, BINANCE):
                if not plan.applies(venue):
                    continue
                if plan.ws_drop_every_s > 0:
                    if next_drop[venue] == 0.0:
                        next_drop[venue] = now + plan.ws_drop_every_s
                    elif now >= next_drop[venue]:
                        next_drop[venue] = now + plan.ws_drop_every_s
                        for client in list(self.clients[venue]):
                            self.dice.count(venue, "ws_drop")
                            client.closed = True
                            asyncio.get_running_loop().create_task(client.ws.close(code=1001, message=b"going away"))
                else:
                    next_drop[venue] = 0.0
                if plan.ws_stall_every_s > 0 and plan.ws_stall_s > 0:
                    if next_stall[venue] == 0.0:
                        next_stall[venue] = now + plan.ws_stall_every_s
                    elif now >= next_stall[venue]:
                        next_stall[venue] = now + plan.ws_stall_every_s
                        self.stalls[venue].until = now + plan.ws_stall_s
                        self.dice.count(venue, "ws_stall")
                else:
                    next_stall[venue] = 0.0

    # ---- used by the apps ----------------------------------------------------------------------
    def register_ws(self, venue: str, client: WsClient) -> None:
        self.clients[venue].add(client)
        self.metrics.connections.labels(venue).inc()

    def unregister_ws(self, venue: str, client: WsClient) -> None:
        if client in self.clients[venue]:
            self.clients[venue].discard(client)
            self.metrics.connections.labels(venue).dec()

    def add_admin_routes(self, app: web.Application) -> None:
        admin_routes(self, app)

    def binance_exchange_info(self) -> dict:
        return binance_views.exchange_info(self.binance, self.now_ms(BINANCE))

    def premium_index(self, symbol: str) -> dict:
        now = self.now_ms(BINANCE)
        nxt = self.next_funding_ms if self.next_funding_ms > now else self._funding_after(now)
        return binance_views.premium_index(self.binance, symbol, now, self.model.params.funding_rate, nxt)

    def binance_balances(self, key: str) -> list[dict]:
        return binance_views.balances(self.binance, key, self.now_ms(BINANCE))

    def binance_positions(self, key: str, symbol: str | None, only_open: bool) -> list[dict]:
        return binance_views.positions(self.binance, key, symbol, only_open, self.now_ms(BINANCE))

    def binance_account(self, key: str) -> dict:
        return binance_views.account(self.binance, key, self.now_ms(BINANCE))


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("simulator task %s died", task.get_name(), exc_info=task.exception())
