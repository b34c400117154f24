"""Pure functions that turn an approved Opportunity into OrderIntents (no I/O, no awaits).

Leg protocols (docs/engine.md):

- ``ioc_concurrent``: the size is fixed up front as a multiple of Binance's stepSize (and
  Upbit's volume precision). Upbit gets a LIMIT IOC at a marketable price (the walked worst
  price pushed `ioc_slippage_bps` through), Binance a MARKET order for the same quantity; both
  are sent at once. An Upbit partial fill leaves Binance over-hedged by a known amount, which
  the executor buys back (reduce-only).
- ``upbit_first``: Upbit first (a KRW-sized MARKET buy, or a MARKET sell by volume), then
  Binance for ``floor(executed_volume / stepSize) * stepSize``; the sub-step remainder is the
  recorded residual.
"""
from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from arbv2.core.execution.rules import InstrumentRules
from arbv2.core.model import OrderIntent, OrderType, Side, Venue, binance_symbol, upbit_symbol
from arbv2.core.strategy.types import Opportunity

_BPS = Decimal(10_000)


def dec(x: float) -> Decimal:
    """Return a float as the Decimal of its shortest repr (never the binary expansion)."""
    return Decimal(repr(float(x)))


def client_order_id(round_trip_id: str, tag: str, seq: int) -> str:
    """Return a leg's client order id: ``<round trip id>-<tag><seq>``.

    Unique per send: a resend after a failure gets a new `seq` (Upbit identifiers are single-use
    forever), and at most 36 characters of [A-Za-z0-9-] (Binance newClientOrderId).
    """
    cid = f"{round_trip_id}-{tag}{seq}"
    if len(cid) > 36:
        raise ValueError(f"client_order_id: {cid!r} is longer than 36 characters")
    return cid


def entry_qty(opp: Opportunity, upbit: InstrumentRules, binance: InstrumentRules) -> Decimal:
    """Return the entry base size on both venues' grids (rounded down, never up)."""
    return binance.floor_qty(upbit.floor_qty(dec(opp.qty_base)))


def ioc_price(opp: Opportunity, upbit: InstrumentRules, slippage_bps: float, *, buy: bool) -> Decimal:
    """Return a marketable Upbit limit price: the walked worst price moved `slippage_bps` through."""
    worst = dec(opp.upbit_worst)
    k = dec(slippage_bps) / _BPS
    return upbit.round_price(worst * (1 + k) if buy else worst * (1 - k), up=buy)


def upbit_leg(base: str, side: Side, cid: str, *, qty: Decimal | None = None,
              krw: Decimal | None = None, limit: Decimal | None = None) -> OrderIntent:
    """Return an Upbit intent: IOC limit (qty+limit), market buy by KRW (krw) or market by qty."""
    if limit is not None:
        return OrderIntent(Venue.UPBIT, upbit_symbol(base), side, OrderType.LIMIT, qty, None,
                           limit, cid, time_in_force="ioc")
    if krw is not None:
        return OrderIntent(Venue.UPBIT, upbit_symbol(base), side, OrderType.MARKET, None,
                           krw.quantize(Decimal(1), rounding=ROUND_FLOOR), None, cid)
    return OrderIntent(Venue.UPBIT, upbit_symbol(base), side, OrderType.MARKET, qty, None, None, cid)


def binance_leg(base: str, side: Side, qty: Decimal, cid: str, *, reduce_only: bool = False) -> OrderIntent:
    """Return a Binance perp MARKET intent for `qty` base."""
    return OrderIntent(Venue.BINANCE_USDM, binance_symbol(base), side, OrderType.MARKET, qty, None,
                       None, cid, reduce_only=reduce_only)


def check_size(qty: Decimal, opp: Opportunity, upbit: InstrumentRules,
               binance: InstrumentRules) -> str:
    """Return why `qty` cannot be traded on both venues ("" when it can)."""
    if qty <= 0:
        return f"size {opp.qty_base} rounds to 0 on the venues' steps"
    if not upbit.tradable(qty, dec(opp.upbit_vwap)):
        return f"size {qty} is below Upbit's minimum ({upbit.min_qty} / {upbit.min_notional} KRW)"
    if not binance.tradable(qty, dec(opp.binance_vwap)):
        return f"size {qty} is below Binance's minimum ({binance.min_qty} / {binance.min_notional} USDT)"
    return ""
