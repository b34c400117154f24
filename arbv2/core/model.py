"""Domain model: venues, symbols, order intents, orders, fills, positions, round trips.

Unified symbols follow the ccxt convention: "BTC/KRW" is Upbit spot, "BTC/USDT:USDT" is the
Binance USDⓈ-M linear perpetual. Conversion to venue codes ("KRW-BTC", "BTCUSDT") lives in the
adapters. Money is Decimal; timestamps are int nanoseconds.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal


class Venue(str, enum.Enum):
    UPBIT = "upbit"
    BINANCE_USDM = "binance_usdm"


class Side(str, enum.Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(str, enum.Enum):
    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(str, enum.Enum):
    PENDING = "pending"          # recorded, not yet acknowledged by the venue
    NEW = "new"                  # acknowledged, resting or working
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"        # includes a canceled remainder after a partial fill
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"          # the send's outcome is not known yet: look it up, never resend

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})

TIME_IN_FORCE = frozenset({"gtc", "ioc", "fok"})


def _check_amount(name: str, value: Decimal | None) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal):
        raise ValueError(f"{name}: must be a Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"{name}: must be finite, got {value}")
    if value <= 0:
        raise ValueError(f"{name}: must be > 0, got {value}")


def base_asset(symbol: str) -> str:
    """Return the base asset of a unified symbol ("BTC/USDT:USDT" -> "BTC")."""
    base, sep, _ = symbol.partition("/")
    if not sep or not base:
        raise ValueError(f"symbol: not a unified symbol like 'BTC/KRW', got {symbol!r}")
    return base


def quote_asset(symbol: str) -> str:
    """Return the quote asset of a unified symbol ("BTC/USDT:USDT" -> "USDT")."""
    _, sep, rest = symbol.partition("/")
    quote = rest.split(":", 1)[0]
    if not sep or not quote:
        raise ValueError(f"symbol: not a unified symbol like 'BTC/KRW', got {symbol!r}")
    return quote


def upbit_symbol(base: str) -> str:
    return f"{base}/KRW"


def binance_symbol(base: str) -> str:
    return f"{base}/USDT:USDT"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """One order the engine (or an operator) wants on one venue, before venue rounding.

    A market buy may be sized in quote currency (quote_amount: Upbit spends KRW); every other
    order is sized in base units (quantity). Inconsistent intents raise ValueError naming the field.
    """

    venue: Venue
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal | None
    quote_amount: Decimal | None
    price: Decimal | None
    client_order_id: str
    reduce_only: bool = False
    time_in_force: str | None = None

    def __post_init__(self) -> None:
        for name, enum_type in (("venue", Venue), ("side", Side), ("order_type", OrderType)):
            value = getattr(self, name)
            if not isinstance(value, enum_type):
                try:
                    object.__setattr__(self, name, enum_type(value))
                except ValueError:
                    allowed = ", ".join(m.value for m in enum_type)
                    raise ValueError(f"{name}: {value!r} is not one of {allowed}") from None
        base_asset(self.symbol)
        _check_amount("quantity", self.quantity)
        _check_amount("quote_amount", self.quote_amount)
        _check_amount("price", self.price)
        if not self.client_order_id or not isinstance(self.client_order_id, str):
            raise ValueError("client_order_id: must be a non-empty string")
        if self.time_in_force is not None and self.time_in_force not in TIME_IN_FORCE:
            raise ValueError(f"time_in_force: {self.time_in_force!r} is not one of gtc, ioc, fok")
        if self.quantity is not None and self.quote_amount is not None:
            raise ValueError("quantity/quote_amount: give one of them, not both")
        if self.order_type is OrderType.LIMIT:
            if self.price is None:
                raise ValueError("price: a limit order needs a price")
            if self.quantity is None:
                raise ValueError("quantity: a limit order needs a base quantity")
        else:
            if self.price is not None:
                raise ValueError("price: a market order takes no price")
            if self.time_in_force is not None:
                raise ValueError("time_in_force: only limit orders take a time in force")
            if self.quantity is None and self.quote_amount is None:
                raise ValueError("quantity: a market order needs quantity (or quote_amount for a buy)")
            if self.quote_amount is not None and self.side is Side.SELL:
                raise ValueError("quote_amount: only a market buy can be sized in quote currency")


ESTIMATED_TRADE_SUFFIX = ":est"


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of an order: base quantity at price, with the fee the venue charged.

    A fill whose trade_id ends in ESTIMATED_TRADE_SUFFIX stands in for trades the venue did not
    let us read yet; the stores replace it as soon as the order's real trades are recorded.
    """

    venue: Venue
    symbol: str
    side: Side
    client_order_id: str
    trade_id: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    ts_ns: int

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price

    @property
    def is_estimate(self) -> bool:
        return self.trade_id.endswith(ESTIMATED_TRADE_SUFFIX)


@dataclass(frozen=True, slots=True)
class Order:
    """What a venue says about one order at one moment (an acknowledgement or a status read)."""

    venue: Venue
    symbol: str
    side: Side
    order_type: OrderType
    client_order_id: str
    venue_order_id: str | None
    status: OrderStatus
    quantity: Decimal | None
    quote_amount: Decimal | None
    price: Decimal | None
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    fee: Decimal = Decimal(0)
    fee_asset: str = ""
    ts_ns: int = 0
    fills: tuple[Fill, ...] = ()
    raw: dict | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Position:
    """Net base position on one venue+symbol (positive long), its average entry and realized PnL."""

    venue: Venue
    symbol: str
    quantity: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)


class Direction(str, enum.Enum):
    """Which way a hedged round trip opens.

    LONG_UPBIT: buy Upbit spot, short the Binance perp (premium low at entry).
    SHORT_UPBIT: sell Upbit spot inventory, long the perp (premium high at entry).
    """

    LONG_UPBIT = "long_upbit"
    SHORT_UPBIT = "short_upbit"


class RoundTripState(str, enum.Enum):
    ENTERING = "entering"
    HEDGED = "hedged"
    EXITING = "exiting"
    CLOSED = "closed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One hedged arbitrage round trip: the two entry legs and (once closed) the two exit legs."""

    round_trip_id: str
    symbol_base: str
    direction: Direction
    state: RoundTripState
    opened_ns: int
    entry_premium: float
    expected_edge_bps: float
    entry_legs: tuple[Order, ...] = ()
    exit_legs: tuple[Order, ...] = ()
    closed_ns: int | None = None
    exit_premium: float | None = None
    realized_edge_bps: float | None = None
    pnl_krw: Decimal = Decimal(0)
    pnl_usdt: Decimal = Decimal(0)
    fees_krw: Decimal = Decimal(0)
    residual_qty: Decimal = Decimal(0)
    note: str = ""


@dataclass(frozen=True, slots=True)
class TopOfBook:
    """Best bid/ask of one venue+symbol, as published to the market cache."""

    venue: Venue
    symbol: str
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float
    ts_ns: int

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0


@dataclass(frozen=True, slots=True)
class BookHealth:
    """Feed health of one venue+symbol; `healthy` only when synced, fresh and uncrossed."""

    venue: Venue
    symbol: str
    synced: bool
    last_frame_ns: int
    age_s: float
    crossed: bool
    resyncs: int
    gaps: int
    healthy: bool
