"""The ExchangePort contract, run on every implementation: Upbit and Binance USDⓈ-M against the
simulator over real HTTP, and the MockAdapter (paper) for both venues against a fixed book."""
from __future__ import annotations

import dataclasses
from decimal import Decimal as D
from typing import Any, Callable

import pytest

from arbv2._fast.reference import L2Book
from arbv2.adapters.binance.exchange import BinanceUsdmAdapter
from arbv2.adapters.binance.rules import BinanceSymbolRules, LotSize
from arbv2.adapters.common.clock import SystemClock
from arbv2.adapters.mock.exchange import MockAdapter
from arbv2.adapters.simulator import SimulatorServer
from arbv2.adapters.upbit.exchange import UpbitAdapter
from arbv2.core.config import BinanceConfig, Config, Secrets, UpbitConfig, VenuesConfig
from arbv2.core.errors import InvalidOrder, SafetyError, UnknownOrder, VenueUnavailable
from arbv2.core.model import OrderIntent, OrderStatus, Venue

pytestmark = pytest.mark.integration

SIM_SECRETS = Secrets(upbit_access_key="sim-upbit-access", upbit_secret_key="sim-upbit-secret",
                      binance_api_key="sim-binance-key", binance_api_secret="sim-binance-secret")


def sim_config(sim, mode: str = "sim") -> Config:
    return Config(mode=mode, venues=VenuesConfig(upbit=UpbitConfig(rest_url=sim.upbit_url),
                                                 binance_usdm=BinanceConfig(rest_url=sim.binance_url)),
                  secrets=SIM_SECRETS)


@dataclasses.dataclass
class Case:
    name: str
    adapter: Any
    symbol: str
    far_price: D                                  # a buy limit this low rests
    taking: Callable[[str], OrderIntent]          # a market order that fills
    resting: Callable[[str, D], OrderIntent]      # a limit buy at a price
    invalid: Callable[[str], OrderIntent]         # breaks a venue rule
    sim: SimulatorServer | None = None

    def sent(self) -> int:
        """Orders the venue saw (accepted or rejected); 0 for the paper exchange's own view."""
        return len(self.sim.truth.orders(self.adapter.venue.value)) if self.sim else 0


def _upbit_intents(symbol="BTC/KRW"):
    def taking(cid):
        return OrderIntent(venue="upbit", symbol=symbol, side="buy", order_type="market", quantity=None,
                           quote_amount=D("100000"), price=None, client_order_id=cid)

    def resting(cid, price):
        return OrderIntent(venue="upbit", symbol=symbol, side="buy", order_type="limit", quantity=D("0.001"),
                           quote_amount=None, price=price, client_order_id=cid, time_in_force="gtc")

    def invalid(cid):
        return OrderIntent(venue="upbit", symbol=symbol, side="buy", order_type="market", quantity=None,
                           quote_amount=D("1000"), price=None, client_order_id=cid)
    return taking, resting, invalid


def _binance_intents(symbol="BTC/USDT:USDT"):
    def taking(cid):
        return OrderIntent(venue="binance_usdm", symbol=symbol, side="sell", order_type="market",
                           quantity=D("0.01"), quote_amount=None, price=None, client_order_id=cid)

    def resting(cid, price):
        return OrderIntent(venue="binance_usdm", symbol=symbol, side="buy", order_type="limit",
                           quantity=D("0.002"), quote_amount=None, price=price, client_order_id=cid,
                           time_in_force="gtc")

    def invalid(cid):
        return OrderIntent(venue="binance_usdm", symbol=symbol, side="sell", order_type="market",
                           quantity=D("0.0001"), quote_amount=None, price=None, client_order_id=cid)
    return taking, resting, invalid


def _book(mid: float, tick: float, qty: float) -> L2Book:
    b = L2Book()
    b.apply_snapshot([mid - tick * i for i in range(1, 21)], [qty] * 20,
                     [mid + tick * i for i in range(1, 21)], [qty] * 20)
    return b


BIN_RULES = BinanceSymbolRules(symbol="BTCUSDT", tick_size=D("0.1"), min_price=D("0.1"), max_price=D("10000000"),
                               lot=LotSize(D("0.001"), D("1000"), D("0.001")),
                               market_lot=LotSize(D("0.001"), D("120"), D("0.001")), min_notional=D("100"))


@pytest.fixture(params=["upbit", "binance_usdm", "mock_upbit", "mock_binance_usdm"])
async def case(request):
    if request.param.startswith("mock_"):
        clock = SystemClock()
        if request.param == "mock_upbit":
            book = _book(142_000_000.0, 1000.0, 0.5)
            ad = MockAdapter(Venue.UPBIT, lambda s: book, 5.0, clock=clock, latency_s=0.001,
                             balances={"KRW": D("1000000000"), "BTC": D("1")})
            yield Case(request.param, ad, "BTC/KRW", D("100000000"), *_upbit_intents())
        else:
            book = _book(100_000.0, 0.1, 2.0)
            ad = MockAdapter(Venue.BINANCE_USDM, lambda s: book, 5.0, clock=clock, latency_s=0.001,
                             balances={"USDT": D("1000000")}, rules={"BTC/USDT:USDT": BIN_RULES})
            yield Case(request.param, ad, "BTC/USDT:USDT", D("80000"), *_binance_intents())
        await ad.close()
        return
    async with SimulatorServer(seed=7, symbols=("BTC", "ETH", "XRP")) as sim:
        cfg = sim_config(sim)
        if request.param == "upbit":
            ad = UpbitAdapter(cfg)
            await ad.load_markets()
            bid = D(str((await ad.order_book("BTC/KRW"))["orderbook_units"][0]["bid_price"]))
            yield Case("upbit", ad, "BTC/KRW", bid * D("0.8"), *_upbit_intents(), sim=sim)
        else:
            ad = BinanceUsdmAdapter(cfg)
            await ad.load_markets()
            mark = D((await ad.premium_index("BTC/USDT:USDT"))["markPrice"])
            yield Case("binance_usdm", ad, "BTC/USDT:USDT", mark * D("0.8"), *_binance_intents(), sim=sim)
        await ad.close()


async def test_translate_intent_names_the_client_id_and_sends_nothing(case):
    before = case.sent()
    payload = case.adapter.translate_intent(case.taking("c-translate"))
    assert "c-translate" in payload.values()
    assert all(isinstance(v, str) for v in payload.values())
    assert case.sent() == before


async def test_market_order_fills_and_reads_back(case):
    order = await case.adapter.submit(case.taking("c-take"))
    assert order.status is OrderStatus.FILLED and order.client_order_id == "c-take"
    assert order.filled_qty > 0 and order.avg_price and order.avg_price > 0 and order.fee > 0
    assert sum(f.quantity for f in order.fills) == order.filled_qty
    again = await case.adapter.order_status(case.symbol, "c-take")
    assert (again.status, again.venue_order_id, again.filled_qty) == (OrderStatus.FILLED, order.venue_order_id,
                                                                      order.filled_qty)
    if case.sim:
        # the order's fills are the venue's: one per trade, same (qty, price) pairs, same total fee
        fills = [f for f in case.sim.truth.fills(case.adapter.venue.value) if f.get("client_order_id") == "c-take"]
        assert sum(D(str(f["qty"])) for f in fills) == order.filled_qty
        for got in (order, again):
            assert sorted((f.quantity, f.price) for f in got.fills) == sorted((f["qty"], f["price"]) for f in fills)
            assert sum(f.fee for f in got.fills) == got.fee == sum(f["fee"] for f in fills)
        if case.adapter.venue is Venue.BINANCE_USDM:
            assert [(f.trade_id, f.fee, f.fee_asset) for f in order.fills] == \
                [(str(f["trade_id"]), f["fee"], "USDT") for f in fills]


async def test_balances_and_positions_follow_a_fill(case):
    before_bal = await case.adapter.balances()
    order = await case.adapter.submit(case.taking("c-bal"))
    after_bal = await case.adapter.balances()
    positions = {p.symbol: p.quantity for p in await case.adapter.positions()}
    if case.adapter.venue is Venue.UPBIT:
        assert after_bal["BTC"] - before_bal["BTC"] == order.filled_qty
        assert after_bal["KRW"] < before_bal["KRW"]
        assert positions["BTC/KRW"] == after_bal["BTC"]
    else:
        assert positions["BTC/USDT:USDT"] == -order.filled_qty
        assert after_bal["USDT"] < before_bal["USDT"]


async def test_resting_limit_then_cancel(case):
    order = await case.adapter.submit(case.resting("c-rest", case.far_price))
    assert order.status is OrderStatus.NEW and order.filled_qty == 0
    assert (await case.adapter.order_status(case.symbol, "c-rest")).status is OrderStatus.NEW
    canceled = await case.adapter.cancel(case.symbol, "c-rest")
    assert canceled.client_order_id == "c-rest"
    assert (await case.adapter.order_status(case.symbol, "c-rest")).status is OrderStatus.CANCELED


async def test_load_markets_is_available_and_idempotent(case):
    assert await case.adapter.load_markets(["BTC"]) == await case.adapter.load_markets(["BTC"])


async def test_unknown_order_is_unknown_order(case):
    with pytest.raises(UnknownOrder):
        await case.adapter.order_status(case.symbol, "c-never-sent")


async def test_rule_violation_raises_without_a_request(case):
    before = case.sent()
    with pytest.raises(InvalidOrder):
        await case.adapter.submit(case.invalid("c-bad"))
    assert case.sent() == before


# ---------------------------------------------------------------- real adapters only

@pytest.fixture(params=["upbit", "binance_usdm"])
async def real(request):
    async with SimulatorServer(seed=11, symbols=("BTC",)) as sim:
        cls = UpbitAdapter if request.param == "upbit" else BinanceUsdmAdapter
        intents = _upbit_intents() if request.param == "upbit" else _binance_intents()
        yield sim, cls, intents


async def test_lost_response_is_looked_up_not_resent(real):
    sim, cls, (taking, _, _) = real
    ad = cls(sim_config(sim))
    await ad.load_markets(["BTC"])
    transport = ad._transport
    real_request = transport.request

    async def lose_post_answers(method, path, **kw):
        resp = await real_request(method, path, **kw)
        if method == "POST":
            raise VenueUnavailable("response lost", venue="test", code="timeout")
        return resp

    transport.request = lose_post_answers
    order = await ad.submit(taking("c-lost"))
    await ad.close()
    assert order.status is OrderStatus.FILLED and order.filled_qty > 0
    sent = [o for o in sim.truth.orders(ad.venue.value) if o.get("client_order_id") == "c-lost"]
    assert len(sent) == 1
    truth = [f for f in sim.truth.fills(ad.venue.value) if f.get("client_order_id") == "c-lost"]
    assert sorted((f.quantity, f.price) for f in order.fills) == sorted((f["qty"], f["price"]) for f in truth)


async def test_binance_fills_follow_the_accounts_rate_and_fall_back_to_an_estimate():
    async with SimulatorServer(seed=11, symbols=("BTC",)) as sim:
        sim.binance.set_commission_rates("sim-binance-key", maker=D("0.00018"), taker=D("0.00036"))
        ad = BinanceUsdmAdapter(sim_config(sim))           # configured taker rate: 5 bps
        await ad.load_markets(["BTC"])
        taking = _binance_intents()[0]
        order = await ad.submit(taking("c-vip"))
        truth = [f for f in sim.truth.fills("binance_usdm") if f["client_order_id"] == "c-vip"]
        assert [(f.trade_id, f.quantity, f.price, f.fee) for f in order.fills] == \
            [(str(f["trade_id"]), f["qty"], f["price"], f["fee"]) for f in truth]
        assert order.fee == sum(f["fee"] for f in truth) == sum(f["quote_qty"] * D("0.00036") for f in truth)
        real_request = ad._transport.request

        async def no_trades(method, path, **kw):
            if path == "/fapi/v1/userTrades":
                raise VenueUnavailable("trades down", venue="test", code="connection")
            return await real_request(method, path, **kw)

        ad._transport.request = no_trades
        est = await ad.submit(taking("c-est"))
        await ad.close()
        assert est.status is OrderStatus.FILLED and len(est.fills) == 1
        assert est.fills[0].trade_id == f"{est.venue_order_id}:est" and est.fills[0].quantity == est.filled_qty
        quote = sum(f["quote_qty"] for f in sim.truth.fills("binance_usdm") if f["client_order_id"] == "c-est")
        assert est.fee == quote * D("0.0005")               # the configured rate: an estimate, marked as one


async def test_unreachable_venue_gives_unknown_status(real):
    sim, cls, (taking, _, _) = real
    ad = cls(sim_config(sim))
    await ad.load_markets(["BTC"])

    async def down(method, path, **kw):
        raise VenueUnavailable("connection refused", venue="test", code="connection")

    ad._transport.request = down
    order = await ad.submit(taking("c-down"))
    await ad.close()
    assert order.status is OrderStatus.UNKNOWN and order.client_order_id == "c-down"


@pytest.mark.parametrize("mode,unlock,preflight", [("paper", None, False), ("live", None, True),
                                                   ("live", "I_UNDERSTAND_THIS_TRADES_REAL_MONEY", False)])
async def test_orders_refused_outside_sim_and_gated_live(real, mode, unlock, preflight):
    sim, cls, (taking, _, _) = real
    cfg = dataclasses.replace(sim_config(sim, mode), secrets=dataclasses.replace(SIM_SECRETS, live_unlock=unlock))
    ad = cls(cfg, live_preflight_passed=preflight)
    await ad.load_markets(["BTC"])
    before = len(sim.truth.orders(ad.venue.value))
    with pytest.raises(SafetyError):
        await ad.submit(taking("c-unsafe"))
    with pytest.raises(SafetyError):
        await ad.cancel("BTC/KRW" if cls is UpbitAdapter else "BTC/USDT:USDT", "c-unsafe")
    await ad.close()
    assert len(sim.truth.orders(ad.venue.value)) == before
