"""The compiled frame decoders equal their orjson twin, and reject malformed frames without crashing."""
from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from arbv2._fast import decode as fast
from arbv2.adapters.feeds import pydecode as ref

DEPTH = (b'{"e":"depthUpdate","E":1730000000250,"T":1730000000247,"s":"BTCUSDT","U":8912345678902,'
         b'"u":8912345678950,"pu":8912345678901,"b":[["67012.30","1.100"],["67011.00","0"]],'
         b'"a":[["67012.40","0.931"]]}')
UPBIT = (b'{"ty":"orderbook","cd":"KRW-BTC","tms":1730000000456,"tas":2.1,"tbs":3.4,"obu":'
         b'[{"ap":145001000,"as":0.12,"bp":145000000,"bs":0.30},{"ap":0,"as":0,"bp":1.5e3,"bs":1}],'
         b'"lv":0,"st":"SNAPSHOT"}')


def _fast_binance(raw):
    d = fast.BinanceDepthDecoder()
    kind = d.decode(raw)
    return d, kind


def _levels(dec):
    bp, bq, ap, aq = dec.arrays()
    return list(zip(bp.tolist(), bq.tolist())), list(zip(ap.tolist(), aq.tolist()))


def _same_binance(raw) -> None:
    """Assert the compiled decoder matches the twin, or that both reject (compiled may be stricter)."""
    dec = fast.BinanceDepthDecoder()
    try:
        kind = dec.decode(raw)
    except ValueError:
        return
    want = ref.decode_binance(raw)  # compiled accepted: the twin must accept too, equally
    assert kind == want.kind
    if kind in (fast.KIND_DEPTH, fast.KIND_SNAPSHOT):
        assert _levels(dec) == (want.bids, want.asks)
        h = want.header
        assert dec.last_update_id == h.get("lastUpdateId", 0)
        assert dec.event_time_ms == h.get("E", 0)
        assert dec.transaction_time_ms == h.get("T", 0)
        assert dec.stream == h.get("stream")
    if kind == fast.KIND_DEPTH:
        h = want.header
        assert (dec.symbol, dec.first_update_id, dec.final_update_id, dec.prev_final_update_id) == (
            h["s"], h["U"], h["u"], h["pu"])


def _same_upbit(raw) -> None:
    dec = fast.UpbitOrderbookDecoder()
    try:
        kind = dec.decode(raw)
    except ValueError:
        return
    want = ref.decode_upbit(raw)
    assert kind == want.kind
    if kind == fast.KIND_ORDERBOOK:
        assert _levels(dec) == (want.bids, want.asks)
        assert (dec.code, dec.timestamp_ms, dec.stream_type) == (
            want.header["code"], want.header["timestamp"], want.header["stream_type"])


def test_compiled_decoder_is_in_use():
    assert fast.__file__.endswith(".so")


def test_binance_depth_diff_raw_and_combined():
    for raw in (DEPTH, b'{"stream":"btcusdt@depth@100ms","data":' + DEPTH + b"}", DEPTH.decode()):
        dec, kind = _fast_binance(raw)
        assert kind == fast.KIND_DEPTH
        assert dec.symbol == "BTCUSDT"
        assert (dec.first_update_id, dec.final_update_id, dec.prev_final_update_id) == (
            8912345678902, 8912345678950, 8912345678901)
        assert _levels(dec) == ([(67012.3, 1.1), (67011.0, 0.0)], [(67012.4, 0.931)])
    dec, _ = _fast_binance(b'{"stream":"btcusdt@depth@100ms","data":' + DEPTH + b"}")
    assert dec.stream == "btcusdt@depth@100ms"


def test_binance_snapshot_result_and_other_kinds():
    snap = b'{"lastUpdateId":42,"E":1,"T":2,"bids":[["100.5","2"]],"asks":[["100.6","3"],["100.7","1"]]}'
    dec, kind = _fast_binance(snap)
    assert kind == fast.KIND_SNAPSHOT and dec.last_update_id == 42
    assert _levels(dec) == ([(100.5, 2.0)], [(100.6, 3.0), (100.7, 1.0)])
    assert _fast_binance(b'{"result":null,"id":1}')[1] == fast.KIND_RESULT
    assert _fast_binance(b'{"e":"bookTicker","s":"BTCUSDT","b":"1.0","B":"2","a":"1.1","A":"3"}')[1] == fast.KIND_OTHER


@pytest.mark.parametrize("raw", [
    b"", b"[]", b"{", b'{"e":"depthUpdate"}', DEPTH[:-1], DEPTH + b"x", DEPTH.replace(b'"67012.30"', b'"-1"'),
    DEPTH.replace(b'"67012.30"', b'"nan"'), DEPTH.replace(b'"67012.30"', b'"0"'),
    DEPTH.replace(b'"u":8912345678950', b'"u":1.5'), DEPTH.replace(b'"u":8912345678950', b'"u":99999999999999999999'),
    DEPTH.replace(b'["67011.00","0"]', b'["67011.00","0","x"]'), DEPTH.replace(b'"s":"BTCUSDT"', b'"s":"\xff"'),
    b'{"lastUpdateId":1,"bids":[]}', b'{"x":1e999}',
])
def test_binance_malformed_raises_value_error(raw):
    with pytest.raises(ValueError):
        fast.BinanceDepthDecoder().decode(raw)
    with pytest.raises(ValueError):
        ref.decode_binance(raw)


@pytest.mark.parametrize("raw", [
    b'{"x":' + b"[" * 70 + b"]" * 70 + b"}", DEPTH.replace(b'"T":', b'"s":"X","T":'), DEPTH.replace(b'"pu"', b'"p\\u0075"'),
    DEPTH.replace(b'"s":"BTCUSDT"', b'"s":"BTC\\u0055SDT"'),
])
def test_compiled_is_stricter_than_json_where_documented(raw):
    """Deep nesting, duplicate known keys and escaped keys/codes are refused (orjson would accept)."""
    ref.decode_binance(raw)
    with pytest.raises(ValueError):
        fast.BinanceDepthDecoder().decode(raw)


def test_upbit_orderbook_default_and_simple_keys():
    dec = fast.UpbitOrderbookDecoder()
    assert dec.decode(UPBIT) == fast.KIND_ORDERBOOK
    assert (dec.code, dec.timestamp_ms, dec.stream_type) == ("KRW-BTC", 1730000000456, fast.STREAM_SNAPSHOT)
    assert _levels(dec) == ([(145000000.0, 0.3), (1500.0, 1.0)], [(145001000.0, 0.12)])  # price-0 ask dropped
    long_keys = orjson.dumps({"type": "orderbook", "code": "KRW-ETH", "timestamp": 5, "stream_type": "REALTIME",
                              "orderbook_units": [{"ask_price": 2.5, "bid_price": 2.4, "ask_size": 1, "bid_size": 3}]})
    assert dec.decode(long_keys) == fast.KIND_ORDERBOOK
    assert (dec.code, dec.stream_type) == ("KRW-ETH", fast.STREAM_REALTIME)
    assert _levels(dec) == ([(2.4, 3.0)], [(2.5, 1.0)])
    assert dec.decode(b'{"status":"UP"}') == fast.KIND_STATUS
    assert dec.decode('{"error":{"name":"WRONG_FORMAT","message":"형식 오류"}}') == fast.KIND_ERROR
    assert dec.decode(b'{"ty":"ticker","cd":"KRW-BTC","tp":1}') == fast.KIND_OTHER


@pytest.mark.parametrize("raw", [
    UPBIT.replace(b'"bs":0.30', b'"bs":-0.30'), UPBIT.replace(b'"bs":0.30', b'"bs":"0.30"'),
    UPBIT.replace(b'"st":"SNAPSHOT"', b'"st":"WEIRD"'), UPBIT.replace(b',"bs":0.30', b""),
    UPBIT.replace(b'"tms":1730000000456', b'"tms":"1"'), UPBIT.replace(b'"ap":145001000', b'"ap":0145001000'),
    b'{"ty":"orderbook","cd":"KRW-BTC","tms":1}',
])
def test_upbit_malformed_raises_value_error(raw):
    with pytest.raises(ValueError):
        fast.UpbitOrderbookDecoder().decode(raw)
    with pytest.raises(ValueError):
        ref.decode_upbit(raw)


def test_buffers_grow_for_a_deep_snapshot_and_keep_values():
    bids = [[f"{100000 - i}.5", f"{i + 1}.25"] for i in range(1000)]
    asks = [[f"{100001 + i}.5", "0.001"] for i in range(1500)]
    raw = orjson.dumps({"lastUpdateId": 7, "bids": bids, "asks": asks})
    dec = fast.BinanceDepthDecoder()
    assert dec.decode(raw) == fast.KIND_SNAPSHOT
    assert (dec.n_bids, dec.n_asks) == (1000, 1500)
    assert _levels(dec) == (ref.decode_binance(raw).bids, ref.decode_binance(raw).asks)


# ---------------------------------------------------------------- generated frames

decimals = st.one_of(
    st.builds(lambda m, k: f"{m / 10**k:.{k}f}" if k else str(m), st.integers(0, 10**12), st.integers(0, 8)),
    st.from_regex(r"[0-9]{1,22}(\.[0-9]{1,22})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
)
prices = decimals.filter(lambda s: 0 < float(s) < float("inf"))
levels = st.lists(st.tuples(prices, decimals.filter(lambda s: float(s) < float("inf"))), max_size=12)
ids = st.integers(min_value=0, max_value=2**63 - 1)
junk = st.dictionaries(st.sampled_from(["x", "yy", "m", "lastPrice", "E2"]),
                       st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=5)
                                    | st.floats(allow_nan=False, allow_infinity=False),
                                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
                                    max_leaves=6), max_size=2)


@st.composite
def binance_frames(draw) -> bytes:
    body = {"e": "depthUpdate", "E": draw(ids), "T": draw(ids), "s": draw(st.sampled_from(["BTCUSDT", "ETHUSDT"])),
            "U": draw(ids), "u": draw(ids), "pu": draw(ids),
            "b": [list(x) for x in draw(levels)], "a": [list(x) for x in draw(levels)]}
    body.update(draw(junk))
    keys = draw(st.permutations(list(body)))
    body = {k: body[k] for k in keys}
    if draw(st.booleans()):
        body = {"stream": "btcusdt@depth@100ms", "data": body}
    return orjson.dumps(body, option=orjson.OPT_INDENT_2 if draw(st.booleans()) else 0)


@st.composite
def upbit_frames(draw) -> bytes:
    simple = draw(st.booleans())
    k = (lambda s, d: s if simple else d)
    num = st.one_of(st.integers(0, 10**10), st.floats(0, 1e10, allow_nan=False), st.just(0))
    units = [{k("ap", "ask_price"): draw(num), k("as", "ask_size"): draw(num),
              k("bp", "bid_price"): draw(num), k("bs", "bid_size"): draw(num)}
             for _ in range(draw(st.integers(0, 30)))]
    body = {k("ty", "type"): "orderbook", k("cd", "code"): "KRW-XRP", k("tms", "timestamp"): draw(ids),
            k("st", "stream_type"): draw(st.sampled_from(["SNAPSHOT", "REALTIME"])), k("obu", "orderbook_units"): units,
            k("tas", "total_ask_size"): 1.5}
    body.update(draw(junk))
    return orjson.dumps(body)


@given(binance_frames())
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_binance_generated_frames_equal_reference(raw):
    dec = fast.BinanceDepthDecoder()
    assert dec.decode(raw) == fast.KIND_DEPTH  # valid frames must be accepted, not just "both fail"
    _same_binance(raw)
    _same_binance(raw.decode())


@given(upbit_frames())
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_upbit_generated_frames_equal_reference(raw):
    assert fast.UpbitOrderbookDecoder().decode(raw) == fast.KIND_ORDERBOOK
    _same_upbit(raw)


def _mutate(raw: bytes, data) -> bytes:
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        op = data.draw(st.sampled_from(["del", "ins", "set", "cut"]))
        byte = bytes([data.draw(st.sampled_from(list(b'{}[]",:-.0123456789eE \\xu\x00\xff\xc3')))])
        raw = {"del": raw[:i] + raw[i + 1:], "ins": raw[:i] + byte + raw[i:],
               "set": raw[:i] + byte + raw[i + 1:], "cut": raw[:i]}[op]
    return raw


@given(binance_frames(), st.data())
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@example(DEPTH, None)
def test_binance_mutated_frames_never_corrupt(raw, data):
    if data is not None:
        raw = _mutate(raw, data)
    _same_binance(raw)  # only ValueError may escape the compiled decoder, and acceptance means equality


@given(upbit_frames(), st.data())
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_upbit_mutated_frames_never_corrupt(raw, data):
    _same_upbit(_mutate(raw, data))
