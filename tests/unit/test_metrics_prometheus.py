"""PrometheusMetrics: the exposition parses, values land in the right series, bad input is refused."""
from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from arbv2.adapters.prometheus.catalog import CATALOG, LATENCY_BUCKETS, MAX_LABEL_VALUES
from arbv2.adapters.prometheus.metrics import PrometheusMetrics, metrics_handler, render_metrics
from arbv2.core.model import Direction, Venue
from arbv2.ports.metrics import CycleStage, Metrics


def _samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset], float]:
    text = render_metrics(registry).decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def _fresh(symbols=("BTC", "ETH")) -> PrometheusMetrics:
    return PrometheusMetrics(symbols, registry=CollectorRegistry(), start_time_s=1700000000.0)


def test_conforms_to_port() -> None:
    m: Metrics = _fresh()
    assert isinstance(m, PrometheusMetrics)


def test_cycle_histogram_buckets_are_cumulative_and_fine_grained() -> None:
    m = _fresh()
    for v in (1.5e-6, 2.5e-6, 2.5e-6, 40e-6, 2.0):
        m.observe_cycle(v)
    s = _samples(m.registry)
    b = lambda le: s[("arbv2_cycle_latency_seconds_bucket", frozenset({("le", le)}))]  # noqa: E731
    assert b("1e-06") == 0 and b("2e-06") == 1 and b("3e-06") == 3
    assert b("3e-05") == 3 and b("5e-05") == 4 and b("1.0") == 4 and b("+Inf") == 5
    assert s[("arbv2_cycle_latency_seconds_count", frozenset())] == 5
    assert s[("arbv2_cycle_latency_seconds_sum", frozenset())] == pytest.approx(2.0000465)
    assert LATENCY_BUCKETS[0] == 1e-6 and LATENCY_BUCKETS[-1] == 1.0 and len(LATENCY_BUCKETS) == 31
    assert 7.5e-6 in LATENCY_BUCKETS


def test_value_on_a_bound_counts_in_that_bucket() -> None:
    m = _fresh()
    m.observe_cycle(5e-6)
    s = _samples(m.registry)
    assert s[("arbv2_cycle_latency_seconds_bucket", frozenset({("le", "5e-06")}))] == 1
    assert s[("arbv2_cycle_latency_seconds_bucket", frozenset({("le", "3e-06")}))] == 0


def test_stages_are_labelled_and_unknown_stage_is_refused() -> None:
    m = _fresh()
    m.observe_stage(CycleStage.DETECT, 4e-6)
    m.observe_stage(CycleStage.PARSE, 1e-6)
    s = _samples(m.registry)
    key = lambda st: ("arbv2_cycle_stage_seconds_count", frozenset({("stage", st)}))  # noqa: E731
    assert s[key("detect")] == 1 and s[key("parse")] == 1 and s[key("fill")] == 0
    with pytest.raises(ValueError, match="unknown cycle stage"):
        m.observe_stage("digest", 1e-6)  # type: ignore[arg-type]


def test_counters_gauges_and_histograms_by_short_name() -> None:
    m = _fresh()
    m.inc("frames", venue="upbit")
    m.inc("frames", 2, venue=Venue.UPBIT)
    m.inc("opportunities", symbol="BTC", direction=Direction.LONG_UPBIT)
    m.set("premium", 0.021, symbol="BTC")
    m.set("pnl_realized_krw", -1234.5)
    m.observe("adapter_request_seconds", 0.004, venue="binance_usdm", endpoint="order", status="200")
    s = _samples(m.registry)
    assert s[("arbv2_frames_total", frozenset({("venue", "upbit")}))] == 3
    assert s[("arbv2_frames_total", frozenset({("venue", "binance_usdm")}))] == 0
    assert s[("arbv2_opportunities_total",
              frozenset({("symbol", "BTC"), ("direction", "long_upbit")}))] == 1
    assert s[("arbv2_premium_ratio", frozenset({("symbol", "BTC")}))] == pytest.approx(0.021)
    assert s[("arbv2_pnl_realized_krw", frozenset())] == -1234.5
    req = frozenset({("venue", "binance_usdm"), ("endpoint", "order"), ("status", "200")})
    assert s[("arbv2_adapter_request_seconds_bucket", req | {("le", "0.005")})] == 1
    assert s[("arbv2_adapter_request_seconds_bucket", req | {("le", "0.0025")})] == 0
    assert s[("arbv2_up", frozenset())] == 1
    assert s[("arbv2_start_time_seconds", frozenset())] == 1700000000.0


def test_unconfigured_symbol_is_folded_into_other() -> None:
    m = _fresh(("BTC",))
    m.set("premium", 0.01, symbol="DOGE")
    m.set("premium", 0.02, symbol="PEPE")
    s = _samples(m.registry)
    assert s[("arbv2_premium_ratio", frozenset({("symbol", "other")}))] == 0.02
    assert not any(dict(k[1]).get("symbol") in ("DOGE", "PEPE") for k in s)


def test_free_text_labels_are_capped() -> None:
    m = _fresh()
    for i in range(MAX_LABEL_VALUES + 10):
        m.inc("risk_blocks", reason=f"r{i}")
    s = _samples(m.registry)
    reasons = {dict(k[1])["reason"] for k in s if k[0] == "arbv2_risk_blocks_total"}
    assert len(reasons) == MAX_LABEL_VALUES + 1
    assert s[("arbv2_risk_blocks_total", frozenset({("reason", "other")}))] == 10


@pytest.mark.parametrize("call, message", [
    (lambda m: m.inc("frame", venue="upbit"), "unknown metric 'frame'"),
    (lambda m: m.inc("frames"), r"takes labels \(venue\), got \(none\)"),
    (lambda m: m.inc("frames", venu="upbit"), r"takes labels \(venue\), got \(venu\)"),
    (lambda m: m.inc("frames", venue="kraken"), "venue='kraken' is not one of"),
    (lambda m: m.set("frames", 1, venue="upbit"), r"is a counter; record it with inc\(\)"),
    (lambda m: m.inc("premium", symbol="BTC"), r"is a gauge; record it with set\(\)"),
    (lambda m: m.inc("frames", -1, venue="upbit"), "cannot decrease"),
    (lambda m: m.observe("premium", 1.0, symbol="BTC"), "is a gauge"),
])
def test_bad_records_raise_clear_errors(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call(_fresh())


def test_cached_key_still_validates_a_misspelt_label_after_a_good_call() -> None:
    m = _fresh()
    m.inc("frames", venue="upbit")
    with pytest.raises(ValueError):
        m.inc("frames", venu="upbit")


def test_engine_state_is_one_hot() -> None:
    m = _fresh()
    m.set("engine_state", 1, state="starting")
    m.set("engine_state", 1, state="running")
    s = _samples(m.registry)
    assert s[("arbv2_engine_state", frozenset({("state", "running")}))] == 1
    assert s[("arbv2_engine_state", frozenset({("state", "starting")}))] == 0


def test_every_catalog_metric_is_exposed_once_recorded() -> None:
    m = _fresh()
    for spec in CATALOG.values():
        labels = {k: {"venue": "upbit", "symbol": "BTC", "stage": "parse"}.get(k, "x") for k in spec.labels}
        {"counter": m.inc, "gauge": m.set, "histogram": m.observe}[spec.kind](spec.short, 1.0, **labels)
    names = {s.name for fam in text_string_to_metric_families(render_metrics(m.registry).decode())
             for s in fam.samples}
    for spec in CATALOG.values():
        assert set(spec.series_names()) <= names, spec.short


def test_default_registry_is_private_and_has_process_metrics() -> None:
    a, b = PrometheusMetrics(["BTC"]), PrometheusMetrics(["BTC"])
    assert a.registry is not b.registry
    body = render_metrics(a.registry)
    assert b"python_info" in body and b"python_gc_objects_collected_total" in body


def test_registering_twice_in_one_registry_is_refused() -> None:
    reg = CollectorRegistry()
    PrometheusMetrics(["BTC"], registry=reg)
    with pytest.raises(ValueError, match="Duplicated"):
        PrometheusMetrics(["BTC"], registry=reg)


async def test_metrics_handler_serves_text_format() -> None:
    m = _fresh()
    m.set("premium", 0.03, symbol="ETH")
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(m.registry))
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/metrics")
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        body = await resp.text()
    fams = {f.name: f for f in text_string_to_metric_families(body)}
    assert fams["arbv2_premium_ratio"].samples[0].value == pytest.approx(0.03)
    assert fams["arbv2_frames"].type == "counter"
