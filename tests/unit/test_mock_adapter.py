"""MockAdapter: fills walk the book per level, partial fills, fees, rules, balances, positions, determinism."""
from decimal import Decimal as D

import pytest

from arbv2._fast.reference import L2Book
from arbv2.adapters.binance.rules import BinanceSymbolRules, LotSize
from arbv2.adapters.mock.exchange import MockAdapter
from arbv2.core.errors import InsufficientFunds, InvalidOrder, UnknownOrder
from arbv2.core.model import OrderIntent, OrderStatus, Venue


class FakeClock:
    def __init__(self):
        self.t = 1_700_000_000_000_000_000
        self.slept = []

    def now_ns(self):
        return self.t

    def monotonic_ns(self):
        return self.t

    async def sleep(self, s):
        self.slept.append(s)
        self.t += int(s * 1e9)


def book(bids, asks):
    b = L2Book()
    b.apply_snapshot([p for p, _ in bids], [q for _, q in bids], [p for p, _ in asks], [q for _, q in asks])
    return b


UPBIT_BOOK = book(bids=[(100_000_000, 0.5), (99_999_000, 1.0)], asks=[(100_001_000, 0.2), (100_002_000, 0.3)])
BIN_BOOK = book(bids=[(70000.0, 1.0), (69999.9, 2.0)], asks=[(70000.1, 0.5), (70000.2, 0.5)])
BIN_RULES = {"BTC/USDT:USDT": BinanceSymbolRules(
    symbol="BTCUSDT", tick_size=D("0.1"), min_price=D("1"), max_price=D("1000000"),
    lot=LotSize(D("0.001"), D("1000"), D("0.001")), market_lot=LotSize(D("0.001"), D("100"), D("0.001")),
    min_notional=D("100"))}


def upbit(clock=None, **kw):
    kw.setdefault("balances", {"KRW": D("100000000"), "BTC": D("1")})
    return MockAdapter(Venue.UPBIT, lambda s: UPBIT_BOOK, 5.0, clock=clock or FakeClock(), **kw)


def binance(clock=None, **kw):
    kw.setdefault("balances", {"USDT": D("100000")})
    return MockAdapter(Venue.BINANCE_USDM, lambda s: BIN_BOOK, 5.0, clock=clock or FakeClock(), rules=BIN_RULES, **kw)


def ui(side, otype, qty=None, quote=None, price=None, cid="c1", tif=None):
    return OrderIntent(venue="upbit", symbol="BTC/KRW", side=side, order_type=otype, quantity=qty,
                       quote_amount=quote, price=price, client_order_id=cid, time_in_force=tif)


def bi(side, otype, qty, price=None, cid="h1", reduce_only=False, tif=None):
    return OrderIntent(venue="binance_usdm", symbol="BTC/USDT:USDT", side=side, order_type=otype, quantity=qty,
                       quote_amount=None, price=price, client_order_id=cid, reduce_only=reduce_only, time_in_force=tif)


async def test_upbit_market_buy_by_krw_walks_levels_and_charges_fee():
    clock = FakeClock()
    ex = upbit(clock, latency_s=0.02)
    o = await ex.submit(ui("buy", "market", quote=D("30000000")))
    assert clock.slept == [0.02]
    assert o.status is OrderStatus.FILLED
    assert [(f.price, f.quantity) for f in o.fills] == [(D("100001000"), D("0.2")), (D("100002000"), D("0.09999600"))]  # 9,999,800 KRW left / 100,002,000
    spent = sum(f.notional for f in o.fills)
    assert spent <= D("30000000") and D("30000000") - spent < D("100002000") * D("0.00000001")
    assert o.fee == spent * D("0.0005")
    bal = await ex.balances()
    assert bal["BTC"] == D("1") + o.filled_qty
    assert bal["KRW"] == D("100000000") - spent - o.fee
    assert UPBIT_BOOK.asks(5).tolist() == [[100_001_000.0, 0.2], [100_002_000.0, 0.3]]   # book untouched


async def test_partial_fill_when_depth_runs_out():
    ex = upbit(balances={"KRW": D("1000000000"), "BTC": D("10")})
    o = await ex.submit(ui("sell", "market", qty=D("2"), cid="s1"))
    assert o.status is OrderStatus.CANCELED and o.filled_qty == D("1.5")
    b = await binance().submit(bi("buy", "market", D("2")))
    assert b.status is OrderStatus.CANCELED and b.filled_qty == D("1.000")


async def test_limit_ioc_fok_and_resting_gtc():
    ex = binance()
    ioc = await ex.submit(bi("buy", "limit", D("0.8"), price=D("70000.1"), cid="i1", tif="ioc"))
    assert ioc.status is OrderStatus.EXPIRED and ioc.filled_qty == D("0.5")
    fok = await ex.submit(bi("buy", "limit", D("0.8"), price=D("70000.1"), cid="f1", tif="fok"))
    assert fok.status is OrderStatus.EXPIRED and fok.filled_qty == 0
    gtc = await ex.submit(bi("buy", "limit", D("0.01"), price=D("69000"), cid="g1", tif="gtc"))
    assert gtc.status is OrderStatus.NEW
    assert (await ex.cancel("BTC/USDT:USDT", "g1")).status is OrderStatus.CANCELED
    with pytest.raises(UnknownOrder):
        await ex.cancel("BTC/USDT:USDT", "g1")
    with pytest.raises(UnknownOrder):
        await ex.order_status("BTC/USDT:USDT", "nope")


async def test_perp_position_realized_pnl_and_reduce_only():
    ex = binance()
    await ex.submit(bi("sell", "market", D("0.5"), cid="a"))          # short 0.5 @ 70000
    [pos] = await ex.positions()
    assert pos.quantity == D("-0.5") and pos.avg_price == D("70000")
    with pytest.raises(InvalidOrder) as exc:
        await ex.submit(bi("sell", "market", D("0.1"), cid="b", reduce_only=True))
    assert exc.value.code == -2022
    close = await ex.submit(bi("buy", "market", D("0.5"), cid="c", reduce_only=True))   # buy back @ 70000.1
    assert close.status is OrderStatus.FILLED
    assert await ex.positions() == []
    fees = D("0.5") * D("70000") * D("0.0005") + D("0.5") * D("70000.1") * D("0.0005")
    assert (await ex.balances())["USDT"] == D("100000") - D("0.05") - fees


async def test_rules_and_funds_are_enforced_before_filling():
    ex = binance()
    with pytest.raises(InvalidOrder, match="MIN_NOTIONAL"):
        await ex.submit(bi("buy", "market", D("0.001")))                # 70 USDT < 100 at the best ask
    poor = upbit(balances={"KRW": D("10000")})
    with pytest.raises(InsufficientFunds):
        await poor.submit(ui("buy", "market", quote=D("20000")))
    with pytest.raises(InsufficientFunds):
        await poor.submit(ui("sell", "market", qty=D("0.1"), cid="x"))
    assert (await poor.balances()) == {"KRW": D("10000")}
    assert upbit().translate_intent(ui("buy", "market", quote=D("10000")))["ord_type"] == "price"


async def test_duplicate_client_id_refused_and_seed_determinism():
    a, b = upbit(seed=9), upbit(seed=9)
    oa = await a.submit(ui("buy", "market", quote=D("10000")))
    ob = await b.submit(ui("buy", "market", quote=D("10000")))
    assert oa.venue_order_id == ob.venue_order_id and oa.fills == ob.fills
    assert (await upbit(seed=10).submit(ui("buy", "market", quote=D("10000")))).venue_order_id != oa.venue_order_id
    with pytest.raises(InvalidOrder, match="used before"):
        await a.submit(ui("buy", "market", quote=D("10000")))


async def test_resting_limit_fills_when_the_book_crosses_it():
    state = {"book": BIN_BOOK}
    ex = MockAdapter(Venue.BINANCE_USDM, lambda s: state["book"], 2.0, clock=FakeClock(), rules=BIN_RULES,
                     balances={"USDT": D("1000")})
    await ex.submit(bi("buy", "limit", D("0.01"), price=D("69000"), cid="r"))
    state["book"] = book(bids=[(68000.0, 1.0)], asks=[(68999.0, 0.004), (69000.0, 1.0)])
    o = await ex.order_status("BTC/USDT:USDT", "r")
    assert o.status is OrderStatus.FILLED and [f.quantity for f in o.fills] == [D("0.004"), D("0.006")]
