"""Fee model: venue defaults, per-symbol overrides, exact Decimal fees."""
from decimal import Decimal

import pytest

from arbv2.core.config import FeeConfig, UpbitConfig, VenuesConfig
from arbv2.core.fees import FeeModel, FeeRate
from arbv2.core.model import Venue


def model() -> FeeModel:
    venues = VenuesConfig(upbit=UpbitConfig(fee_overrides={"XRP": FeeConfig(taker_bps=2.5, maker_bps=1.0)}))
    return FeeModel.from_config(venues)


def test_defaults_and_overrides():
    m = model()
    assert m.bps(Venue.UPBIT, "BTC") == 5.0
    assert m.bps(Venue.UPBIT, "XRP") == 2.5
    assert m.bps(Venue.UPBIT, "XRP", maker=True) == 1.0
    assert m.bps(Venue.BINANCE_USDM, "BTC", maker=True) == 2.0
    assert m.round_trip_bps("BTC") == 20.0          # the 0.20 % of kimchi-premium.md section 4
    assert m.round_trip_bps("XRP") == 15.0


def test_fee_is_exact_decimal():
    m = model()
    # Worked example: Upbit 0.05 % of 14,510,000 + 14,733,000 KRW = 14,621.5 KRW.
    assert m.fee(Venue.UPBIT, "BTC", Decimal("14510000")) + m.fee(Venue.UPBIT, "BTC", Decimal("14733000")) \
        == Decimal("14621.5")
    assert m.fee(Venue.BINANCE_USDM, "BTC", Decimal("-10000")) == Decimal("5")
    with pytest.raises(ValueError, match="notional"):
        m.fee(Venue.UPBIT, "BTC", 1.0)


def test_missing_venue_or_bad_rate_is_refused():
    with pytest.raises(ValueError, match="binance_usdm"):
        FeeModel({Venue.UPBIT: FeeRate(5.0, 5.0)})
    with pytest.raises(ValueError, match="taker_bps"):
        FeeModel({Venue.UPBIT: FeeRate(5.0, float("nan")), Venue.BINANCE_USDM: FeeRate(2.0, 5.0)})
