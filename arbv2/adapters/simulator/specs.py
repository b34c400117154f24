"""Static venue rules the simulator enforces: Upbit's KRW tick table, Binance filters, fees.

Kept in one place so the REST answers (/v1/orderbook/instruments, /fapi/v1/exchangeInfo) and
the matching checks can never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

D = Decimal

# Upbit KRW market tick table, policy effective 2025-07-31 (protocols/upbit.md §3):
# (lower bound of the band, tick). Bands below 100 KRW are marked unverified there.
_KRW_BANDS: tuple[tuple[Decimal, Decimal], ...] = (
    (D("1000000"), D("1000")),
    (D("500000"), D("500")),
    (D("100000"), D("100")),
    (D("50000"), D("50")),
    (D("10000"), D("10")),
    (D("5000"), D("5")),
    (D("100"), D("1")),
    (D("10"), D("0.1")),
    (D("1"), D("0.01")),
    (D("0.1"), D("0.001")),
    (D("0.01"), D("0.0001")),
    (D("0.001"), D("0.00001")),
    (D("0.0001"), D("0.000001")),
    (D("0.00001"), D("0.0000001")),
)
_KRW_MIN_TICK = D("0.00000001")

UPBIT_FEE = D("0.0005")           # KRW market, maker and taker, charged in KRW
UPBIT_MIN_TOTAL_KRW = D("5000")
UPBIT_MAX_TOTAL_KRW = D("1000000000")   # unverified on Upbit's side; documented in docs/simulator.md
UPBIT_VOLUME_DECIMALS = 8
BINANCE_MAKER_FEE = D("0.0002")
BINANCE_TAKER_FEE = D("0.0005")


def krw_tick(price: Decimal) -> Decimal:
    """Return the Upbit KRW tick for a price (the band the price falls in)."""
    for lower, tick in _KRW_BANDS:
        if price >= lower:
            return tick
    return _KRW_MIN_TICK


def on_krw_grid(price: Decimal) -> bool:
    """Return True when `price` is an exact multiple of its band's tick."""
    return price > 0 and price % krw_tick(price) == 0


class KrwGrid:
    """Upbit's variable KRW price grid: the tick depends on the price band."""

    def floor(self, x: float) -> Decimal:
        p = D(repr(x))
        t = krw_tick(p)
        return (p / t).to_integral_value(ROUND_FLOOR) * t

    def ceil(self, x: float) -> Decimal:
        p = D(repr(x))
        t = krw_tick(p)
        q = (p / t).to_integral_value(ROUND_CEILING) * t
        return q if on_krw_grid(q) else self.up(self.floor(x))

    def up(self, p: Decimal) -> Decimal:
        return p + krw_tick(p)

    def down(self, p: Decimal) -> Decimal:
        q = p - krw_tick(p)
        t = krw_tick(q)
        if t < krw_tick(p):          # crossed into a finer band: step by the finer tick
            q = p - t
        return q

    def tick_at(self, p: Decimal) -> Decimal:
        return krw_tick(p)


class FixedGrid:
    """A constant tick grid (Binance tickSize)."""

    def __init__(self, tick: Decimal) -> None:
        self.tick = tick

    def floor(self, x: float) -> Decimal:
        return (D(repr(x)) / self.tick).to_integral_value(ROUND_FLOOR) * self.tick

    def ceil(self, x: float) -> Decimal:
        return (D(repr(x)) / self.tick).to_integral_value(ROUND_CEILING) * self.tick

    def up(self, p: Decimal) -> Decimal:
        return p + self.tick

    def down(self, p: Decimal) -> Decimal:
        return p - self.tick

    def tick_at(self, p: Decimal) -> Decimal:
        return self.tick


@dataclass(frozen=True, slots=True)
class PerpSpec:
    """One Binance USDⓈ-M perpetual's starting price, filters and book shape."""

    base: str
    mid0_usdt: float
    tick_size: Decimal
    step_size: Decimal
    min_notional: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    level_qty_binance: float      # mean resting size per level, base units
    level_qty_upbit: float
    korean_name: str
    english_name: str

    @property
    def symbol(self) -> str:
        return f"{self.base}USDT"

    @property
    def upbit_code(self) -> str:
        return f"KRW-{self.base}"


SPECS: dict[str, PerpSpec] = {
    "BTC": PerpSpec("BTC", 100_000.0, D("0.10"), D("0.001"), D("100"), D("0.001"), D("1000"), D("120"),
                    0.6, 0.05, "비트코인", "Bitcoin"),
    "ETH": PerpSpec("ETH", 3_500.0, D("0.01"), D("0.001"), D("20"), D("0.001"), D("10000"), D("2000"),
                    8.0, 0.8, "이더리움", "Ethereum"),
    "XRP": PerpSpec("XRP", 2.5, D("0.0001"), D("0.1"), D("5"), D("0.1"), D("10000000"), D("2000000"),
                    6000.0, 2500.0, "리플", "XRP"),
}
USDT_KRW0 = 1_400.0
USDT_LEVEL_QTY_UPBIT = 8000.0


def spec_for(base: str) -> PerpSpec:
    """Return the spec of a known base, or a generic mid-priced one for any other symbol."""
    base = base.upper()
    if base in SPECS:
        return SPECS[base]
    return PerpSpec(base, 100.0, D("0.01"), D("0.01"), D("5"), D("0.01"), D("1000000"), D("100000"),
                    50.0, 5.0, base, base)


def decimals_of(step: Decimal) -> int:
    """Return how many fractional digits a tick/step has (0.001 -> 3, 1 -> 0)."""
    exp = step.normalize().as_tuple().exponent
    return max(0, -int(exp))


def fmt(value: Decimal, places: int | None = None) -> str:
    """Format a Decimal without exponent, optionally with a fixed number of decimals."""
    if places is not None:
        value = value.quantize(D(1).scaleb(-places))
    text = format(value, "f")
    return text
