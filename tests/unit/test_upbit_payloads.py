"""Upbit: translate_intent against bodies written by hand from Upbit's docs; signing vectors; ticks."""
from decimal import Decimal as D

import jwt
import pytest

from arbv2.adapters.upbit.rules import UpbitMarketRules, krw_tick, translate
from arbv2.adapters.upbit.signing import make_token, query_hash, query_string
from arbv2.adapters.upbit.symbols import from_market, to_market
from arbv2.core.errors import InvalidOrder
from arbv2.core.model import OrderIntent

BTC = UpbitMarketRules(market="KRW-BTC")


def intent(side, otype, qty=None, quote=None, price=None, tif=None, cid="arb-1", symbol="BTC/KRW"):
    return OrderIntent(venue="upbit", symbol=symbol, side=side, order_type=otype, quantity=qty,
                       quote_amount=quote, price=price, client_order_id=cid, time_in_force=tif)


def test_market_buy_is_ord_type_price_with_krw_total():
    body = translate(intent("buy", "market", quote=D("100000")), BTC)
    assert body == {"market": "KRW-BTC", "side": "bid", "ord_type": "price", "price": "100000", "identifier": "arb-1"}
    assert "volume" not in body


def test_market_buy_budget_floors_to_whole_won():
    assert translate(intent("buy", "market", quote=D("100000.99")), BTC)["price"] == "100000"


def test_market_sell_is_ord_type_market_with_volume():
    body = translate(intent("sell", "market", qty=D("0.0012345678")), BTC)
    assert body == {"market": "KRW-BTC", "side": "ask", "ord_type": "market", "volume": "0.00123456",
                    "identifier": "arb-1"}


def test_limit_buy_rounds_price_down_and_keeps_volume():
    body = translate(intent("buy", "limit", qty=D("0.01"), price=D("145000999")), BTC)
    assert body == {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": "145000000",
                    "volume": "0.01", "identifier": "arb-1"}


def test_limit_sell_ioc_rounds_price_up():
    body = translate(intent("sell", "limit", qty=D("0.01"), price=D("145000001"), tif="ioc"), BTC)
    assert body == {"market": "KRW-BTC", "side": "ask", "ord_type": "limit", "price": "145001000",
                    "volume": "0.01", "time_in_force": "ioc", "identifier": "arb-1"}


def test_limit_fok_and_gtc():
    assert translate(intent("buy", "limit", qty=D("1"), price=D("7000"), tif="fok", symbol="XRP/KRW"),
                     UpbitMarketRules(market="KRW-XRP"))["time_in_force"] == "fok"
    assert "time_in_force" not in translate(intent("buy", "limit", qty=D("1"), price=D("7000"), tif="gtc",
                                                   symbol="XRP/KRW"), UpbitMarketRules(market="KRW-XRP"))


def test_market_buy_by_quantity_is_refused_without_request():
    with pytest.raises(InvalidOrder, match="quote_amount"):
        translate(intent("buy", "market", qty=D("0.01")), BTC)


def test_min_total_enforced_for_budget_and_limit():
    with pytest.raises(InvalidOrder, match="minimum"):
        translate(intent("buy", "market", quote=D("4999")), BTC)
    with pytest.raises(InvalidOrder, match="minimum"):
        translate(intent("buy", "limit", qty=D("0.00003"), price=D("145000000")), BTC)  # 4350 KRW
    assert translate(intent("buy", "market", quote=D("5000")), BTC)["price"] == "5000"


def test_volume_rounding_to_zero_is_an_error():
    with pytest.raises(InvalidOrder, match="rounds to zero"):
        translate(intent("sell", "market", qty=D("0.000000001")), BTC)


@pytest.mark.parametrize("price,tick", [
    ("2000000", "1000"), ("1999999", "1000"), ("1000000", "1000"), ("999999", "500"), ("500000", "500"),
    ("499999", "100"), ("100000", "100"), ("99999", "50"), ("50000", "50"), ("49999", "10"), ("10000", "10"),
    ("9999", "5"), ("5000", "5"), ("4999", "1"), ("100", "1"), ("99.99", "0.1"), ("10", "0.1"), ("9.99", "0.01"),
    ("1", "0.01"), ("0.999", "0.001"), ("0.1", "0.001"), ("0.0999", "0.0001"), ("0.00001", "0.0000001"),
    ("0.000009", "0.00000001"),
])
def test_krw_tick_table_boundaries(price, tick):
    assert krw_tick(D(price)) == D(tick)


def test_rounding_across_a_band_lands_on_the_coarser_grid():
    # 999,800 sells round up into the >=1M band: 1,000,000 is on both grids.
    from arbv2.core.model import Side
    assert BTC.round_price(D("999800.5"), Side.SELL) == D("1000000")
    assert BTC.round_price(D("999800.5"), Side.BUY) == D("999500")


def test_instrument_tick_coarser_than_table_wins_finer_does_not():
    from arbv2.core.model import Side
    usdt = UpbitMarketRules(market="KRW-USDT", tick_size=D("0.5"))   # the 2025 KRW-USDT exception
    assert usdt.tick(D("1400")) == D("1")                           # table tick 1 is on the 0.5 grid too
    coarse = UpbitMarketRules(market="KRW-ETH", tick_size=D("1000"))
    assert coarse.round_price(D("4500500"), Side.BUY) == D("4500000")


def test_symbol_conversion_both_ways():
    assert to_market("BTC/KRW") == "KRW-BTC" and from_market("KRW-BTC") == "BTC/KRW"
    assert from_market(to_market("XRP/KRW")) == "XRP/KRW"
    with pytest.raises(ValueError):
        to_market("BTC/USDT:USDT")


def test_query_hash_vectors_from_protocol_doc():
    assert query_hash({"market": "KRW-BTC", "side": "bid", "ord_type": "price", "price": "10000"}) == (
        "4a69e8b814f9f38bc6e52c078303abac445d8166673e5ab18e487d8a9aa597fe"
        "3745f9c7c919cb4f401759fb86dd563bacc4f4ed2d87619a13a422ce29c7a2a1")
    assert query_string({"market": "KRW-BTC", "states": ["wait", "watch"]}) == "market=KRW-BTC&states[]=wait&states[]=watch"
    assert query_hash({"market": "KRW-BTC", "states": ["wait", "watch"]}).startswith("c01bbcb80094d222")


def test_jwt_vector_and_claims():
    params = {"market": "KRW-BTC", "side": "bid", "ord_type": "price", "price": "10000"}
    token = make_token("test-access-key", "test-secret-key", params, nonce="00000000-0000-4000-8000-000000000000")
    assert token.split(".")[2] == "myFzvswwIK8l7IVAmxzxTyuM6xAwcIuS2sDLXlllOndsXYsFLlHjFgVhT6FVXoLQFdhchwGOYeVvLEexWS6Jlg"
    claims = jwt.decode(token, "test-secret-key", algorithms=["HS512"])
    assert claims["query_hash_alg"] == "SHA512" and claims["access_key"] == "test-access-key"


def test_jwt_without_params_has_no_query_hash_and_fresh_nonces():
    a, b = (jwt.decode(make_token("k", "s" * 64, None), "s" * 64, algorithms=["HS512"]) for _ in range(2))
    assert "query_hash" not in a and a["nonce"] != b["nonce"]
    hs256 = make_token("k", "s" * 64, {"a": 1}, algorithm="HS256")
    assert jwt.get_unverified_header(hs256)["alg"] == "HS256"
