"""Binance USDⓈ-M: translate_intent against params written by hand from the docs; signing vectors; filters."""
from decimal import Decimal as D

import pytest

from arbv2.adapters.binance.rules import BinanceSymbolRules, translate
from arbv2.adapters.binance.signing import sign, signed_query
from arbv2.adapters.binance.symbols import from_symbol, to_symbol
from arbv2.core.errors import InvalidOrder
from arbv2.core.model import OrderIntent

BTCUSDT = BinanceSymbolRules.from_exchange_info({
    "symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "contractType": "PERPETUAL", "status": "TRADING",
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": "0.10"},
        {"filterType": "LOT_SIZE", "stepSize": "0.001", "maxQty": "1000", "minQty": "0.001"},
        {"filterType": "MARKET_LOT_SIZE", "stepSize": "0.001", "maxQty": "120", "minQty": "0.001"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MIN_NOTIONAL", "notional": "100"},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"},
    ]})


def intent(side, otype, qty=None, price=None, tif=None, reduce_only=False, cid="arb-1-h", quote=None):
    return OrderIntent(venue="binance_usdm", symbol="BTC/USDT:USDT", side=side, order_type=otype, quantity=qty,
                       quote_amount=quote, price=price, client_order_id=cid, reduce_only=reduce_only,
                       time_in_force=tif)


def test_market_sell_floors_quantity_to_market_step():
    assert translate(intent("sell", "market", qty=D("0.0129")), BTCUSDT) == {
        "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.012",
        "newClientOrderId": "arb-1-h", "newOrderRespType": "RESULT"}


def test_limit_buy_gtc_default_price_floored_to_tick():
    assert translate(intent("buy", "limit", qty=D("0.010"), price=D("67012.37")), BTCUSDT) == {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
        "price": "67012.3", "newClientOrderId": "arb-1-h", "newOrderRespType": "RESULT"}


def test_limit_sell_ioc_price_ceiled_and_reduce_only():
    assert translate(intent("sell", "limit", qty=D("0.5"), price=D("67012.31"), tif="ioc", reduce_only=True),
                     BTCUSDT) == {
        "symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "IOC", "quantity": "0.500",
        "price": "67012.4", "reduceOnly": "true", "newClientOrderId": "arb-1-h", "newOrderRespType": "RESULT"}


def test_limit_fok():
    assert translate(intent("buy", "limit", qty=D("0.002"), price=D("60000"), tif="fok"), BTCUSDT)["timeInForce"] == "FOK"


def test_step_rounding_never_rounds_up_and_min_qty():
    assert translate(intent("buy", "market", qty=D("0.0019999")), BTCUSDT)["quantity"] == "0.001"
    with pytest.raises(InvalidOrder, match="minQty") as exc:
        translate(intent("buy", "market", qty=D("0.0009")), BTCUSDT)
    assert exc.value.code == -4004


def test_market_max_qty_uses_market_lot_size():
    translate(intent("buy", "limit", qty=D("500"), price=D("60000")), BTCUSDT)      # LOT_SIZE allows 1000
    with pytest.raises(InvalidOrder, match="maxQty"):
        translate(intent("buy", "market", qty=D("500")), BTCUSDT)                  # MARKET_LOT_SIZE max 120


def test_min_notional_limit_market_and_reduce_only_exemption():
    with pytest.raises(InvalidOrder, match="MIN_NOTIONAL") as exc:
        translate(intent("buy", "limit", qty=D("0.001"), price=D("60000")), BTCUSDT)   # 60 < 100
    assert exc.value.code == -4164
    assert translate(intent("buy", "limit", qty=D("0.002"), price=D("50000")), BTCUSDT)["quantity"] == "0.002"
    translate(intent("sell", "limit", qty=D("0.001"), price=D("60000"), reduce_only=True), BTCUSDT)
    translate(intent("sell", "market", qty=D("0.001")), BTCUSDT)                    # no reference price known
    with pytest.raises(InvalidOrder, match="MIN_NOTIONAL"):
        translate(intent("sell", "market", qty=D("0.001")), BTCUSDT, ref_price=D("60000"))


def test_price_bounds_quote_sizing_and_client_id_rules():
    with pytest.raises(InvalidOrder, match="minPrice"):
        translate(intent("buy", "limit", qty=D("1"), price=D("500")), BTCUSDT)
    with pytest.raises(InvalidOrder, match="quote_amount"):
        translate(intent("buy", "market", quote=D("100")), BTCUSDT)
    with pytest.raises(InvalidOrder, match="client_order_id"):
        translate(intent("buy", "market", qty=D("0.01"), cid="has space"), BTCUSDT)


def test_symbols():
    assert to_symbol("BTC/USDT:USDT") == "BTCUSDT" and from_symbol("BTCUSDT") == "BTC/USDT:USDT"
    with pytest.raises(ValueError):
        to_symbol("BTC/KRW")


def test_hmac_vector_from_binance_docs():
    secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
    total = ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
             "&recvWindow=5000&timestamp=1591702613943")
    assert sign(secret, total) == "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    q = signed_query(secret, {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1",
                              "price": "9000", "timeInForce": "GTC"}, timestamp_ms=1591702613943, recv_window_ms=5000)
    assert q == total + "&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"


def test_hmac_mixed_query_and_body_vector():
    """The docs' mixed example joins query and body without '&'; its published signature was made
    from the doc's command line, which carries a stray space before the timestamp value."""
    secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=9000&recvWindow=5000&timestamp= 1591702613943"
    assert sign(secret, query + body) == "f9d0ae5e813ef6ccf15c2b5a434047a0181cb5a342b903b367ca6d27a66e36f2"
    assert sign(secret, query + "&" + body) != sign(secret, query + body)
