"""BinanceUsdmAdapter: the ExchangePort for Binance USDⓈ-M perpetuals over signed REST.

Orders go out only when the safety gate allows. A send that times out is never repeated blindly:
the order is looked up by origClientOrderId and reported UNKNOWN when the venue cannot say.

Fills are the venue's: an order read back executed (final, or partially filled) gets its trades
from GET /fapi/v1/userTrades?symbol=&orderId= (weight 5), one Fill per trade with its id, price,
qty and commission. That read is bounded by `trades_timeout_s`; when it fails, or the trades do not
add up to a final order's executedQty in time, the order keeps one estimated fill
("<orderId>:est", configured taker rate) and a warning is logged once for that order.
"""
from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any, Iterable

from arbv2.adapters.binance.errors import NO_CHANGE_CODES
from arbv2.adapters.binance.http import BinanceHttp
from arbv2.adapters.binance.orders import parse_order, trade_fills, wants_trades, with_trades
from arbv2.adapters.binance.rules import BinanceSymbolRules, translate
from arbv2.adapters.binance.symbols import from_symbol, to_symbol
from arbv2.adapters.common.clock import SystemClock
from arbv2.adapters.common.decimals import dec_or_zero
from arbv2.adapters.common.rate_limits import buckets_from_config
from arbv2.adapters.common.safety import check_send_allowed
from arbv2.adapters.common.transport import RestTransport
from arbv2.adapters.memory.rate_limiter import MemoryRateLimiter
from arbv2.core.config import Config
from arbv2.core.errors import InvalidOrder, VenueError, VenueUnavailable
from arbv2.core.model import Fill, Order, OrderIntent, OrderStatus, OrderType, Position, Venue
from arbv2.ports.clock import Clock
from arbv2.ports.rate_limit import RateLimiter

log = logging.getLogger(__name__)


def unified(symbol_or_base: str) -> str:
    """Return "BTC/USDT:USDT" for "BTC" or "BTC/USDT:USDT"."""
    return symbol_or_base if "/" in symbol_or_base else f"{symbol_or_base}/USDT:USDT"


class BinanceUsdmAdapter:
    """ExchangePort for Binance USDⓈ-M. Call `await load_markets()` (or pass `rules`) before trading."""

    venue = Venue.BINANCE_USDM

    def __init__(self, cfg: Config, *, rate_limiter: RateLimiter | None = None, clock: Clock | None = None,
                 metrics: Any = None, live_preflight_passed: bool = False,
                 rules: dict[str, BinanceSymbolRules] | None = None,
                 settle_timeout_s: float = 2.0, settle_poll_s: float = 0.05,
                 trades_timeout_s: float = 1.0) -> None:
        self._cfg = cfg
        vc = cfg.venues.binance_usdm
        self._clock = clock or SystemClock()
        self._limiter = rate_limiter or MemoryRateLimiter(self._clock, buckets_from_config(cfg))
        self._live_ok = live_preflight_passed
        s = cfg.secrets
        self._transport = RestTransport("binance_usdm", vc.rest_url, vc.request_timeout_s,
                                        secrets=tuple(v for v in (s.binance_api_key, s.binance_api_secret) if v))
        self._http = BinanceHttp(self._transport, self._limiter, self._clock, api_key=s.binance_api_key,
                                 api_secret=s.binance_api_secret, recv_window_ms=vc.recv_window_ms,
                                 weight_limit_per_min=vc.weight_limit_per_min, metrics=metrics)
        self._rules: dict[str, BinanceSymbolRules] = dict(rules or {})
        self._mark: dict[str, Decimal] = {}
        self._taker = Decimal(str(vc.fees.taker_bps)) / Decimal(10_000)
        self._settle_timeout_s = settle_timeout_s
        self._settle_poll_s = settle_poll_s
        self._trades_timeout_s = trades_timeout_s
        self._estimated: set[str] = set()     # order ids whose fallback was logged

    # ------------------------------------------------------------------ rules and time
    @property
    def rules(self) -> dict[str, BinanceSymbolRules]:
        return dict(self._rules)

    @property
    def time_offset_ms(self) -> int:
        return self._http.offset_ms

    async def sync_time(self) -> int:
        return await self._http.sync_time()

    async def exchange_info(self) -> dict:
        return await self._http.read("GET", "/fapi/v1/exchangeInfo", weight=1)

    async def load_markets(self, symbols: Iterable[str] | None = None) -> dict[str, BinanceSymbolRules]:
        """Sync the clock, then load PRICE_FILTER/LOT_SIZE/MARKET_LOT_SIZE/MIN_NOTIONAL from exchangeInfo."""
        await self.sync_time()
        wanted = {to_symbol(unified(s)) for s in (symbols or self._cfg.symbols)}
        for doc in (await self.exchange_info()).get("symbols", []):
            if doc.get("symbol") not in wanted:
                continue
            if doc.get("contractType", "PERPETUAL") != "PERPETUAL" or doc.get("status", "TRADING") != "TRADING":
                log.warning("binance_usdm: %s is not a trading perpetual, skipped", doc.get("symbol"))
                continue
            self._rules[doc["symbol"]] = BinanceSymbolRules.from_exchange_info(doc)
        missing = wanted - set(self._rules)
        if missing:
            log.warning("binance_usdm: symbols not listed, skipped: %s", ", ".join(sorted(missing)))
        try:  # mark prices let MIN_NOTIONAL be checked on market orders too
            for doc in await self._http.read("GET", "/fapi/v1/premiumIndex", weight=10):
                if doc.get("symbol") in wanted and doc.get("markPrice"):
                    self._mark[doc["symbol"]] = dec_or_zero(doc["markPrice"])
        except VenueError as exc:
            log.warning("binance_usdm: mark prices unavailable (%s); market MIN_NOTIONAL left to the venue", exc)
        return self.rules

    def translate_intent(self, intent: OrderIntent) -> dict:
        if intent.venue is not Venue.BINANCE_USDM:
            raise InvalidOrder(f"binance adapter got an intent for {intent.venue.value}", venue="binance_usdm")
        symbol = to_symbol(intent.symbol)
        rules = self._rules.get(symbol)
        if rules is None:
            raise InvalidOrder(f"binance_usdm: no rules for {symbol}; call load_markets() first", venue="binance_usdm")
        return translate(intent, rules, self._mark.get(symbol))

    # ------------------------------------------------------------------ orders
    def _check_send(self, action: str) -> None:
        check_send_allowed(self._cfg, self._cfg.venues.binance_usdm.rest_url,
                           live_preflight_passed=self._live_ok, action=f"binance_usdm {action}")

    async def submit(self, intent: OrderIntent) -> Order:
        self._check_send("submit")
        params = self.translate_intent(intent)
        try:
            doc = await self._http.call("POST", "/fapi/v1/order", params, signed=True, weight=0, order=True)
        except VenueUnavailable as exc:
            log.warning("binance_usdm submit %s: %s; looking it up instead of resending", intent.client_order_id, exc)
            return await self._lookup_after_failure(intent)
        order = parse_order(doc, self._taker, intent.client_order_id)
        takes_now = intent.order_type is OrderType.MARKET or intent.time_in_force in ("ioc", "fok")
        if takes_now and not order.status.is_final:
            order = await self._settle(order)
        return await self._with_fills(order)

    async def _lookup_after_failure(self, intent: OrderIntent) -> Order:
        try:
            return await self.order_status(intent.symbol, intent.client_order_id)
        except VenueError as exc:
            log.warning("binance_usdm: %s not confirmed (%s); status UNKNOWN", intent.client_order_id, exc)
            return Order(venue=Venue.BINANCE_USDM, symbol=intent.symbol, side=intent.side,
                         order_type=intent.order_type, client_order_id=intent.client_order_id, venue_order_id=None,
                         status=OrderStatus.UNKNOWN, quantity=intent.quantity, quote_amount=None,
                         price=intent.price, ts_ns=self._clock.now_ns())

    async def _settle(self, order: Order) -> Order:
        """Poll the order object (no trades: those are read once, at the end) until it is final."""
        waited = 0.0
        while not order.status.is_final and waited < self._settle_timeout_s:
            await self._clock.sleep(self._settle_poll_s)
            waited += self._settle_poll_s
            try:
                order = parse_order(await self._order_doc(order.symbol, order.client_order_id), self._taker,
                                    order.client_order_id)
            except VenueError as exc:
                log.warning("binance_usdm: polling %s failed: %s", order.client_order_id, exc)
                break
        return order

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        self._check_send("cancel")
        doc = await self._http.call("DELETE", "/fapi/v1/order",
                                    {"symbol": to_symbol(symbol), "origClientOrderId": client_order_id},
                                    signed=True, weight=1)
        return await self._with_fills(parse_order(doc, self._taker, client_order_id))

    async def order_status(self, symbol: str, client_order_id: str) -> Order:
        doc = await self._order_doc(symbol, client_order_id)
        return await self._with_fills(parse_order(doc, self._taker, client_order_id))

    async def _order_doc(self, symbol: str, client_order_id: str) -> dict:
        return await self._http.read("GET", "/fapi/v1/order",
                                     {"symbol": to_symbol(symbol), "origClientOrderId": client_order_id},
                                     signed=True, weight=1)

    # ------------------------------------------------------------------ the venue's fills
    async def user_trades(self, symbol: str, *, order_id: str | int | None = None, from_id: int | None = None,
                          start_ms: int | None = None, end_ms: int | None = None, limit: int | None = None) -> list[dict]:
        """Return GET /fapi/v1/userTrades (weight 5) for `symbol` with the given filters."""
        params: dict[str, object] = {"symbol": to_symbol(symbol)}
        for name, value in (("orderId", order_id), ("fromId", from_id), ("startTime", start_ms),
                            ("endTime", end_ms), ("limit", limit)):
            if value is not None:
                params[name] = value
        return await self._http.read("GET", "/fapi/v1/userTrades", params, signed=True, weight=5)

    async def _with_fills(self, order: Order) -> Order:
        """Return `order` with the venue's trades as its fills when it executed; else as parsed."""
        if not wants_trades(order):
            return order
        try:
            fills = await asyncio.wait_for(self._trade_fills(order), self._trades_timeout_s)
        except Exception as exc:      # the order result comes first: any failure falls back
            self._log_estimate(order, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            return order
        if fills is None:
            self._log_estimate(order, f"trades do not add up to executedQty {order.filled_qty} "
                                      f"after {self._trades_timeout_s:g} s")
            return order
        return with_trades(order, fills)

    async def _trade_fills(self, order: Order) -> tuple[Fill, ...] | None:
        """Read the order's trades; for a final order, until they add up to its executedQty
        (None when they do not by `trades_timeout_s` on the adapter's clock)."""
        deadline = self._clock.monotonic_ns() + int(self._trades_timeout_s * 1e9)
        while True:
            page = await self.user_trades(order.symbol, order_id=order.venue_order_id, limit=1000)
            fills = trade_fills(order, page)
            if not order.status.is_final or sum((f.quantity for f in fills), Decimal(0)) >= order.filled_qty:
                return fills
            if self._clock.monotonic_ns() + int(self._settle_poll_s * 1e9) > deadline:
                return None
            await self._clock.sleep(self._settle_poll_s)

    def _log_estimate(self, order: Order, why: str) -> None:
        if not order.status.is_final:
            return      # a partial read without trades carries no fills: nothing estimated
        if order.venue_order_id in self._estimated:
            return
        if len(self._estimated) >= 10_000:
            self._estimated.clear()
        self._estimated.add(order.venue_order_id or "")
        log.warning("binance_usdm: trades of order %s (%s) unavailable (%s); recording estimated fill %s:est "
                    "at the configured taker rate", order.venue_order_id, order.client_order_id, why,
                    order.venue_order_id)

    # ------------------------------------------------------------------ account setup (gated writes)
    async def set_leverage(self, symbol: str, leverage: int) -> dict:
        self._check_send("set leverage")
        return await self._http.call("POST", "/fapi/v1/leverage", {"symbol": to_symbol(symbol), "leverage": leverage},
                                     signed=True, weight=1)

    async def set_margin_type(self, symbol: str, margin_type: str) -> bool:
        """Set ISOLATED/CROSSED; return False when it was already set (-4046)."""
        self._check_send("set margin type")
        try:
            await self._http.call("POST", "/fapi/v1/marginType",
                                  {"symbol": to_symbol(symbol), "marginType": margin_type}, signed=True, weight=1)
        except VenueError as exc:
            if exc.code in NO_CHANGE_CODES:
                return False
            raise
        return True

    # ------------------------------------------------------------------ account and market data
    async def position_risk(self, symbol: str | None = None) -> list[dict]:
        params = {"symbol": to_symbol(symbol)} if symbol else None
        return await self._http.read("GET", "/fapi/v3/positionRisk", params, signed=True, weight=5)

    async def positions(self) -> list[Position]:
        out = []
        for p in await self.position_risk():
            qty = dec_or_zero(p.get("positionAmt"))
            if qty != 0:
                out.append(Position(venue=Venue.BINANCE_USDM, symbol=from_symbol(p["symbol"]), quantity=qty,
                                    avg_price=dec_or_zero(p.get("entryPrice"))))
        return out

    async def balance(self) -> list[dict]:
        return await self._http.read("GET", "/fapi/v3/balance", signed=True, weight=5)

    async def balances(self) -> dict[str, Decimal]:
        """Return availableBalance per asset."""
        return {b["asset"]: dec_or_zero(b.get("availableBalance")) for b in await self.balance()}

    async def income(self, income_type: str | None = "FUNDING_FEE", start_ms: int | None = None,
                     limit: int = 1000, *, symbol: str | None = None, end_ms: int | None = None) -> list[dict]:
        """Return GET /fapi/v1/income (weight 30), oldest first, with `income` as a Decimal.

        Each entry keeps the venue's fields (symbol, incomeType, income, asset, time, tranId, info,
        tradeId); `time` and `tranId` are ints. With `start_ms` the venue returns the oldest `limit`
        entries from then on (page by the last entry's time); without it, the most recent ones.
        """
        params: dict[str, object] = {"limit": limit}
        for name, value in (("symbol", to_symbol(unified(symbol)) if symbol else None), ("incomeType", income_type),
                            ("startTime", start_ms), ("endTime", end_ms)):
            if value is not None:
                params[name] = value
        page = await self._http.read("GET", "/fapi/v1/income", params, signed=True, weight=30)
        return [{**e, "income": dec_or_zero(e.get("income")), "time": int(e["time"]), "tranId": int(e["tranId"])}
                for e in page]

    async def premium_index(self, symbol: str) -> dict:
        """Return mark price and funding for `symbol`; keep the mark for MIN_NOTIONAL checks."""
        doc = await self._http.read("GET", "/fapi/v1/premiumIndex", {"symbol": to_symbol(symbol)}, weight=1)
        if doc.get("markPrice"):
            self._mark[doc["symbol"]] = dec_or_zero(doc["markPrice"])
        return doc

    async def close(self) -> None:
        await self._transport.close()
