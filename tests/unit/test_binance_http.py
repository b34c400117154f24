"""Binance adapter over a scripted transport: signing on the wire, time offset, -1021 resync,
usage-header slowdown, 429 penalties, margin-type no-op, lookup instead of resend."""
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


def make(*responses):
    cfg = Config(mode="sim", venues=VenuesConfig(binance_usdm=BinanceConfig(rest_url="http://127.0.0.1:9")),
                 secrets=Secrets(binance_api_key="the-key", binance_api_secret=SECRET))
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    ad = BinanceUsdmAdapter(cfg, clock=clock, rate_limiter=limiter, rules=RULES)
    t = ScriptedTransport(*responses)
    ad._transport = ad._http._t = t
    return ad, t, clock, limiter


def sell(cid="h1"):
    return OrderIntent(venue="binance_usdm", symbol="BTC/USDT:USDT", side="sell", order_type="market",
                       quantity=D("0.01"), quote_amount=None, price=None, client_order_id=cid)


async def test_order_is_signed_form_body_with_offset_timestamp():
    ad, t, clock, _ = make(resp(200, {"serverTime": 1_730_000_000_000 + 1500}), resp(200, FILLED))
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
    assert order.status is OrderStatus.FILLED and order.fills[0].trade_id == "42:agg"
    assert order.fee == D("670.123") * D("0.0005")


async def test_timestamp_skew_resyncs_and_resends_once():
    ad, t, _, _ = make(resp(400, {"code": -1021, "msg": "Timestamp outside recvWindow"}),
                       resp(200, {"serverTime": 1_730_000_000_000 + 4000}), resp(200, FILLED))
    order = await ad.submit(sell())
    assert order.status is OrderStatus.FILLED
    assert [c[1] for c in t.calls] == ["/fapi/v1/order", "/fapi/v1/time", "/fapi/v1/order"]
    assert ad.time_offset_ms == 4000


async def test_lost_order_response_is_looked_up_by_client_id():
    ad, t, _, _ = make(VenueUnavailable("timeout"), resp(200, FILLED))
    order = await ad.submit(sell())
    assert order.status is OrderStatus.FILLED
    assert [c[:2] for c in t.calls] == [("POST", "/fapi/v1/order"), ("GET", "/fapi/v1/order")]
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
