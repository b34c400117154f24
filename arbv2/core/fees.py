"""Fee model: per venue and symbol, maker/taker, kept apart from the detector and the ledger.

The detector needs fee rates in bps (floats, for the break-even); the portfolio and the executor
need fees on a notional (Decimal, for the ledger). Both come from here so they cannot drift.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping

from arbv2.core.config import FeeConfig, VenuesConfig
from arbv2.core.model import Venue

_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class FeeRate:
    """Maker and taker rates of one venue+symbol, in bps of notional."""

    maker_bps: float
    taker_bps: float

    def bps(self, *, maker: bool = False) -> float:
        """Return the rate that applies to a maker or a taker fill."""
        return self.maker_bps if maker else self.taker_bps


class FeeModel:
    """Fee rates per venue and base asset, with per-symbol overrides.

    Parameters
    ----------
    defaults
        The venue-wide rate of each venue.
    overrides
        Per venue, a mapping of base asset ("BTC") to its own rate.
    """

    __slots__ = ("_defaults", "_overrides")

    def __init__(self, defaults: Mapping[Venue, FeeRate],
                 overrides: Mapping[Venue, Mapping[str, FeeRate]] | None = None) -> None:
        missing = [v.value for v in Venue if v not in defaults]
        if missing:
            raise ValueError(f"defaults: no fee rate for venue(s) {', '.join(missing)}")
        for venue, rate in defaults.items():
            _check_rate(f"defaults.{venue.value}", rate)
        self._defaults = dict(defaults)
        self._overrides: dict[Venue, dict[str, FeeRate]] = {}
        for venue, per_base in (overrides or {}).items():
            for base, rate in per_base.items():
                _check_rate(f"overrides.{venue.value}.{base}", rate)
            self._overrides[venue] = dict(per_base)

    @classmethod
    def from_config(cls, venues: VenuesConfig) -> "FeeModel":
        """Return the model described by the `venues` config slice."""
        def rate(fc: FeeConfig) -> FeeRate:
            return FeeRate(maker_bps=fc.maker_bps, taker_bps=fc.taker_bps)

        return cls(
            {Venue.UPBIT: rate(venues.upbit.fees), Venue.BINANCE_USDM: rate(venues.binance_usdm.fees)},
            {Venue.UPBIT: {b: rate(f) for b, f in venues.upbit.fee_overrides.items()},
             Venue.BINANCE_USDM: {b: rate(f) for b, f in venues.binance_usdm.fee_overrides.items()}},
        )

    def rate(self, venue: Venue, base: str) -> FeeRate:
        """Return the rate of venue for base asset `base` (override first, else the venue's)."""
        per_base = self._overrides.get(venue)
        if per_base is not None:
            found = per_base.get(base)
            if found is not None:
                return found
        return self._defaults[venue]

    def bps(self, venue: Venue, base: str, *, maker: bool = False) -> float:
        """Return the fee in bps for one fill on venue+base."""
        return self.rate(venue, base).bps(maker=maker)

    def fee(self, venue: Venue, base: str, notional: Decimal, *, maker: bool = False) -> Decimal:
        """Return the fee charged on `notional` (in the venue's quote currency), exact Decimal."""
        if not isinstance(notional, Decimal):
            raise ValueError(f"notional: must be a Decimal, got {type(notional).__name__}")
        rate = Decimal(repr(self.bps(venue, base, maker=maker)))
        return abs(notional) * rate / _BPS

    def round_trip_bps(self, base: str) -> float:
        """Return the taker cost of the four fills of one hedged round trip, in bps."""
        return 2.0 * self.bps(Venue.UPBIT, base) + 2.0 * self.bps(Venue.BINANCE_USDM, base)


def _check_rate(path: str, rate: FeeRate) -> None:
    for name in ("maker_bps", "taker_bps"):
        value = getattr(rate, name)
        if not isinstance(value, (int, float)) or value != value or value < -100.0 or value > 1000.0:
            raise ValueError(f"{path}.{name}: invalid value {value!r}; allowed: a number in -100..1000 bps")
