"""Binance USDⓈ-M's exchange side: filters, one-way positions, margin, matching and fees.

Rules enforced (protocols/binance-usdm.md §2, §5): PRICE_FILTER tick, LOT_SIZE / MARKET_LOT_SIZE
step and bounds, MIN_NOTIONAL (reduce-only exempt), -1111 on excess decimals, reduceOnly in
one-way mode, newClientOrderId unique among open orders, margin = notional / leverage. Fees are
the account's rate (default taker 0.05 % / maker 0.02 %, `set_commission_rates` for a VIP tier or
a discount) of each trade's notional, rounded to 8 decimals (what userTrades states is what the
USDT wallet pays). Every matched level is one trade with its own id, as GET /fapi/v1/userTrades
lists them (`user_trades`).

Funding (`settle_funding`): at each funding time every open position pays or receives
-positionAmt x mark x rate (longs pay a positive rate), rounded half-up to 8 decimals, credited to
the USDT wallet and recorded as a FUNDING_FEE income entry; fills also record their COMMISSION and
(when non-zero) REALIZED_PNL income, as GET /fapi/v1/income lists them (`income_history`).
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from arbv2.adapters.simulator.accounts import FuturesWallet
from arbv2.adapters.simulator.book import ASK, BID, L2Book
from arbv2.adapters.simulator.specs import BINANCE_MAKER_FEE, BINANCE_TAKER_FEE, PerpSpec, decimals_of, fmt

ZERO = Decimal(0)
_CID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
COMMISSION_QUANTUM = Decimal("0.00000001")   # commissions are charged and reported to 8 decimals
USER_TRADES_WINDOW_MS = 7 * 24 * 3600 * 1000  # userTrades: at most 7 days per query
USER_TRADES_LIMIT_DEFAULT, USER_TRADES_LIMIT_MAX = 500, 1000
INCOME_LIMIT_DEFAULT, INCOME_LIMIT_MAX = 100, 1000
INCOME_DEFAULT_WINDOW_MS = 7 * 24 * 3600 * 1000  # income without startTime/endTime: the last 7 days
INCOME_TYPES = ("TRANSFER", "WELCOME_BONUS", "REALIZED_PNL", "FUNDING_FEE", "COMMISSION", "INSURANCE_CLEAR",
                "REFERRAL_KICKBACK", "COMMISSION_REBATE", "API_REBATE", "CONTEST_REWARD", "CROSS_COLLATERAL_TRANSFER",
                "OPTIONS_PREMIUM_FEE", "OPTIONS_SETTLE_PROFIT", "INTERNAL_TRANSFER", "AUTO_EXCHANGE",
                "DELIVERED_SETTELMENT", "COIN_SWAP_DEPOSIT", "COIN_SWAP_WITHDRAW", "POSITION_LIMIT_INCREASE_FEE")


class BinanceReject(Exception):
    """A Binance error: HTTP status plus {"code", "msg"}."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


@dataclass(slots=True)
class PerpOrder:
    """One USDⓈ-M order as the venue tracks it."""

    order_id: int
    client_order_id: str
    api_key: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    reduce_only: bool
    update_ms: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO

    def to_wire(self, spec: PerpSpec, as_ack: bool = False) -> dict:
        pd, qd = decimals_of(spec.tick_size), decimals_of(spec.step_size)
        exe = ZERO if as_ack else self.executed_qty
        quote = ZERO if as_ack else self.cum_quote
        avg = quote / exe if exe > 0 else ZERO
        return {
            "orderId": self.order_id, "symbol": self.symbol, "status": "NEW" if as_ack else self.status,
            "clientOrderId": self.client_order_id, "price": fmt(self.price, pd), "avgPrice": fmt(avg, max(pd, 5)),
            "origQty": fmt(self.orig_qty, qd), "executedQty": fmt(exe, qd), "cumQty": fmt(exe, qd),
            "cumQuote": fmt(quote, pd + qd), "timeInForce": self.time_in_force, "type": self.type,
            "reduceOnly": self.reduce_only, "closePosition": False, "side": self.side,
            "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE",
            "priceProtect": False, "origType": self.type, "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE", "goodTillDate": 0, "updateTime": self.update_ms,
        }


def _decimal(params: dict[str, str], name: str, step: Decimal) -> Decimal:
    raw = params.get(name)
    if raw is None or raw == "":
        raise BinanceReject(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BinanceReject(400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.") from None
    if not value.is_finite():
        raise BinanceReject(400, -1100, f"Illegal characters found in parameter '{name}'.")
    if value != 0 and -value.normalize().as_tuple().exponent > decimals_of(step):
        raise BinanceReject(400, -1111, "Precision is over the maximum defined for this asset.")
    return value


def _opt_int(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise BinanceReject(400, -1100, f"Illegal characters found in parameter '{name}'; "
                                        "legal range is '^[0-9]{1,20}$'.") from None


class BinanceExchange:
    """Books, wallets, orders and fills of the simulated USDⓈ-M venue."""

    def __init__(self, books: dict[str, L2Book], specs: dict[str, PerpSpec], wallets: dict[str, FuturesWallet],
                 first_order_id: int) -> None:
        self.books, self.specs, self.wallets = books, specs, wallets
        self.ids = itertools.count(first_order_id)
        self.trade_ids = itertools.count(first_order_id * 3)
        self.orders: dict[int, PerpOrder] = {}
        self.open: dict[int, PerpOrder] = {}
        self.rejected: list[dict] = []
        self.fills: list[dict] = []
        self.commission_rates: dict[str, tuple[Decimal, Decimal]] = {}   # api_key -> (maker, taker)
        self.income: list[dict] = []      # the income ledger, oldest first (GET /fapi/v1/income)
        self.tran_ids = itertools.count(first_order_id * 5)

    def set_commission_rates(self, api_key: str, maker: Decimal, taker: Decimal) -> None:
        """Give one account its own (maker, taker) rates, as a VIP tier or fee discount would."""
        if api_key not in self.wallets:
            raise KeyError(f"no binance_usdm account {api_key!r}")
        self.commission_rates[api_key] = (Decimal(maker), Decimal(taker))

    def rates(self, api_key: str) -> tuple[Decimal, Decimal]:
        """Return the account's (maker, taker) commission rates."""
        return self.commission_rates.get(api_key, (BINANCE_MAKER_FEE, BINANCE_TAKER_FEE))

    def spec(self, symbol: str | None) -> PerpSpec:
        if symbol is None:
            raise BinanceReject(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        spec = self.specs.get(symbol)
        if spec is None:
            raise BinanceReject(400, -1121, "Invalid symbol.")
        return spec

    def mark(self, symbol: str) -> Decimal:
        book = self.books[symbol]
        bid, ask = book.best(BID), book.best(ASK)
        if bid and ask:
            return (bid[0] + ask[0]) / 2
        return (bid or ask or (ZERO, ZERO))[0]

    # ---- lookups -------------------------------------------------------------------------
    def find(self, api_key: str, params: dict[str, str], cancel: bool = False) -> PerpOrder:
        symbol = params.get("symbol")
        self.spec(symbol)
        oid, cid = params.get("orderId"), params.get("origClientOrderId")
        if oid is None and cid is None:
            raise BinanceReject(400, -1102, "Either orderId or origClientOrderId must be sent.")
        found = None
        if oid is not None:
            order = self.orders.get(int(oid)) if oid.isdigit() else None
            found = order if order and order.api_key == api_key and order.symbol == symbol else None
        else:
            for order in reversed(list(self.orders.values())):
                if order.api_key == api_key and order.symbol == symbol and order.client_order_id == cid:
                    found = order
                    break
        if found is None or (cancel and found.status not in ("NEW", "PARTIALLY_FILLED")):
            if cancel:
                raise BinanceReject(400, -2011, "Unknown order sent.")
            raise BinanceReject(400, -2013, "Order does not exist.")
        return found

    def cancel(self, api_key: str, params: dict[str, str], now_ms: int) -> PerpOrder:
        order = self.find(api_key, params, cancel=True)
        order.status, order.update_ms = "CANCELED", now_ms
        self.open.pop(order.order_id, None)
        return order

    def open_orders(self, api_key: str, symbol: str | None) -> list[PerpOrder]:
        return [o for o in self.open.values() if o.api_key == api_key and (symbol is None or o.symbol == symbol)]

    def user_trades(self, api_key: str, params: dict[str, str], now_ms: int) -> list[dict]:
        """Return the account's trades as GET /fapi/v1/userTrades selects them (oldest first).

        symbol is required; orderId narrows to one order; fromId returns trades with id >= fromId
        from the oldest up and cannot be combined with startTime/endTime (-1128); otherwise the
        window is [startTime, endTime] (at most 7 days, -1127; one side given: 7 days from/to it;
        none: the last 7 days) and the most recent `limit` trades in it are returned. limit is
        1..1000 (default 500, -1130 outside).
        """
        symbol = self.spec(params.get("symbol")).symbol
        order_id = _opt_int(params, "orderId")
        from_id = _opt_int(params, "fromId")
        start, end = _opt_int(params, "startTime"), _opt_int(params, "endTime")
        limit = _opt_int(params, "limit")
        if limit is None:
            limit = USER_TRADES_LIMIT_DEFAULT
        elif not 1 <= limit <= USER_TRADES_LIMIT_MAX:
            raise BinanceReject(400, -1130, "Data sent for parameter 'limit' is not valid.")
        if from_id is not None and (start is not None or end is not None):
            raise BinanceReject(400, -1128, "Combination of optional parameters invalid.")
        if start is not None and end is not None and end - start > USER_TRADES_WINDOW_MS:
            raise BinanceReject(400, -1127, "More than 7 days between startTime and endTime.")
        mine = [f for f in self.fills if f["api_key"] == api_key and f["symbol"] == symbol
                and (order_id is None or f["order_id"] == order_id)]
        if from_id is not None:
            return [f for f in mine if f["trade_id"] >= from_id][:limit]
        if start is None and end is None:
            end = now_ms
        if start is None:
            start = end - USER_TRADES_WINDOW_MS
        if end is None:
            end = start + USER_TRADES_WINDOW_MS
        picked = [f for f in mine if start <= f["ts"] <= end]
        return picked[-limit:]

    # ---- income and funding --------------------------------------------------------------
    def _record_income(self, api_key: str, symbol: str, income_type: str, amount: Decimal, ts_ms: int,
                       trade_id: int | None = None) -> dict:
        entry = {"api_key": api_key, "symbol": symbol, "income_type": income_type, "income": amount,
                 "asset": "USDT", "time": ts_ms, "info": income_type, "tran_id": next(self.tran_ids),
                 "trade_id": "" if trade_id is None else str(trade_id)}
        self.income.append(entry)
        return entry

    def settle_funding(self, rate: Decimal, funding_ms: int) -> list[dict]:
        """Pay funding on every open position at `rate`; return the FUNDING_FEE entries recorded.

        payment = -positionAmt x mark x rate, half-up to 8 decimals (a long pays a positive rate, a
        short receives it); the USDT wallet moves by exactly the recorded amount. Flat positions
        and zero payments record nothing.
        """
        out = []
        for api_key, wallet in self.wallets.items():
            for symbol, pos in wallet.positions.items():
                if pos.amount == 0:
                    continue
                pay = (-pos.amount * self.mark(symbol) * rate).quantize(COMMISSION_QUANTUM, ROUND_HALF_UP)
                if pay == 0:
                    continue
                wallet.balances["USDT"] = wallet.balances.get("USDT", ZERO) + pay
                out.append(self._record_income(api_key, symbol, "FUNDING_FEE", pay, funding_ms))
        return out

    def income_history(self, api_key: str, params: dict[str, str], now_ms: int) -> list[dict]:
        """Return the account's income entries as GET /fapi/v1/income selects them (oldest first).

        symbol and incomeType narrow the result (an unknown symbol is -1121, an unknown type -1100);
        the window is [startTime, endTime] inclusive (startTime alone: up to now; endTime alone: the
        7 days before it; neither: the last 7 days). With startTime the oldest `limit` entries of the
        window are returned (page forward from the last one's time), without it the most recent.
        limit is 1..1000 (default 100, -1130 outside).
        """
        symbol = params.get("symbol")
        if symbol is not None:
            symbol = self.spec(symbol).symbol
        income_type = params.get("incomeType")
        if income_type is not None and income_type not in INCOME_TYPES:
            raise BinanceReject(400, -1100, "Illegal characters found in parameter 'incomeType'.")
        start, end = _opt_int(params, "startTime"), _opt_int(params, "endTime")
        limit = _opt_int(params, "limit")
        if limit is None:
            limit = INCOME_LIMIT_DEFAULT
        elif not 1 <= limit <= INCOME_LIMIT_MAX:
            raise BinanceReject(400, -1130, "Data sent for parameter 'limit' is not valid.")
        lo = start if start is not None else (end if end is not None else now_ms) - INCOME_DEFAULT_WINDOW_MS
        hi = end if end is not None else now_ms
        picked = [e for e in self.income if e["api_key"] == api_key and lo <= e["time"] <= hi
                  and (symbol is None or e["symbol"] == symbol)
                  and (income_type is None or e["income_type"] == income_type)]
        picked.sort(key=lambda e: (e["time"], e["tran_id"]))
        return picked[:limit] if start is not None else picked[-limit:]

    # ---- order entry ---------------------------------------------------------------------
    def create(self, api_key: str, params: dict[str, str], now_ms: int, partial_ratio: float | None,
               reject: bool) -> PerpOrder:
        try:
            order = self._validate(api_key, params, now_ms)
            if reject:
                raise BinanceReject(400, -2010, "NEW_ORDER_REJECTED")
        except BinanceReject as exc:
            self.rejected.append({"venue": "binance_usdm", "api_key": api_key, "symbol": params.get("symbol"),
                                  "client_order_id": params.get("newClientOrderId"), "side": params.get("side"),
                                  "type": params.get("type"), "status": "REJECTED", "code": exc.code,
                                  "reason": exc.msg, "executed_qty": "0"})
            raise
        self.orders[order.order_id] = order
        self._match(order, now_ms, partial_ratio)
        if order.status in ("NEW", "PARTIALLY_FILLED"):
            self.open[order.order_id] = order
        return order

    def _validate(self, api_key: str, p: dict[str, str], now_ms: int) -> PerpOrder:
        spec = self.spec(p.get("symbol"))
        side, otype = p.get("side"), p.get("type")
        if side not in ("BUY", "SELL"):
            raise BinanceReject(400, -1102 if side is None else -1117,
                                "Mandatory parameter 'side' was not sent, was empty/null, or malformed." if side is None else "Invalid side.")
        if otype not in ("MARKET", "LIMIT"):
            raise BinanceReject(400, -1102 if otype is None else -1116,
                                "Mandatory parameter 'type' was not sent, was empty/null, or malformed." if otype is None else "Invalid orderType.")
        if p.get("positionSide", "BOTH") != "BOTH":
            raise BinanceReject(400, -4061, "Order's position side does not match user's setting.")
        qty = _decimal(p, "quantity", spec.step_size)
        lot_max = spec.market_max_qty if otype == "MARKET" else spec.max_qty
        if qty <= 0:
            raise BinanceReject(400, -4003, "Quantity less than or equal to zero.")
        if qty < spec.min_qty:
            raise BinanceReject(400, -4004, "Quantity less than minimum quantity.")
        if qty > lot_max:
            raise BinanceReject(400, -4005, "Quantity greater than maximum quantity.")
        if qty % spec.step_size:
            raise BinanceReject(400, -4023, "Quantity not increased by step size.")
        tif = p.get("timeInForce")
        price = ZERO
        if otype == "LIMIT":
            if tif is None:
                raise BinanceReject(400, -1102, "Mandatory parameter 'timeinforce' was not sent, was empty/null, or malformed.")
            if tif not in ("GTC", "IOC", "FOK", "GTX"):
                raise BinanceReject(400, -1115, "Invalid timeInForce.")
            price = _decimal(p, "price", spec.tick_size)
            if price <= 0 or price % spec.tick_size:
                raise BinanceReject(400, -4014, "Price not increased by tick size.")
        elif "price" in p:
            raise BinanceReject(400, -1106, "Parameter 'price' sent when not required.")
        reduce_raw = p.get("reduceOnly", "false").lower()
        if reduce_raw not in ("true", "false"):
            raise BinanceReject(400, -1100, "Illegal characters found in parameter 'reduceOnly'.")
        reduce_only = reduce_raw == "true"
        ref = price if otype == "LIMIT" else self.mark(spec.symbol)
        if not reduce_only and qty * ref < spec.min_notional:
            raise BinanceReject(400, -4164, f"Order's notional must be no smaller than {fmt(spec.min_notional)} "
                                            "(unless you choose reduce only).")
        wallet = self.wallets[api_key]
        pos = wallet.position(spec.symbol)
        signed = qty if side == "BUY" else -qty
        if reduce_only and (pos.amount == 0 or (pos.amount > 0) == (signed > 0)):
            raise BinanceReject(400, -2022, "ReduceOnly Order is rejected.")
        cid = p.get("newClientOrderId")
        if cid is None:
            cid = f"sim{next(self.trade_ids)}"
        elif not _CID.match(cid):
            raise BinanceReject(400, -1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.")
        if any(o.client_order_id == cid for o in self.open_orders(api_key, None)):
            raise BinanceReject(400, -4116, "ClientOrderId is duplicated.")
        if not reduce_only:
            self._check_margin(wallet, spec.symbol, signed, ref)
        return PerpOrder(next(self.ids), cid, api_key, spec.symbol, side, otype,
                         tif or "GTC", price, qty, reduce_only, now_ms)

    def _check_margin(self, wallet: FuturesWallet, symbol: str, signed: Decimal, ref: Decimal) -> None:
        after = abs(wallet.position(symbol).amount + signed)
        before = abs(wallet.position(symbol).amount)
        if after <= before:
            return
        used = sum((abs(p.amount) * self.mark(s) / wallet.leverage.get(s, 20)
                    for s, p in wallet.positions.items() if p.amount), ZERO)
        need = (after - before) * ref / wallet.leverage.get(symbol, 20)
        if need > wallet.balances.get("USDT", ZERO) + self.unrealized(wallet) - used:
            raise BinanceReject(400, -2019, "Margin is insufficient.")

    def unrealized(self, wallet: FuturesWallet) -> Decimal:
        return sum(((self.mark(s) - p.entry_price) * p.amount for s, p in wallet.positions.items() if p.amount), ZERO)

    # ---- matching ------------------------------------------------------------------------
    def _match(self, order: PerpOrder, now_ms: int, partial_ratio: float | None) -> None:
        spec, book = self.specs[order.symbol], self.books[order.symbol]
        resting = ASK if order.side == "BUY" else BID
        qty = order.orig_qty
        if order.reduce_only:
            qty = min(qty, abs(self.wallets[order.api_key].position(order.symbol).amount))
        if partial_ratio is not None:
            qty = (qty * Decimal(repr(partial_ratio)) / spec.step_size).to_integral_value("ROUND_FLOOR") * spec.step_size
        limit = order.price if order.type == "LIMIT" else None
        best = book.best(resting)
        crosses = best is not None and (limit is None or (best[0] <= limit if resting == ASK else best[0] >= limit))
        if order.time_in_force == "GTX" and order.type == "LIMIT" and crosses:
            order.status = "EXPIRED"
            return
        if order.time_in_force == "FOK" and order.type == "LIMIT":
            avail = sum((q for p_, q in book.top(resting, 5000)
                         if (p_ <= limit if resting == ASK else p_ >= limit)), ZERO)
            if avail < order.orig_qty:
                order.status = "EXPIRED"
                return
        fills = book.take(resting, qty, None, limit, spec.step_size) if crosses and qty > 0 else []
        for px, q in fills:
            self._fill(order, px, q, now_ms, maker=False)
        if order.executed_qty == order.orig_qty:
            order.status = "FILLED"
        elif order.type == "MARKET" or order.time_in_force == "IOC":
            order.status = "EXPIRED"
        elif order.executed_qty > 0:
            order.status = "PARTIALLY_FILLED"
        order.update_ms = now_ms

    def _fill(self, order: PerpOrder, price: Decimal, qty: Decimal, now_ms: int, maker: bool) -> None:
        wallet = self.wallets[order.api_key]
        notional = price * qty
        maker_rate, taker_rate = self.rates(order.api_key)
        fee = (notional * (maker_rate if maker else taker_rate)).quantize(COMMISSION_QUANTUM, ROUND_HALF_UP)
        signed = qty if order.side == "BUY" else -qty
        realized = wallet.apply_fill(order.symbol, signed, price)
        wallet.balances["USDT"] = wallet.balances.get("USDT", ZERO) - fee
        order.executed_qty += qty
        order.cum_quote += notional
        self.fills.append({"venue": "binance_usdm", "api_key": order.api_key, "order_id": order.order_id,
                           "client_order_id": order.client_order_id, "symbol": order.symbol,
                           "side": order.side, "price": price, "qty": qty, "quote_qty": notional, "fee": fee,
                           "fee_currency": "USDT", "realized_pnl": realized, "maker": maker,
                           "buyer": order.side == "BUY", "ts": now_ms, "trade_id": next(self.trade_ids)})
        trade_id = self.fills[-1]["trade_id"]
        if realized:
            self._record_income(order.api_key, order.symbol, "REALIZED_PNL", realized, now_ms, trade_id)
        if fee:
            self._record_income(order.api_key, order.symbol, "COMMISSION", -fee, now_ms, trade_id)

    def on_book_moved(self, symbol: str, now_ms: int) -> None:
        """Fill resting GTC limit orders the market crossed, as maker, at their price."""
        book = self.books[symbol]
        for order in [o for o in self.open.values() if o.symbol == symbol]:
            resting = ASK if order.side == "BUY" else BID
            best = book.best(resting)
            if best is None or (best[0] > order.price if resting == ASK else best[0] < order.price):
                continue
            left = order.orig_qty - order.executed_qty
            if order.reduce_only:
                left = min(left, abs(self.wallets[order.api_key].position(symbol).amount))
            taken = book.take(resting, left, None, order.price, self.specs[symbol].step_size)
            got = sum((q for _, q in taken), ZERO)
            if got > 0:
                self._fill(order, order.price, got, now_ms, maker=True)
                order.status = "FILLED" if order.executed_qty == order.orig_qty else "PARTIALLY_FILLED"
                order.update_ms = now_ms
                if order.status == "FILLED":
                    self.open.pop(order.order_id, None)
