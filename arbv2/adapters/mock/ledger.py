"""Paper balances and positions: spot holdings on Upbit, a signed perp position per symbol on Binance."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from arbv2.core.errors import InsufficientFunds, InvalidOrder
from arbv2.core.model import OrderIntent, Position, Side, Venue, base_asset, quote_asset

ZERO = Decimal(0)


@dataclass(slots=True)
class _Pos:
    qty: Decimal = ZERO          # signed; spot holdings are >= 0
    avg: Decimal = ZERO
    realized: Decimal = ZERO
    fees: Decimal = ZERO


class Ledger:
    def __init__(self, venue: Venue, balances: Mapping[str, Decimal]) -> None:
        self.venue = venue
        self._bal: dict[str, Decimal] = {k: Decimal(v) for k, v in balances.items()}
        self._pos: dict[str, _Pos] = {}
        if venue is Venue.UPBIT:  # spot holdings are the positions, as the real adapter reports them
            self._pos = {f"{asset}/KRW": _Pos(qty=qty) for asset, qty in self._bal.items() if asset != "KRW" and qty > 0}

    def balances(self) -> dict[str, Decimal]:
        return dict(self._bal)

    def positions(self) -> list[Position]:
        return [Position(venue=self.venue, symbol=s, quantity=p.qty, avg_price=p.avg, realized_pnl=p.realized,
                         fees=p.fees) for s, p in sorted(self._pos.items()) if p.qty != 0]

    def check(self, intent: OrderIntent, fills: list[tuple[Decimal, Decimal]], qty: Decimal | None,
              budget: Decimal | None, limit: Decimal | None, fee_rate: Decimal) -> None:
        """Raise as the venue would before anything fills: funds (spot) or reduce-only (perp)."""
        quote = quote_asset(intent.symbol)
        if self.venue is Venue.UPBIT:
            if intent.side is Side.BUY:
                gross = budget if budget is not None else (limit * qty if limit is not None
                                                           else sum((p * q for p, q in fills), ZERO))
                need = gross * (1 + fee_rate)
                if self._bal.get(quote, ZERO) < need:
                    raise InsufficientFunds(f"mock upbit: {quote} {self._bal.get(quote, ZERO)} < {need}",
                                            venue="upbit", code="insufficient_funds_bid")
            elif self._bal.get(base_asset(intent.symbol), ZERO) < (qty or ZERO):
                raise InsufficientFunds(f"mock upbit: not enough {base_asset(intent.symbol)} to sell {qty}",
                                        venue="upbit", code="insufficient_funds_ask")
            return
        pos = self._pos.get(intent.symbol, _Pos()).qty
        if intent.reduce_only:
            reduces = (pos > 0 and intent.side is Side.SELL) or (pos < 0 and intent.side is Side.BUY)
            if not reduces or (qty or ZERO) > abs(pos):
                raise InvalidOrder(f"mock binance_usdm: reduce-only {intent.side.value} {qty} against position {pos}",
                                   venue="binance_usdm", code=-2022)
        fees = sum((p * q for p, q in fills), ZERO) * fee_rate
        if self._bal.get(quote, ZERO) < fees:
            raise InsufficientFunds(f"mock binance_usdm: {quote} balance cannot pay fees {fees}",
                                    venue="binance_usdm", code=-2019)

    def apply(self, symbol: str, side: Side, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        """Book one fill: cash, fee and position (realized PnL when a position is reduced)."""
        quote, base = quote_asset(symbol), base_asset(symbol)
        pos = self._pos.setdefault(symbol, _Pos())
        signed = qty if side is Side.BUY else -qty
        realized = ZERO
        if pos.qty == 0 or (pos.qty > 0) == (signed > 0):
            pos.avg = (pos.avg * abs(pos.qty) + price * qty) / (abs(pos.qty) + qty)
        else:
            closed = min(qty, abs(pos.qty))
            realized = (price - pos.avg) * closed * (1 if pos.qty > 0 else -1)
            if qty > abs(pos.qty):
                pos.avg = price
        pos.qty += signed
        if pos.qty == 0:
            pos.avg = ZERO
        pos.realized += realized
        pos.fees += fee
        if self.venue is Venue.UPBIT:
            self._bal[base] = self._bal.get(base, ZERO) + signed
            cash = -(price * qty) if side is Side.BUY else price * qty
            self._bal[quote] = self._bal.get(quote, ZERO) + cash - fee
        else:
            self._bal[quote] = self._bal.get(quote, ZERO) + realized - fee
