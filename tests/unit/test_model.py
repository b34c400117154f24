"""OrderIntent validation and the small helpers of the domain model."""
from __future__ import annotations

from decimal import Decimal

import pytest

from arbv2.core.model import (OrderIntent, OrderStatus, OrderType, Side, Venue, base_asset, binance_symbol,
                              quote_asset, upbit_symbol)

D = Decimal


def intent(**kw):
    base = dict(venue=Venue.UPBIT, symbol="BTC/KRW", side=Side.BUY, order_type=OrderType.MARKET,
                quantity=None, quote_amount=D("10000"), price=None, client_order_id="rt1-u")
    base.update(kw)
    return OrderIntent(**base)


def test_valid_intents():
    assert intent().quote_amount == D("10000")
    sell = intent(side=Side.SELL, quantity=D("0.01"), quote_amount=None)
    assert sell.quantity == D("0.01")
    lim = intent(order_type=OrderType.LIMIT, quantity=D("0.01"), quote_amount=None, price=D("140000000"),
                 time_in_force="ioc")
    assert lim.time_in_force == "ioc"
    perp = intent(venue="binance_usdm", symbol="BTC/USDT:USDT", side="sell", order_type="market",
                  quantity=D("0.002"), quote_amount=None, reduce_only=True)
    assert perp.venue is Venue.BINANCE_USDM and perp.side is Side.SELL and perp.reduce_only


def test_exactly_the_issue_fields():
    import dataclasses

    assert [f.name for f in dataclasses.fields(OrderIntent)] == [
        "venue", "symbol", "side", "order_type", "quantity", "quote_amount", "price", "client_order_id",
        "reduce_only", "time_in_force"]


def test_intent_is_frozen():
    with pytest.raises(dataclasses_frozen_error()):
        intent().price = D(1)  # type: ignore[misc]


def dataclasses_frozen_error():
    import dataclasses

    return dataclasses.FrozenInstanceError


@pytest.mark.parametrize("kw, field", [
    (dict(quote_amount=None), "quantity"),                                      # market buy with no size
    (dict(order_type=OrderType.LIMIT, quantity=D(1), quote_amount=None), "price"),  # limit without price
    (dict(quote_amount=D(0)), "quote_amount"),
    (dict(quote_amount=D(-5)), "quote_amount"),
    (dict(quote_amount=D("NaN")), "quote_amount"),
    (dict(quote_amount=D("Infinity")), "quote_amount"),
    (dict(quote_amount=None, quantity=D("-1")), "quantity"),
    (dict(quote_amount=None, quantity=D("sNaN")), "quantity"),
    (dict(quote_amount=1.5), "quote_amount"),                                   # float is not money
    (dict(order_type=OrderType.LIMIT, quantity=D(1), quote_amount=None, price=D(0)), "price"),
    (dict(price=D(100)), "price"),                                              # market with a price
    (dict(client_order_id=""), "client_order_id"),
    (dict(side="hold"), "side"),
    (dict(venue="kraken"), "venue"),
    (dict(order_type="stop"), "order_type"),
    (dict(symbol="BTCKRW"), "symbol"),
    (dict(side=Side.SELL), "quote_amount"),                                     # sell sized in quote
    (dict(quantity=D(1)), "quantity/quote_amount"),                             # both sizes
    (dict(order_type=OrderType.LIMIT, quantity=D(1), quote_amount=None, price=D(1), time_in_force="day"),
     "time_in_force"),
])
def test_inconsistent_intents_name_the_field(kw, field):
    with pytest.raises(ValueError) as err:
        intent(**kw)
    assert str(err.value).startswith(field + ":"), str(err.value)


def test_symbols():
    assert base_asset("BTC/USDT:USDT") == "BTC" and quote_asset("BTC/USDT:USDT") == "USDT"
    assert quote_asset("ETH/KRW") == "KRW"
    assert upbit_symbol("XRP") == "XRP/KRW" and binance_symbol("XRP") == "XRP/USDT:USDT"
    with pytest.raises(ValueError):
        base_asset("KRW-BTC")


def test_status_finality_and_side_opposite():
    assert OrderStatus.FILLED.is_final and OrderStatus.CANCELED.is_final
    assert not OrderStatus.UNKNOWN.is_final and not OrderStatus.PARTIALLY_FILLED.is_final
    assert Side.BUY.opposite is Side.SELL
