"""InstrumentRules: the venue rounding rules the executor needs to size legs before sending.

The adapters own the venue's full rule set and still validate every intent (InvalidOrder);
the executor only needs enough to choose sizes that will pass: Binance's stepSize/minQty/
minNotional for the hedge, and the Upbit KRW tick (a price-dependent table) for IOC prices.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    """Rounding rules of one venue+symbol.

    Parameters
    ----------
    step_size
        Quantity increment (Binance MARKET_LOT_SIZE stepSize; Upbit volume precision, e.g. 1e-8).
    min_qty
        Smallest base quantity accepted.
    min_notional
        Smallest order value in the quote currency (Binance MIN_NOTIONAL, Upbit 5,000 KRW).
    tick_size
        Price increment when it does not depend on the price.
    tick_table
        Optional price-dependent ticks as ``((lower_bound, tick), ...)`` ascending by bound
        (the Upbit KRW table); when given it overrides `tick_size` for prices >= a bound.
    """

    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    tick_size: Decimal
    tick_table: tuple[tuple[Decimal, Decimal], ...] = ()

    def __post_init__(self) -> None:
        for name in ("step_size", "tick_size"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise ValueError(f"{name}: must be a Decimal > 0, got {value!r}")
        for name in ("min_qty", "min_notional"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(f"{name}: must be a Decimal >= 0, got {value!r}")
        bounds = [b for b, _ in self.tick_table]
        if bounds != sorted(bounds) or any(t <= 0 for _, t in self.tick_table):
            raise ValueError("tick_table: bounds must ascend and ticks be > 0")

    def floor_qty(self, qty: Decimal) -> Decimal:
        """Return `qty` rounded down to a multiple of step_size (never up: never over-hedge)."""
        if qty <= 0:
            return Decimal(0)
        return (qty / self.step_size).to_integral_value(rounding=ROUND_FLOOR) * self.step_size

    def tick_for(self, price: Decimal) -> Decimal:
        """Return the price increment that applies at `price`."""
        tick = self.tick_size
        for bound, t in self.tick_table:
            if price >= bound:
                tick = t
            else:
                break
        return tick

    def round_price(self, price: Decimal, *, up: bool) -> Decimal:
        """Return `price` on the tick grid, rounded up (marketable buy) or down (sell)."""
        tick = self.tick_for(price)
        mode = ROUND_CEILING if up else ROUND_FLOOR
        return (price / tick).to_integral_value(rounding=mode) * tick

    def tradable(self, qty: Decimal, price: Decimal) -> bool:
        """Return True when qty (already on the step grid) passes minQty and minNotional."""
        return qty > 0 and qty >= self.min_qty and qty * price >= self.min_notional
