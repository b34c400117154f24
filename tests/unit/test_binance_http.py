"""Binance adapter over a scripted transport: signing on the wire, time offset, -1021 resync,
usage-header slowdown, 429 penalties, margin-type no-op, lookup instead of resend, and the
venue's fills from userTrades (estimate only when they cannot be read)."""
import asyncio
import logging
from decimal import Decimal as D
from urllib.parse import parse_qsl

import orjson
import pytest
from multidict import CIMultiDict

from arbv2.adapters.binance.exchange import BinanceUsdmAdapter
from arbv2.adapters.binance.rules import BinanceSymbolRules, LotSize
from arbv2.adapters.binance.signing import sign
from arbv2.adapters.common.transport import RawResponse
from arbv2.adapters.memory.rate_limiter import MemoryRateLimiter
from arbv2.core.config import BinanceConfig, Config, Secrets, VenuesConfig
from arbv2.core.errors import RateLimited, VenueUnavailable
from arbv2.core.model import OrderIntent, OrderStatus

SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
RULES = {"BTCUSDT": BinanceSymbolRules(symbol="BTCUSDT", tick_size=D("0.1"), min_price=D("0.1"),
                                       max_price=D("1000000"), lot=LotSize(D("0.001"), D("1000"), D("0.001")),
                                       market_lot=LotSize(D("0.001"), D("120"), D("0.001")), min_notional=D("5"))}
FILLED = {"orderId": 42, "clientOrderId": "h1", "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
          "origType": "MARKET", "status": "FILLED", "price": "0", "origQty": "0.010", "executedQty": "0.010",
          "cumQuote": "670.123", "avgPrice": "67012.30", "updateTime": 1730000000321}
# the venue's two trades of FILLED, at a VIP rate (0.04 %), not the configured 0.05 %
TRADES = [{"symbol": "BTCUSDT", "id": 9001, "orderId": 42, "side": "SELL", "price": "67012.40", "qty": "0.004",
           "realizedPnl": "0", "quoteQty": "268.0496", "commission": "0.10721984", "commissionAsset": "USDT",
           "time": 1730000000319, "buyer": False, "maker": False, "positionSide": "BOTH"},
          {"symbol": "BTCUSDT", "id": 9002, "orderId": 42, "side": "SELL", "price": "67012.2333", "qty": "0.006",
           "realizedPnl": "0", "quoteQty": "402.0734", "commission": "0.16082936", "commissionAsset": "USDT",
           "time": 1730000000320, "buyer": False, "maker": False, "positionSide": "BOTH"}]


class FakeClock:
    def __init__(self):
        self.t = 1_730_000_000_000 * 10**6
        self.slept = []

    def now_ns(self):
        return self.t

    def monotonic_ns(self):
        return self.t

    async def sleep(self, s):
        self.slept.append(s)
        self.t += int(s * 1e9)


class ScriptedTransport:
    def __init__(self, *responses):
        self.responses = list(responses)
        self.calls = []

    async def request(self, method, path, *, query="", body=None, headers=None, timeout_s=None):
        self.calls.append((method, path, query, body.decode() if body else "", dict(headers or {})))
        r = self.responses.pop(0)
        if isinstance(r, Exception):
            raise r
        return r

    async def close(self):
        pass


def resp(status, doc, **headers):
    return RawResponse(status, CIMultiDict(headers), orjson.dumps(doc))


class SpyLimiter(MemoryRateLimiter):
    def __init__(self, clock):
        super().__init__(clock)
        self.acquired = []

    async def acquire(self, bucket, weight=1):
        self.acquired.append((bucket, weight))
        return await super().acquire(bucket, weight)


def make(*responses, **adapter_kw):
    cfg = Config(mode="sim", venues=VenuesConfig(binance_usdm=BinanceConfig(rest_url="http://127.0.0.1:9")),
                 secrets=Secrets(binance_api_key="the-key", binance_api_secret=SECRET))
    clock = FakeClock()
    limiter = SpyLimiter(clock)
    ad = BinanceUsdmAdapter(cfg, clock=clock, rate_limiter=limiter, rules=RULES, **adapter_kw)
    t = ScriptedTransport(*responses)
    ad._transport = ad._http._t = t
    return ad, t, clock, limiter


def sell(cid="h1"):
    return OrderIntent(venue="binance_usdm", symbol="BTC/USDT:USDT", side="sell", order_type="market",
                       quantity=D("0.01"), quote_amount=None, price=None, client_order_id=cid)


async def test_order_is_signed_form_body_with_offset_timestamp():
    ad, t, clock, _ = make(resp(200, {"serverTime": 1_730_000_000_000 + 1500}), resp(200, FILLED), resp(200, TRADES))
    assert await ad.sync_time() == 1500
    order = await ad.submit(sell())
    method, path, query, body, headers = t.calls[1]
    assert (method, path, query) == ("POST", "/fapi/v1/order", "")
    assert headers["X-MBX-APIKEY"] == "the-key"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    unsigned, _, signature = body.rpartition("&signature=")
    assert signature == sign(SECRET, unsigned)
    fields = dict(parse_qsl(unsigned))
    assert fields["timestamp"] == str(1_730_000_000_000 + 1500) and fields["recvWindow"] == "5000"
    assert fields["quantity"] == "0.010" and fields["newClientOrderId"] == "h1"
    assert order.status is OrderStatus.FILLED and [f.trade_id for f in order.fills] == ["9001", "9002"]


async def test_timestamp_skew_resyncs_and_resends_once():
    ad, t, _, _ = make(resp(400, {"code": -1021, "msg": "Timestamp outside recvWindow"}),
                       resp(200, {"serverTime": 1_730_000_000_000 + 4000}), resp(200, FILLED), resp(200, TRADES))
    order = await ad.submit(sell())
    assert order.status is OrderStatus.FILLED
    assert [c[1] for c in t.calls] == ["/fapi/v1/order", "/fapi/v1/time", "/fapi/v1/order", "/fapi/v1/userTrades"]
    assert ad.time_offset_ms == 4000


async def test_lost_order_response_is_looked_up_by_client_id():
    ad, t, _, _ = make(VenueUnavailable("timeout"), resp(200, FILLED), resp(200, TRADES))
    order = await ad.submit(sell())
    assert order.status is OrderStatus.FILLED and len(order.fills) == 2
    assert [c[:2] for c in t.calls] == [("POST", "/fapi/v1/order"), ("GET", "/fapi/v1/order"),
                                        ("GET", "/fapi/v1/userTrades")]
    assert dict(parse_qsl(t.calls[1][2]))["origClientOrderId"] == "h1"


async def test_used_weight_near_limit_pauses_until_next_minute():
    ad, t, clock, limiter = make(resp(200, {"symbol": "BTCUSDT", "markPrice": "67000"},
                                      **{"X-MBX-USED-WEIGHT-1M": "2200"}))
    await ad.premium_index("BTC/USDT:USDT")
    assert await limiter.headroom("binance:weight") == 0.0
    assert ad.translate_intent(sell())["quantity"] == "0.010"     # the mark now backs MIN_NOTIONAL checks


async def test_429_penalizes_and_order_is_not_resent():
    ad, t, _, limiter = make(resp(429, {"code": -1015, "msg": "Too many new orders"}, **{"Retry-After": "3"}))
    with pytest.raises(RateLimited) as exc:
        await ad.submit(sell())
    assert exc.value.retry_after_s == 3.0 and len(t.calls) == 1
    assert await limiter.headroom("binance:order") == 0.0


async def test_margin_type_already_set_is_not_an_error():
    ad, t, _, _ = make(resp(400, {"code": -4046, "msg": "No need to change margin type."}), resp(200, {"code": 200}))
    assert await ad.set_margin_type("BTC/USDT:USDT", "CROSSED") is False
    assert await ad.set_margin_type("BTC/USDT:USDT", "CROSSED") is True


# ---------------------------------------------------------------- the venue's fills (userTrades)

def _query(call):
    unsigned, _, signature = call[2].rpartition("&signature=")
    assert signature == sign(SECRET, unsigned)
    return dict(parse_qsl(unsigned))


async def test_filled_order_carries_one_fill_per_venue_trade_with_its_commission():
    ad, t, _, limiter = make(resp(200, FILLED), resp(200, TRADES))
    order = await ad.submit(sell())
    method, path, query, body, headers = t.calls[1]
    assert (method, path, body, headers["X-MBX-APIKEY"]) == ("GET", "/fapi/v1/userTrades", "", "the-key")
    fields = _query(t.calls[1])
    assert (fields["symbol"], fields["orderId"], fields["limit"]) == ("BTCUSDT", "42", "1000")
    assert limiter.acquired == [("binance:order", 1), ("binance:weight", 5)]   # POST order: IP weight 0
    assert [(f.trade_id, f.quantity, f.price, f.fee, f.fee_asset, f.ts_ns) for f in order.fills] == [
        ("9001", D("0.004"), D("67012.40"), D("0.10721984"), "USDT", 1730000000319 * 10**6),
        ("9002", D("0.006"), D("67012.2333"), D("0.16082936"), "USDT", 1730000000320 * 10**6)]
    assert all((f.client_order_id, f.side.value, f.symbol) == ("h1", "sell", "BTC/USDT:USDT") for f in order.fills)
    assert order.fee == D("0.26804920") and order.fee_asset == "USDT"
    assert order.fee != D("670.123") * D("0.0005")                  # the VIP rate, not the configured one
    assert (order.filled_qty, order.avg_price) == (D("0.010"), D("67012.30"))


async def test_bnb_commissions_and_other_orders_trades():
    bnb = [dict(tr, commission=c, commissionAsset="BNB") for tr, c in zip(TRADES, ("0.00016082", "0.00024124"))]
    stray = dict(TRADES[0], id=9100, orderId=43)
    ad, t, _, _ = make(resp(200, FILLED), resp(200, bnb + [stray]))
    order = await ad.submit(sell())
    assert [f.trade_id for f in order.fills] == ["9001", "9002"]
    assert [(f.fee, f.fee_asset) for f in order.fills] == [(D("0.00016082"), "BNB"), (D("0.00024124"), "BNB")]
    assert (order.fee, order.fee_asset) == (D("0.00040206"), "BNB")


async def test_trades_unreadable_falls_back_to_one_estimated_fill_logged_once(caplog):
    down = resp(503, {"code": -1001, "msg": "Service Unavailable."})
    ad, t, clock, _ = make(resp(200, FILLED), down, down, down, resp(200, FILLED), down, down, down)
    with caplog.at_level(logging.WARNING, logger="arbv2.adapters.binance.exchange"):
        order = await ad.submit(sell())
        again = await ad.order_status("BTC/USDT:USDT", "h1")
    assert [c[1] for c in t.calls] == ["/fapi/v1/order"] + ["/fapi/v1/userTrades"] * 3 + \
        ["/fapi/v1/order"] + ["/fapi/v1/userTrades"] * 3
    for o in (order, again):
        assert o.status is OrderStatus.FILLED and len(o.fills) == 1
        f = o.fills[0]
        assert (f.trade_id, f.quantity, f.price) == ("42:est", D("0.010"), D("67012.30"))
        assert f.fee == o.fee == D("670.123") * D("0.0005") and f.fee_asset == "USDT"
    warnings = [r for r in caplog.records if "42:est" in r.getMessage()]
    assert len(warnings) == 1 and "503" in warnings[0].getMessage()


async def test_trades_catching_up_are_read_again_until_they_add_up():
    ad, t, clock, _ = make(resp(200, FILLED), resp(200, []), resp(200, TRADES[:1]), resp(200, TRADES))
    order = await ad.submit(sell())
    assert [f.trade_id for f in order.fills] == ["9001", "9002"]
    assert [c[1] for c in t.calls].count("/fapi/v1/userTrades") == 3 and clock.slept == [0.05, 0.05]


async def test_trades_that_never_add_up_end_in_the_estimate_within_the_timeout():
    ad, t, clock, _ = make(resp(200, FILLED), *[resp(200, TRADES[:1])] * 100, trades_timeout_s=0.5)
    start = clock.t
    order = await ad.submit(sell())
    assert [f.trade_id for f in order.fills] == ["42:est"]
    reads = [c[1] for c in t.calls].count("/fapi/v1/userTrades")
    assert 5 <= reads <= 11 and clock.t - start <= 0.5e9


async def test_a_hanging_trades_request_does_not_hold_the_order_result():
    class Hanging(ScriptedTransport):
        async def request(self, method, path, **kw):
            if path == "/fapi/v1/userTrades":
                self.calls.append((method, path))
                await asyncio.sleep(30)
            return await super().request(method, path, **kw)

    ad, _, _, _ = make(trades_timeout_s=0.05)
    t = Hanging(resp(200, FILLED))
    ad._transport = ad._http._t = t
    loop = asyncio.get_running_loop()
    started = loop.time()
    order = await ad.submit(sell())
    assert loop.time() - started < 1.0 and [f.trade_id for f in order.fills] == ["42:est"]
    assert t.calls[-1] == ("GET", "/fapi/v1/userTrades")


async def test_malformed_trades_page_falls_back():
    ad, _, _, _ = make(resp(200, FILLED), resp(200, {"unexpected": "object"}))
    order = await ad.submit(sell())
    assert [f.trade_id for f in order.fills] == ["42:est"]


async def test_partially_filled_read_has_its_trades_and_no_estimate():
    partial = dict(FILLED, type="LIMIT", origType="LIMIT", timeInForce="GTC", price="67012.2",
                   status="PARTIALLY_FILLED", executedQty="0.004", cumQuote="268.0496", avgPrice="67012.40")
    down = resp(503, {"code": -1001, "msg": "Service Unavailable."})
    ad, t, _, _ = make(resp(200, partial), resp(200, TRADES[:1]), resp(200, partial), down, down, down)
    order = await ad.order_status("BTC/USDT:USDT", "h1")
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert [(f.trade_id, f.quantity) for f in order.fills] == [("9001", D("0.004"))]
    assert order.fee == D("0.10721984")
    unread = await ad.order_status("BTC/USDT:USDT", "h1")
    assert unread.status is OrderStatus.PARTIALLY_FILLED and unread.fills == () and unread.filled_qty == D("0.004")


async def test_no_trades_read_for_orders_that_did_not_execute():
    new = dict(FILLED, type="LIMIT", origType="LIMIT", timeInForce="GTC", price="60000.0", status="NEW",
               executedQty="0", cumQuote="0", avgPrice="0")
    canceled = dict(new, status="CANCELED")
    ad, t, _, limiter = make(resp(200, new), resp(200, canceled))
    assert (await ad.order_status("BTC/USDT:USDT", "h1")).fills == ()
    assert (await ad.cancel("BTC/USDT:USDT", "h1")).fills == ()
    assert [c[1] for c in t.calls] == ["/fapi/v1/order", "/fapi/v1/order"]
    assert ("binance:weight", 5) not in limiter.acquired


async def test_cancel_of_a_partly_filled_order_reads_its_trades():
    canceled = dict(FILLED, type="LIMIT", origType="LIMIT", timeInForce="GTC", price="67012.2",
                    status="CANCELED", executedQty="0.004", cumQuote="268.0496", avgPrice="67012.40")
    ad, t, _, _ = make(resp(200, canceled), resp(200, TRADES[:1]))
    order = await ad.cancel("BTC/USDT:USDT", "h1")
    assert order.status is OrderStatus.CANCELED and [f.trade_id for f in order.fills] == ["9001"]
    assert [c[:2] for c in t.calls] == [("DELETE", "/fapi/v1/order"), ("GET", "/fapi/v1/userTrades")]


async def test_user_trades_passes_the_filters():
    ad, t, _, limiter = make(resp(200, TRADES))
    assert await ad.user_trades("BTC/USDT:USDT", from_id=9001, limit=2) == TRADES
    fields = _query(t.calls[0])
    assert {k: fields[k] for k in ("symbol", "fromId", "limit")} == {"symbol": "BTCUSDT", "fromId": "9001", "limit": "2"}
    assert "orderId" not in fields and "startTime" not in fields and limiter.acquired == [("binance:weight", 5)]
