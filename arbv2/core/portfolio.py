"""Portfolio: positions per venue+symbol from fills, PnL in KRW and USDT, fees and funding.

Decimal throughout. Each position keeps its quantity and its cost (sum of signed qty x price of
what is open), not a rounded average: a reduction releases cost pro rata and a close releases
all that is left, so once a position is flat its realized PnL equals the sum of its fills' cash
flows exactly (pro-rata releases sit on a 1e-12 grid, so no sum ever rounds). The hedged round
trip is the unit of account: fills carry a round trip id, and `round_trip_pnl` keeps each leg of
it as its own position, so a residual never books its cash flow as profit.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from arbv2.core.model import Fill, Position, Side, Venue, quote_asset

_ZERO = Decimal(0)
_GRID = Decimal("1e-12")


class _Book:
    __slots__ = ("qty", "cost", "realized", "fees", "other_fees", "funding")

    def __init__(self) -> None:
        self.qty = _ZERO
        self.cost = _ZERO
        self.realized = _ZERO
        self.fees = _ZERO
        self.other_fees: dict[str, Decimal] = {}
        self.funding = _ZERO

    def apply(self, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Apply one fill; return the PnL it realized."""
        q = self.qty
        if q == 0 or (q > 0) == (signed_qty > 0):
            self.qty = q + signed_qty
            self.cost += signed_qty * price
            return _ZERO
        close = signed_qty if abs(signed_qty) <= abs(q) else -q
        # Pro-rata cost on a fixed fine grid, so every later sum is exact; a close takes the rest.
        released = self.cost if close == -q else (-(self.cost * close) / q).quantize(_GRID)
        pnl = -close * price - released
        self.realized += pnl
        self.qty = q + close
        self.cost -= released
        rest = signed_qty - close
        if rest != 0:           # the fill flipped the position: the rest opens at this price
            self.qty = rest
            self.cost = rest * price
        return pnl


@dataclass(slots=True)
class RoundTripPnl:
    """One round trip's fills per leg, with fees and funding: its realized PnL.

    Each leg is a position of its own, so `upbit_krw` / `binance_usdt` are the PnL each leg has
    realized: the fills' cash flows once the leg is back to zero, and while a residual stays
    open its cost stays out of the PnL (an unhedged leg's sale proceeds are inventory, not profit).
    """

    upbit: _Book = field(default_factory=_Book)
    binance: _Book = field(default_factory=_Book)
    fees: dict[str, Decimal] = field(default_factory=dict)
    funding_usdt: Decimal = _ZERO

    @property
    def upbit_krw(self) -> Decimal:
        return self.upbit.realized

    @property
    def binance_usdt(self) -> Decimal:
        return self.binance.realized

    @property
    def upbit_qty(self) -> Decimal:
        return self.upbit.qty

    @property
    def binance_qty(self) -> Decimal:
        return self.binance.qty

    @property
    def closed(self) -> bool:
        """Return True when both legs are back to zero net quantity."""
        return self.upbit.qty == 0 and self.binance.qty == 0

    def fees_krw(self, usdt_krw: Decimal) -> Decimal:
        """Return all fees in KRW (USDT fees at `usdt_krw`; other assets are not converted)."""
        return self.fees.get("KRW", _ZERO) + self.fees.get("USDT", _ZERO) * usdt_krw

    def net_krw(self, usdt_krw: Decimal) -> Decimal:
        """Return the round trip's realized net PnL in KRW: both legs, minus fees, plus funding."""
        return (self.upbit.realized + (self.binance.realized + self.funding_usdt) * usdt_krw
                - self.fees_krw(usdt_krw))


class Portfolio:
    """Positions and PnL from fills; the ledger the engine and the risk guard read."""

    def __init__(self) -> None:
        self._books: dict[tuple[Venue, str], _Book] = {}
        self._rts: dict[str, RoundTripPnl] = defaultdict(RoundTripPnl)
        self._seen: set[tuple[Venue, str, str]] = set()

    def _book(self, venue: Venue, symbol: str) -> _Book:
        key = (venue, symbol)
        b = self._books.get(key)
        if b is None:
            b = self._books[key] = _Book()
        return b

    def apply_fill(self, fill: Fill, round_trip_id: str | None = None) -> Decimal:
        """Apply one fill (idempotent on venue+client order id+trade id); return realized PnL."""
        key = (fill.venue, fill.client_order_id, fill.trade_id)
        if key in self._seen:
            return _ZERO
        self._seen.add(key)
        signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
        b = self._book(fill.venue, fill.symbol)
        pnl = b.apply(signed, fill.price)
        if fill.fee_asset == quote_asset(fill.symbol) or not fill.fee_asset:
            b.fees += fill.fee
        else:
            b.other_fees[fill.fee_asset] = b.other_fees.get(fill.fee_asset, _ZERO) + fill.fee
        if round_trip_id is not None:
            rt = self._rts[round_trip_id]
            (rt.upbit if fill.venue is Venue.UPBIT else rt.binance).apply(signed, fill.price)
            asset = fill.fee_asset or quote_asset(fill.symbol)
            rt.fees[asset] = rt.fees.get(asset, _ZERO) + fill.fee
        return pnl

    def apply_funding(self, symbol: str, amount_usdt: Decimal, round_trip_id: str | None = None) -> None:
        """Book a funding payment on the perp (positive: received)."""
        self._book(Venue.BINANCE_USDM, symbol).funding += amount_usdt
        if round_trip_id is not None:
            self._rts[round_trip_id].funding_usdt += amount_usdt

    def seed(self, position: Position) -> None:
        """Load a position read from a venue at startup (reconciliation), replacing ours."""
        b = self._book(position.venue, position.symbol)
        b.qty = position.quantity
        b.cost = position.quantity * position.avg_price

    def position(self, venue: Venue, symbol: str) -> Position:
        """Return the position of venue+symbol (flat when never traded)."""
        b = self._books.get((venue, symbol))
        if b is None:
            return Position(venue, symbol)
        avg = b.cost / b.qty if b.qty != 0 else _ZERO
        return Position(venue, symbol, b.qty, avg, b.realized, b.fees, b.funding)

    def positions(self) -> list[Position]:
        """Return every position ever traded, flat ones included."""
        return [self.position(v, s) for (v, s) in self._books]

    def unrealized(self, venue: Venue, symbol: str, mark: Decimal) -> Decimal:
        """Return the unrealized PnL of venue+symbol at price `mark`, in its quote currency."""
        b = self._books.get((venue, symbol))
        return _ZERO if b is None else mark * b.qty - b.cost

    def round_trip_pnl(self, round_trip_id: str) -> RoundTripPnl:
        """Return the cash flows booked for one round trip (empty when it has no fills)."""
        return self._rts.get(round_trip_id) or RoundTripPnl()

    def totals_krw(self, usdt_krw: Decimal) -> dict[str, Decimal]:
        """Return realized PnL, fees and funding over all positions, in KRW."""
        realized = fees = funding = _ZERO
        for (venue, _), b in self._books.items():
            k = _ONE if venue is Venue.UPBIT else usdt_krw
            realized += b.realized * k
            fees += b.fees * k
            funding += b.funding * k
        return {"realized_krw": realized, "fees_krw": fees, "funding_krw": funding,
                "net_krw": realized - fees + funding}


_ONE = Decimal(1)
