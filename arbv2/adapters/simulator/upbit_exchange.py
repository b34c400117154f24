"""Upbit's exchange side: order rules, matching against the simulated book, wallets and fees.

Rules enforced (protocols/upbit.md §3, §6): KRW tick grid, 5,000 KRW minimum total, balances
with KRW fee reserved on bids, `limit` / `price` (market buy by KRW) / `market` (market sell by
volume) / `best` semantics, identifier uniqueness over the whole history, the 30-level guard on
market orders, and a market buy that leaves KRW dust ending in state `cancel`.
"""
from __future__ import annotations

import itertools
import random
import uuid as uuidlib
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from arbv2.adapters.simulator.accounts import UpbitWallet
from arbv2.adapters.simulator.book import ASK, BID, L2Book
from arbv2.adapters.simulator.specs import (UPBIT_FEE, UPBIT_MAX_TOTAL_KRW, UPBIT_MIN_TOTAL_KRW, fmt,
                                            on_krw_grid)

ZERO = Decimal(0)
VOL_Q = Decimal("0.00000001")


class UpbitReject(Exception):
    """An order/lookup error in Upbit's shape: HTTP status and `error.name`."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message


def _dec(raw: object, field_name: str, side: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise UpbitReject(400, "validation_error", f"{field_name} does not have a valid value") from None
    if not value.is_finite() or value <= 0:
        raise UpbitReject(400, "validation_error", f"{field_name} does not have a valid value")
    return value


@dataclass(slots=True)
class UpbitOrder:
    """One order as Upbit tracks it; `to_wire` renders the REST object."""

    uuid: str
    api_key: str
    market: str
    side: str
    ord_type: str
    price: Decimal | None
    volume: Decimal | None
    identifier: str | None
    time_in_force: str | None
    created_at: str
    ts_ms: int
    state: str = "wait"
    executed_volume: Decimal = ZERO
    executed_funds: Decimal = ZERO
    paid_fee: Decimal = ZERO
    reserved_fee: Decimal = ZERO
    locked: Decimal = ZERO
    trades: list[dict] = field(default_factory=list)
    reject_reason: str | None = None
    partial_ratio: float | None = None     # the partial-fill fault drawn at entry, used at matching

    @property
    def remaining_volume(self) -> Decimal | None:
        return None if self.volume is None else self.volume - self.executed_volume

    def to_wire(self, with_trades: bool = False) -> dict:
        rv = self.remaining_volume
        out = {
            "uuid": self.uuid, "side": self.side, "ord_type": self.ord_type,
            "price": None if self.price is None else fmt(self.price),
            "state": self.state, "market": self.market, "created_at": self.created_at,
            "volume": None if self.volume is None else fmt(self.volume),
            "remaining_volume": None if rv is None else fmt(rv),
            "executed_volume": fmt(self.executed_volume), "executed_funds": fmt(self.executed_funds),
            "reserved_fee": fmt(self.reserved_fee),
            "remaining_fee": fmt(max(self.reserved_fee - self.paid_fee, ZERO) if self.state == "wait" else ZERO),
            "paid_fee": fmt(self.paid_fee), "locked": fmt(self.locked if self.state == "wait" else ZERO),
            "trades_count": len(self.trades), "identifier": self.identifier,
        }
        if self.time_in_force:
            out["time_in_force"] = self.time_in_force
        if with_trades:
            out["trades"] = list(self.trades)
        return out


class UpbitExchange:
    """Order book per market, wallets per access key, and every order and fill ever seen."""

    def __init__(self, books: dict[str, L2Book], wallets: dict[str, UpbitWallet], rng: random.Random) -> None:
        self.books, self.wallets, self.rng = books, wallets, rng
        self.orders: dict[str, UpbitOrder] = {}
        self.open: dict[str, UpbitOrder] = {}
        self.pending: dict[str, UpbitOrder] = {}     # accepted, not matched yet
        self.by_identifier: dict[tuple[str, str], UpbitOrder] = {}
        self.rejected: list[dict] = []
        self.fills: list[dict] = []
        self.trade_seq = itertools.count(1)
        self.on_trade = None          # callable(market, price, volume, ask_bid, ts_ms) for the trade stream

    # ---- lookups -------------------------------------------------------------------------
    def find(self, api_key: str, uuid: str | None, identifier: str | None) -> UpbitOrder:
        order = None
        if uuid:
            order = self.orders.get(uuid)
        elif identifier:
            order = self.by_identifier.get((api_key, identifier))
        else:
            raise UpbitReject(400, "validation_error", "uuid or identifier is required")
        if order is None or order.api_key != api_key:
            raise UpbitReject(404, "order_not_found", "주문을 찾지 못했습니다.")
        return order

    def cancel(self, api_key: str, uuid: str | None, identifier: str | None) -> UpbitOrder:
        order = self.find(api_key, uuid, identifier)
        if order.state != "wait":
            raise UpbitReject(404, "order_not_found", "주문을 찾지 못했습니다.")
        self._release(order)
        order.state = "cancel"
        self.open.pop(order.uuid, None)
        self.pending.pop(order.uuid, None)
        return order

    # ---- order entry ---------------------------------------------------------------------
    def create(self, api_key: str, body: dict, now_ms: int, created_at: str, partial_ratio: float | None,
               reject: bool) -> UpbitOrder:
        """Validate, reserve and record; return the order in state `wait` or raise UpbitReject.

        Nothing is matched yet: the order waits in `pending` until `execute(uuid)` runs the
        matching engine on it (the Upbit app schedules that right after answering).
        """
        market, side, ord_type = body.get("market"), body.get("side"), body.get("ord_type")
        ident = body.get("identifier")
        if ident is not None:
            ident = str(ident)
            if (api_key, ident) in self.by_identifier:
                raise UpbitReject(400, "validation_error", "identifier는 중복될 수 없습니다.")
        try:
            order = self._validate(api_key, body, now_ms, created_at, market, side, ord_type, ident)
            if reject:
                raise UpbitReject(400, f"create_{side}_error", "주문 요청이 거부되었습니다.")
        except UpbitReject as exc:
            if ident is not None:      # identifiers may never be reused, even after a failure
                self.by_identifier[(api_key, ident)] = None  # type: ignore[assignment]
            self.rejected.append({"venue": "upbit", "api_key": api_key, "identifier": ident,
                                  "market": market, "side": side, "ord_type": ord_type,
                                  "status": "rejected", "reason": exc.name, "executed_qty": "0"})
            raise
        self.orders[order.uuid] = order
        if ident is not None:
            self.by_identifier[(api_key, ident)] = order
        order.partial_ratio = partial_ratio
        self.pending[order.uuid] = order
        return order

    def execute(self, uuid: str, now_ms: int) -> UpbitOrder | None:
        """Match an accepted order against the book as it is now; return it (None if not pending).

        An order cancelled before its turn is left as it is. A limit order that does not cross
        (fully) rests as `wait` and fills later in `on_book_moved`.
        """
        order = self.pending.pop(uuid, None)
        if order is None or order.state != "wait":
            return None
        self._match(order, now_ms, order.partial_ratio)
        if order.state == "wait":
            self.open[order.uuid] = order
        return order

    def _validate(self, api_key: str, body: dict, now_ms: int, created_at: str, market: object,
                  side: object, ord_type: object, ident: str | None) -> UpbitOrder:
        if market not in self.books:
            raise UpbitReject(404, "market_does_not_exist", "마켓이 존재하지 않습니다.")
        if side not in ("bid", "ask"):
            raise UpbitReject(400, "validation_error", "side is missing, side does not have a valid value")
        if ord_type not in ("limit", "price", "market", "best"):
            raise UpbitReject(400, "validation_error", "ord_type does not have a valid value")
        tif = body.get("time_in_force")
        if tif is not None and (tif not in ("ioc", "fok", "post_only") or ord_type not in ("limit", "best")):
            raise UpbitReject(400, "validation_error", "time_in_force does not have a valid value")
        if ord_type == "best" and tif not in ("ioc", "fok"):
            raise UpbitReject(400, "validation_error", "best orders need time_in_force ioc or fok")
        price_raw, vol_raw = body.get("price"), body.get("volume")
        price = volume = None
        wants_price = ord_type == "limit" or (side == "bid" and ord_type in ("price", "best"))
        wants_volume = ord_type in ("limit", "market") or (side == "ask" and ord_type == "best")
        if (price_raw is not None) != wants_price or (vol_raw is not None) != wants_volume:
            raise UpbitReject(400, f"create_{side}_error", "주문 파라미터가 주문 유형과 맞지 않습니다.")
        if ord_type in ("price", "market") and (side == "bid") != (ord_type == "price"):
            raise UpbitReject(400, f"create_{side}_error", "시장가 매수는 price, 시장가 매도는 market 입니다.")
        if price_raw is not None:
            price = _dec(price_raw, "price", side)
        if vol_raw is not None:
            volume = _dec(vol_raw, "volume", side)
            if volume != volume.quantize(VOL_Q, rounding=ROUND_FLOOR):
                raise UpbitReject(400, "validation_error", "volume은 소수점 8자리까지 입력 가능합니다.")
        book = self.books[market]
        quote, base = market.split("-")
        if ord_type == "limit" and not on_krw_grid(price):
            raise UpbitReject(400, f"invalid_price_{side}", "주문 가격 단위를 잘못 입력하셨습니다.")
        if ord_type == "limit":
            total = price * volume
        elif side == "bid":
            total = price
        else:
            best = book.best(BID)
            total = volume * (best[0] if best else ZERO)
        if total < UPBIT_MIN_TOTAL_KRW:
            raise UpbitReject(400, f"under_min_total_{side}", "최소주문금액 이상으로 주문해주세요")
        if total > UPBIT_MAX_TOTAL_KRW:
            raise UpbitReject(400, f"over_max_total_{side}", "최대주문금액 이하로 주문해주세요")
        if ord_type in ("price", "market"):
            self._guard_depth(book, side, price, volume)
        wallet = self.wallets[api_key]
        uid = str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))
        order = UpbitOrder(uid, api_key, market, side, ord_type, price, volume, ident, tif, created_at, now_ms)
        if side == "bid":
            need = total + total * UPBIT_FEE
            if wallet.available(quote) < need:
                raise UpbitReject(400, "insufficient_funds_bid", f"주문가능한 금액({quote})이 부족합니다.")
            order.reserved_fee = total * UPBIT_FEE
            order.locked = need
            wallet.lock(quote, need)
        else:
            if wallet.available(base) < volume:
                raise UpbitReject(400, "insufficient_funds_ask", f"주문가능한 금액({base})이 부족합니다.")
            order.reserved_fee = total * UPBIT_FEE
            order.locked = volume
            wallet.lock(base, volume)
        return order

    @staticmethod
    def _guard_depth(book: L2Book, side: str, price: Decimal | None, volume: Decimal | None) -> None:
        if side == "bid":
            depth_value = sum((p * q for p, q in book.top(ASK, 30)), ZERO)
            if price is not None and price > depth_value:
                raise UpbitReject(400, "create_bid_error", "호가 30단계 잔량을 초과하는 시장가 주문입니다.")
        else:
            depth_qty = sum((q for _, q in book.top(BID, 30)), ZERO)
            if volume is not None and volume > depth_qty:
                raise UpbitReject(400, "create_ask_error", "호가 30단계 잔량을 초과하는 시장가 주문입니다.")

    # ---- matching ------------------------------------------------------------------------
    def _match(self, order: UpbitOrder, now_ms: int, partial_ratio: float | None) -> None:
        book = self.books[order.market]
        resting = ASK if order.side == "bid" else BID
        if order.ord_type == "best":
            best = book.best(resting)
            limit_px = best[0] if best else None
        else:
            limit_px = order.price if order.ord_type == "limit" else None
        max_qty = order.volume
        max_quote = order.price if (order.side == "bid" and order.ord_type in ("price", "best")) else None
        if partial_ratio is not None:
            if max_qty is not None:
                max_qty = (max_qty * Decimal(repr(partial_ratio))).quantize(VOL_Q, rounding=ROUND_FLOOR)
            if max_quote is not None:
                max_quote = max_quote * Decimal(repr(partial_ratio))
        if order.time_in_force == "post_only" and limit_px is not None:
            best = book.best(resting)
            if best and ((order.side == "bid" and best[0] <= limit_px) or (order.side == "ask" and best[0] >= limit_px)):
                self._release(order)
                order.state = "cancel"
                return
        if order.time_in_force == "fok":
            probe = sum((q for p, q in book.top(resting, 1000)
                         if limit_px is None or (p <= limit_px if resting == ASK else p >= limit_px)), ZERO)
            if order.volume is not None and probe < order.volume:
                self._release(order)
                order.state = "cancel"
                return
        fills = book.take(resting, max_qty, max_quote, limit_px, VOL_Q) if book.best(resting) else []
        for px, qty in fills:
            self._fill(order, px, qty, now_ms, "ASK" if order.side == "ask" else "BID")
        self._settle(order)

    def _fill(self, order: UpbitOrder, price: Decimal, qty: Decimal, now_ms: int, trend: str) -> None:
        quote, base = order.market.split("-")
        wallet = self.wallets[order.api_key]
        funds = price * qty
        fee = funds * UPBIT_FEE
        if order.side == "bid":
            wallet.spend_locked(quote, funds + fee)
            order.locked -= funds + fee
            wallet.buy_cost(base, qty, price)
            wallet.credit(base, qty)
        else:
            wallet.spend_locked(base, qty)
            order.locked -= qty
            wallet.credit(quote, funds - fee)
        order.executed_volume += qty
        order.executed_funds += funds
        order.paid_fee += fee
        trade_uuid = str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))
        order.trades.append({"market": order.market, "uuid": trade_uuid, "price": fmt(price),
                             "volume": fmt(qty), "funds": fmt(funds), "trend": "up" if trend == "BID" else "down",
                             "side": order.side, "created_at": order.created_at})
        self.fills.append({"venue": "upbit", "api_key": order.api_key, "uuid": order.uuid,
                           "client_order_id": order.identifier, "market": order.market, "side": order.side,
                           "price": price, "qty": qty, "funds": funds, "fee": fee, "fee_currency": quote,
                           "ts": now_ms, "trade_id": next(self.trade_seq)})
        if self.on_trade is not None:
            self.on_trade(order.market, price, qty, trend, now_ms)

    def _settle(self, order: UpbitOrder) -> None:
        """Decide the state after matching: rest, done, or cancel (releasing what is left)."""
        if order.ord_type == "limit" and order.time_in_force is None:
            if order.remaining_volume == 0:
                self._release(order)
                order.state = "done"
            return                                   # rests as `wait`
        if order.volume is not None and order.remaining_volume == 0:
            order.state = "done"
        elif order.ord_type in ("price", "best") and order.side == "bid" and order.executed_funds == order.price:
            order.state = "done"
        else:
            order.state = "cancel"                   # dust, IOC remainder, or thin book
        self._release(order)

    def _release(self, order: UpbitOrder) -> None:
        if order.locked <= 0:
            return
        quote, base = order.market.split("-")
        self.wallets[order.api_key].unlock(quote if order.side == "bid" else base, order.locked)
        order.locked = ZERO

    def on_book_moved(self, market: str, now_ms: int) -> None:
        """Fill resting limit orders the market has crossed, at their own price."""
        book = self.books[market]
        for order in [o for o in self.open.values() if o.market == market]:
            resting = ASK if order.side == "bid" else BID
            best = book.best(resting)
            if best is None or (best[0] > order.price if order.side == "bid" else best[0] < order.price):
                continue
            taken = book.take(resting, order.remaining_volume, None, order.price, VOL_Q)
            qty = sum((q for _, q in taken), ZERO)
            if qty > 0:
                self._fill(order, order.price, qty, now_ms, "ASK" if order.side == "bid" else "BID")
                self._settle(order)
                if order.state != "wait":
                    self.open.pop(order.uuid, None)
