"""Simulator building blocks without sockets: tick table, auth vectors, model, book, fault plan."""
from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from arbv2.adapters.simulator.auth import AuthFailure, BinanceAuth
from arbv2.adapters.simulator.book import ASK, BID, L2Book
from arbv2.adapters.simulator.faults import FaultPlan
from arbv2.adapters.simulator.market import MarketModel
from arbv2.adapters.simulator.specs import KrwGrid, krw_tick, on_krw_grid


@pytest.mark.parametrize("price,tick", [("142800000", "1000"), ("1500000", "1000"), ("600000", "500"),
                                        ("100000", "100"), ("60000", "50"), ("12000", "10"), ("5000", "5"),
                                        ("1400", "1"), ("150", "1"), ("50", "0.1")])
def test_krw_tick_table(price, tick):
    assert krw_tick(Decimal(price)) == Decimal(tick)


def test_krw_grid_steps_across_bands():
    g = KrwGrid()
    assert g.down(Decimal("5000")) == Decimal("4999")
    assert g.up(Decimal("4999")) == Decimal("5000")
    assert on_krw_grid(Decimal("5005")) and not on_krw_grid(Decimal("5003"))


def test_binance_hmac_documented_vector():
    secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
    qs = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943"
    sig = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    auth = BinanceAuth({"k": secret})
    params = dict(p.split("=") for p in qs.split("&"))
    assert auth.verify("k", f"{qs}&signature={sig}", "", params, 1591702613943) == "k"
    with pytest.raises(AuthFailure) as exc:
        auth.verify("k", f"{qs}&signature={sig[:-1]}0", "", params, 1591702613943)
    assert exc.value.code == -1022
    with pytest.raises(AuthFailure) as exc:
        auth.verify("k", f"{qs}&signature={sig}", "", params, 1591702613943 + 6000)
    assert exc.value.code == -1021


def test_upbit_query_hash_vector():
    text = "market=KRW-BTC&side=bid&ord_type=price&price=10000"
    assert hashlib.sha512(text.encode()).hexdigest().startswith("4a69e8b814f9f38b")


def test_model_is_deterministic_and_premium_reverts():
    a, b = MarketModel(42, ("BTC",)), MarketModel(42, ("BTC",))
    premiums = []
    for _ in range(20_000):          # ~33 minutes of model time at 0.1 s
        a.step(0.1)
        b.step(0.1)
        premiums.append(a.premium("BTC"))
    assert a.snapshot() == b.snapshot()
    mean = sum(premiums) / len(premiums)
    assert abs(mean - 0.02) < 0.006
    assert min(premiums) < 0.015 and max(premiums) > 0.025      # both cheap and rich windows occur


def test_book_drain_and_reserved_id():
    book = L2Book("X", 100)
    book.set(BID, Decimal("10"), Decimal("1"))
    book.set(ASK, Decimal("11"), Decimal("2"))
    book.set(BID, Decimal("10"), Decimal("0"))
    first, last, pu, bids, asks = book.drain()
    assert (first, last, pu) == (101, 103, 100)
    assert bids == [(Decimal("10"), Decimal("0"))] and asks == [(Decimal("11"), Decimal("2"))]
    snap_id = book.reserve_id()
    book.set(ASK, Decimal("12"), Decimal("1"))
    first, last, pu, _, _ = book.drain()
    assert first <= snap_id <= last and pu == 103


def test_take_walks_levels():
    book = L2Book("X", 0)
    for px, q in (("11", "1"), ("12", "2"), ("13", "5")):
        book.set(ASK, Decimal(px), Decimal(q))
    fills = book.take(ASK, Decimal("2.5"), None, None, Decimal("0.001"))
    assert fills == [(Decimal("11"), Decimal("1")), (Decimal("12"), Decimal("1.5"))]
    assert book.top(ASK, 2) == [(Decimal("12"), Decimal("0.5")), (Decimal("13"), Decimal("5"))]


def test_fault_plan_rejects_bad_input():
    with pytest.raises(ValueError):
        FaultPlan.from_dict({"http_429_share": 2})
    with pytest.raises(ValueError):
        FaultPlan.from_dict({"no_such_fault": 1})
    with pytest.raises(ValueError):
        FaultPlan(venues=("kraken",))
    assert FaultPlan.from_dict({"ws_drop_every_s": 5, "venues": ["upbit"]}).applies("binance_usdm") is False
