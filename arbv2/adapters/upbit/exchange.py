"""UpbitAdapter: the ExchangePort for Upbit KRW spot over signed REST.

Sends orders only when the safety gate allows (mode `sim`, or `live` with unlock + preflight).
A send that times out is never repeated: the order is looked up by its identifier (Upbit never
accepts an identifier twice) and reported UNKNOWN when the venue cannot say.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Iterable

from arbv2.adapters.common.clock import SystemClock
from arbv2.adapters.common.decimals import dec, dec_or_zero
from arbv2.adapters.common.rate_limits import buckets_from_config
from arbv2.adapters.common.safety import check_send_allowed
from arbv2.adapters.common.transport import RestTransport
from arbv2.adapters.memory.rate_limiter import MemoryRateLimiter
from arbv2.adapters.upbit.http import UpbitHttp
from arbv2.adapters.upbit.orders import parse_order
from arbv2.adapters.upbit.rules import DEFAULT_MIN_TOTAL_KRW, UpbitMarketRules, translate
from arbv2.adapters.upbit.symbols import from_market, to_market
from arbv2.core.config import Config
from arbv2.core.errors import InvalidOrder, UnknownOrder, VenueError, VenueUnavailable
from arbv2.core.model import Order, OrderIntent, OrderStatus, OrderType, Position, Venue
from arbv2.ports.clock import Clock
from arbv2.ports.rate_limit import RateLimiter

log = logging.getLogger(__name__)


def unified(symbol_or_base: str) -> str:
    """Return "BTC/KRW" for "BTC" or "BTC/KRW"."""
    return symbol_or_base if "/" in symbol_or_base else f"{symbol_or_base}/KRW"


class UpbitAdapter:
    """ExchangePort for Upbit. Call `await load_markets()` (or pass `rules`) before translating."""

    venue = Venue.UPBIT

    def __init__(self, cfg: Config, *, rate_limiter: RateLimiter | None = None, clock: Clock | None = None,
                 metrics: Any = None, live_preflight_passed: bool = False,
                 rules: dict[str, UpbitMarketRules] | None = None,
                 settle_timeout_s: float = 2.0, settle_poll_s: float = 0.05) -> None:
        self._cfg = cfg
        vc = cfg.venues.upbit
        self._clock = clock or SystemClock()
        self._limiter = rate_limiter or MemoryRateLimiter(self._clock, buckets_from_config(cfg))
        self._live_ok = live_preflight_passed
        s = cfg.secrets
        self._transport = RestTransport("upbit", vc.rest_url, vc.request_timeout_s,
                                        secrets=tuple(v for v in (s.upbit_access_key, s.upbit_secret_key) if v))
        self._http = UpbitHttp(self._transport, self._limiter, self._clock, access_key=s.upbit_access_key,
                               secret_key=s.upbit_secret_key, jwt_algorithm=vc.jwt_algorithm, metrics=metrics)
        self._rules: dict[str, UpbitMarketRules] = dict(rules or {})
        self._settle_timeout_s = settle_timeout_s
        self._settle_poll_s = settle_poll_s

    # ------------------------------------------------------------------ rules
    @property
    def rules(self) -> dict[str, UpbitMarketRules]:
        """Loaded rules by market code ("KRW-BTC")."""
        return dict(self._rules)

    async def load_markets(self, symbols: Iterable[str] | None = None) -> dict[str, UpbitMarketRules]:
        """Load tick sizes (/v1/orderbook/instruments) and order totals (/v1/orders/chance)."""
        wanted = [to_market(unified(s)) for s in (symbols or self._cfg.symbols)]
        listed = {m["market"] for m in await self.markets()}
        missing = [m for m in wanted if m not in listed]
        if missing:
            log.warning("upbit: markets not listed, skipped: %s", ", ".join(missing))
        markets = [m for m in wanted if m in listed]
        ticks: dict[str, Decimal] = {}
        if markets:
            try:
                for item in await self._http.read("/v1/orderbook/instruments", {"markets": ",".join(markets)},
                                                  private=False, bucket="upbit:orderbook"):
                    ticks[item["market"]] = dec(item["tick_size"])
            except VenueError as exc:
                log.warning("upbit: instruments unavailable (%s); using the KRW tick table", exc)
        for market in markets:
            self._rules[market] = await self._market_rules(market, ticks.get(market))
        return self.rules

    async def _market_rules(self, market: str, tick: Decimal | None) -> UpbitMarketRules:
        if not self._http.has_keys:
            log.info("upbit: no API keys; %s minimum total defaults to %s KRW", market, DEFAULT_MIN_TOTAL_KRW)
            return UpbitMarketRules(market=market, tick_size=tick)
        doc = await self._http.read("/v1/orders/chance", {"market": market}, private=True, bucket="upbit:default")
        m = doc.get("market") or {}
        bid_min = dec_or_zero((m.get("bid") or {}).get("min_total"))
        ask_min = dec_or_zero((m.get("ask") or {}).get("min_total"))
        return UpbitMarketRules(
            market=market, tick_size=tick, min_total=max(bid_min, ask_min) or DEFAULT_MIN_TOTAL_KRW,
            max_total=dec_or_zero(m.get("max_total")) or None,
            bid_fee=dec_or_zero(doc.get("bid_fee")) or Decimal("0.0005"),
            ask_fee=dec_or_zero(doc.get("ask_fee")) or Decimal("0.0005"))

    def translate_intent(self, intent: OrderIntent) -> dict:
        if intent.venue is not Venue.UPBIT:
            raise InvalidOrder(f"upbit adapter got an intent for {intent.venue.value}", venue="upbit")
        market = to_market(intent.symbol)
        rules = self._rules.get(market)
        if rules is None:
            raise InvalidOrder(f"upbit: no rules for {market}; call load_markets() first", venue="upbit")
        return translate(intent, rules)

    # ------------------------------------------------------------------ orders
    def _check_send(self, action: str) -> None:
        check_send_allowed(self._cfg, self._cfg.venues.upbit.rest_url,
                           live_preflight_passed=self._live_ok, action=f"upbit {action}")

    async def submit(self, intent: OrderIntent) -> Order:
        self._check_send("submit")
        body = self.translate_intent(intent)
        try:
            doc = await self._http.call("POST", "/v1/orders", body, private=True, bucket="upbit:order")
        except VenueUnavailable as exc:
            log.warning("upbit submit %s: %s; looking it up instead of resending", intent.client_order_id, exc)
            return await self._lookup_after_failure(intent)
        order = parse_order(doc, intent.client_order_id)
        takes_now = intent.order_type is OrderType.MARKET or intent.time_in_force in ("ioc", "fok")
        if takes_now and (not order.status.is_final or (order.filled_qty > 0 and not order.fills)):
            order = await self._settle(order, fetch_once=True)   # POST answers carry no trades
        return order

    async def _lookup_after_failure(self, intent: OrderIntent) -> Order:
        try:
            order = await self.order_status(intent.symbol, intent.client_order_id)
        except (UnknownOrder, VenueError) as exc:
            log.warning("upbit: %s not confirmed (%s); status UNKNOWN", intent.client_order_id, exc)
            return Order(venue=Venue.UPBIT, symbol=intent.symbol, side=intent.side, order_type=intent.order_type,
                         client_order_id=intent.client_order_id, venue_order_id=None, status=OrderStatus.UNKNOWN,
                         quantity=intent.quantity, quote_amount=intent.quote_amount, price=intent.price,
                         ts_ns=self._clock.now_ns())
        return await self._settle(order) if not order.status.is_final else order

    async def _settle(self, order: Order, fetch_once: bool = False) -> Order:
        """Poll GET /v1/order by uuid until the order is final (Upbit answers before the fill).

        `fetch_once` reads the order at least once, for its `trades` (the fills).
        """
        waited = 0.0
        while order.venue_order_id and (fetch_once or (not order.status.is_final and waited < self._settle_timeout_s)):
            if not fetch_once:
                await self._clock.sleep(self._settle_poll_s)
                waited += self._settle_poll_s
            fetch_once = False
            try:
                order = await self.fetch_order(uuid=order.venue_order_id)
            except VenueError as exc:
                log.warning("upbit: polling %s failed: %s", order.client_order_id, exc)
                break
        return order

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        self._check_send("cancel")
        doc = await self._http.call("DELETE", "/v1/order", {"identifier": client_order_id},
                                    private=True, bucket="upbit:default")
        return await self._settle(parse_order(doc, client_order_id))

    async def order_status(self, symbol: str, client_order_id: str) -> Order:
        return await self.fetch_order(identifier=client_order_id)

    async def fetch_order(self, *, uuid: str | None = None, identifier: str | None = None) -> Order:
        """Return one order by exchange uuid or by identifier (the client order id)."""
        if (uuid is None) == (identifier is None):
            raise ValueError("fetch_order: give exactly one of uuid, identifier")
        params = {"uuid": uuid} if uuid else {"identifier": identifier}
        doc = await self._http.read("/v1/order", params, private=True, bucket="upbit:default")
        return parse_order(doc, identifier)

    # ------------------------------------------------------------------ account and market data
    async def accounts(self) -> list[dict]:
        return await self._http.read("/v1/accounts", private=True, bucket="upbit:default")

    async def balances(self) -> dict[str, Decimal]:
        return {a["currency"]: dec_or_zero(a.get("balance")) for a in await self.accounts()}

    async def positions(self) -> list[Position]:
        """Return spot holdings (balance + locked) as positions, KRW excluded."""
        out = []
        for a in await self.accounts():
            qty = dec_or_zero(a.get("balance")) + dec_or_zero(a.get("locked"))
            if a["currency"] != "KRW" and qty > 0:
                out.append(Position(venue=Venue.UPBIT, symbol=f"{a['currency']}/{a.get('unit_currency') or 'KRW'}",
                                    quantity=qty, avg_price=dec_or_zero(a.get("avg_buy_price"))))
        return out

    async def markets(self) -> list[dict]:
        return await self._http.read("/v1/market/all", private=False, bucket="upbit:market")

    async def order_book(self, symbol: str, count: int | None = None) -> dict:
        params: dict[str, Any] = {"markets": to_market(symbol)}
        if count is not None:
            params["count"] = count
        books = await self._http.read("/v1/orderbook", params, private=False, bucket="upbit:orderbook")
        return books[0]

    async def ticker(self, symbols: Iterable[str]) -> dict[str, dict]:
        """Return ticker objects by unified symbol."""
        markets = ",".join(to_market(s) for s in symbols)
        docs = await self._http.read("/v1/ticker", {"markets": markets}, private=False, bucket="upbit:ticker")
        return {from_market(d["market"]): d for d in docs}

    async def close(self) -> None:
        await self._transport.close()
