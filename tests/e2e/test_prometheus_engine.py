"""A real Prometheus scrapes a RUNNING `arbv2 engine` and answers PromQL about what it measured.

`arbv2 engine --config F` (mode sim against its embedded simulator, server on port 0, read back
from its start line) runs as a subprocess; Debian's `prometheus` binary scrapes its /metrics
every second. Through Prometheus' HTTP API the test reads back the cycle-latency histogram
(histogram_quantile, rate) and the premium gauge per symbol, and checks them against what the
engine itself reports: its status (premium) and, after SIGINT, its evidence (cycle latency p50).
"""
from __future__ import annotations

import json
import re
import signal
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from helpers_engine import free_port, read_evidence, write_config
from required import tool

PROMETHEUS = tool("prometheus")
pytestmark = pytest.mark.integration
SYMBOLS = ("BTC", "ETH", "XRP")
DEADLINE_S = 30.0


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _query(base: str, promql: str) -> list[dict]:
    body = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    assert body["status"] == "success", body
    return body["data"]["result"]


def _wait_for(base: str, promql: str, want: int = 1) -> list[dict]:
    """Poll until `promql` returns at least `want` series (Prometheus may still be starting)."""
    deadline = time.monotonic() + DEADLINE_S
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = _query(base, promql)
            if len(result) >= want:
                return result
            last = result
        except (urllib.error.URLError, ConnectionError) as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"Prometheus never returned {want} series for {promql!r}; last: {last!r}")


def test_prometheus_scrapes_a_running_engine(procs, tmp_path):
    cfg = write_config(tmp_path / "engine.yml", {"mode": "sim", "symbols": list(SYMBOLS), "server": {"port": 0}})
    evidence = tmp_path / "evidence"
    engine = procs.start("engine", [procs.arbv2, "engine", "--config", str(cfg), "--duration", "120",
                                    "--evidence-dir", str(evidence)], env=procs.env())
    line = engine.wait_for_output(lambda out: re.search(r"server=http://127\.0\.0\.1:\d+ ", out), 30)
    engine_url = re.search(r"server=(http://127\.0\.0\.1:\d+) ", line).group(1)
    target = engine_url.removeprefix("http://")

    web_port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: arbv2\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n")
    procs.start("prometheus", [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                               f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                               f"--web.listen-address=127.0.0.1:{web_port}", "--log.level=warn"], env=procs.env())
    prom = f"http://127.0.0.1:{web_port}"

    up = _wait_for(prom, 'up{job="arbv2"} == 1')
    assert up[0]["metric"]["instance"] == target
    # the engine keeps cycling: the histogram's count grows between scrapes
    _wait_for(prom, "arbv2_cycle_latency_seconds_count > 200")
    rate = _wait_for(prom, "rate(arbv2_cycle_latency_seconds_count[5s]) > 0")
    assert float(rate[0]["value"][1]) > 1.0          # tens of book frames per second
    p50 = float(_query(prom, "histogram_quantile(0.5, arbv2_cycle_latency_seconds_bucket)")[0]["value"][1])
    p99 = float(_query(prom, "histogram_quantile(0.99, arbv2_cycle_latency_seconds_bucket)")[0]["value"][1])
    assert 1e-6 <= p50 <= p99 <= 1.0, (p50, p99)
    by_le = {r["metric"]["le"]: float(r["value"][1]) for r in _query(prom, "arbv2_cycle_latency_seconds_bucket")}
    assert by_le["+Inf"] >= 200 and list(by_le.values()) != [by_le["+Inf"]] * len(by_le)

    # the premium per configured symbol, as the engine itself reports it
    premium = _wait_for(prom, "arbv2_premium_ratio", want=len(SYMBOLS))
    scraped = {r["metric"]["symbol"]: float(r["value"][1]) for r in premium}
    status = _get(f"{engine_url}/admin/status")      # reads need no token on loopback when none is set
    assert set(scraped) == set(SYMBOLS)
    for base in SYMBOLS:
        mid = status["symbols"][base]["mid_premium"]
        assert -0.05 < scraped[base] < 0.1, scraped        # the simulator's premium is ~2 %
        assert abs(scraped[base] - mid) < 0.003, (base, scraped[base], mid)   # a scrape ago vs now
    assert _query(prom, 'arbv2_premium_ratio{symbol="other"}') == []

    # stop the engine; its evidence's p50 lies in the same latency range Prometheus reported
    engine.signal(signal.SIGINT)
    assert engine.wait(60) == 0, engine.tail()
    doc = read_evidence(evidence)
    assert doc["kind"] == "engine" and doc["latency"]["count"] >= by_le["+Inf"]
    ratio = p50 / (doc["latency"]["p50_us"] * 1e-6)
    assert 0.4 < ratio < 2.5, (p50, doc["latency"])     # bucket interpolation vs the exact median
