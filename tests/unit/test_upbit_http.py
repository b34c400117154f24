"""Upbit adapter over a scripted transport: Remaining-Req slowdown, 429 back-off, read retries,
no resend of orders, the safety gate before any request, redacted logs."""
from decimal import Decimal as D

import orjson
import pytest
from multidict import CIMultiDict

from arbv2.adapters.common.transport import RawResponse, redact
from arbv2.adapters.memory.metrics import MemoryMetrics
from arbv2.adapters.memory.rate_limiter import MemoryRateLimiter
from arbv2.adapters.upbit.exchange import UpbitAdapter
from arbv2.adapters.upbit.rules import UpbitMarketRules
from arbv2.core.config import Config, Secrets, UpbitConfig, VenuesConfig
from arbv2.core.errors import RateLimited, SafetyError, VenueUnavailable
from arbv2.core.model import OrderIntent, OrderStatus


class FakeClock:
    def __init__(self):
        self.t = 10**18
        self.slept = []

    def now_ns(self):
        return self.t

    def monotonic_ns(self):
        return self.t

    async def sleep(self, s):
        self.slept.append(round(s, 6))
        self.t += int(s * 1e9)


class ScriptedTransport:
    def __init__(self, *responses):
        self.responses = list(responses)
        self.calls = []

    async def request(self, method, path, *, query="", body=None, headers=None, timeout_s=None):
        self.calls.append((method, path, query, body, dict(headers or {})))
        r = self.responses.pop(0)
        if isinstance(r, Exception):
            raise r
        return r

    async def close(self):
        pass


def resp(status, doc, **headers):
    return RawResponse(status, CIMultiDict(headers), orjson.dumps(doc) if not isinstance(doc, bytes) else doc)


ORDER = {"uuid": "u-1", "side": "bid", "ord_type": "price", "price": "10000", "state": "wait", "market": "KRW-BTC",
         "created_at": "2025-08-09T16:44:00+09:00", "volume": None, "executed_volume": "0", "paid_fee": "0",
         "identifier": "c1", "trades_count": 0}
DONE = {**ORDER, "state": "cancel", "executed_volume": "0.0001", "executed_funds": "9999", "paid_fee": "4.9995",
        "trades": [{"uuid": "t-1", "price": "99990000", "volume": "0.0001", "funds": "9999",
                    "created_at": "2025-08-09T16:44:00.5+09:00"}]}


def make(mode="sim", *responses, metrics=None):
    cfg = Config(mode=mode, venues=VenuesConfig(upbit=UpbitConfig(rest_url="http://127.0.0.1:9")),
                 secrets=Secrets(upbit_access_key="access-key-123", upbit_secret_key="secret-key-456"))
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    ad = UpbitAdapter(cfg, clock=clock, rate_limiter=limiter, metrics=metrics,
                      rules={"KRW-BTC": UpbitMarketRules(market="KRW-BTC")})
    t = ScriptedTransport(*responses)
    ad._transport = ad._http._t = t
    return ad, t, clock, limiter


def buy(cid="c1"):
    return OrderIntent(venue="upbit", symbol="BTC/KRW", side="buy", order_type="market", quantity=None,
                       quote_amount=D("10000"), price=None, client_order_id=cid)


async def test_market_buy_polls_until_final_and_reports_executed_volume():
    ad, t, clock, _ = make("sim", resp(201, ORDER), resp(200, ORDER), resp(200, DONE))
    order = await ad.submit(buy())
    assert order.status is OrderStatus.FILLED and order.filled_qty == D("0.0001")
    assert [f.trade_id for f in order.fills] == ["t-1"] and order.fee == D("4.9995")
    assert [c[:2] for c in t.calls] == [("POST", "/v1/orders"), ("GET", "/v1/order"), ("GET", "/v1/order")]
    assert t.calls[1][2] == "uuid=u-1"
    assert orjson.loads(t.calls[0][3]) == {"market": "KRW-BTC", "side": "bid", "ord_type": "price",
                                           "price": "10000", "identifier": "c1"}
    assert t.calls[0][4]["Authorization"].startswith("Bearer ")


async def test_order_post_is_never_resent_on_429_or_timeout():
    ad, t, _, _ = make("sim", resp(429, b"Too many API requests.", **{"Retry-After": "1"}))
    with pytest.raises(RateLimited):
        await ad.submit(buy())
    assert len(t.calls) == 1
    ad, t, _, _ = make("sim", VenueUnavailable("timeout", code="timeout"), resp(404, {"error": {
        "name": "order_not_found", "message": "no"}}))
    order = await ad.submit(buy("c2"))
    assert order.status is OrderStatus.UNKNOWN
    assert [c[:2] for c in t.calls] == [("POST", "/v1/orders"), ("GET", "/v1/order")]
    assert t.calls[1][2] == "identifier=c2"


async def test_reads_retry_transient_errors_and_honour_retry_after():
    metrics = MemoryMetrics()
    ad, t, clock, limiter = make("sim", resp(503, b"down"), resp(429, b"slow", **{"Retry-After": "0.5"}),
                                 resp(200, [{"currency": "KRW", "balance": "5", "locked": "0"}]), metrics=metrics)
    assert await ad.balances() == {"KRW": D("5")}
    assert len(t.calls) == 3 and 0.5 in clock.slept
    for status in ("503", "429", "200"):
        assert len(metrics.samples("adapter_request_seconds", venue="upbit", endpoint="/v1/accounts",
                                   status=status)) == 1


async def test_remaining_req_zero_pauses_the_group_before_a_429():
    ad, t, clock, limiter = make("sim", resp(200, [], **{"Remaining-Req": "group=default; min=1800; sec=0"}))
    await ad.accounts()
    assert await limiter.headroom("upbit:default") == 0.0
    assert await limiter.acquire("upbit:default") >= 1.0


async def test_paper_and_locked_live_refuse_before_any_request():
    for mode in ("paper", "live"):
        ad, t, _, _ = make(mode)
        with pytest.raises(SafetyError):
            await ad.submit(buy())
        with pytest.raises(SafetyError):
            await ad.cancel("BTC/KRW", "c1")
        assert t.calls == []


async def test_sim_mode_refuses_a_real_venue_url():
    cfg = Config(mode="sim", venues=VenuesConfig(upbit=UpbitConfig(rest_url="https://api.upbit.com")))
    ad = UpbitAdapter(cfg, rules={"KRW-BTC": UpbitMarketRules(market="KRW-BTC")})
    with pytest.raises(SafetyError, match="real exchange"):
        await ad.submit(buy())


def test_redaction_of_tokens_signatures_and_secrets():
    line = "GET /v1/order?x=1 Authorization: Bearer eyJhbGc.eyJhY2Nl.c2lnbmF0dXJl q=1&signature=ab12ef secret-key-456"
    out = redact(line, ("secret-key-456",))
    assert "eyJhbGc" not in out and "ab12ef" not in out and "secret-key-456" not in out
    assert "Bearer ***" in out and "signature=***" in out

