"""A real Prometheus scrapes the exporter and answers PromQL about what the engine recorded.

The engine is stood in for by an aiohttp server mounting `metrics_handler`, exactly as the
engine's server does; the Prometheus binary is Debian's. Loopback only, ephemeral ports.
"""
from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from required import tool

from arbv2.adapters.prometheus.metrics import PrometheusMetrics, metrics_handler
from arbv2.ports.metrics import CycleStage

PROMETHEUS = tool("prometheus")
DEADLINE_S = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def engine_metrics() -> AsyncIterator[tuple[PrometheusMetrics, int]]:
    metrics = PrometheusMetrics(["BTC", "ETH"], registry=CollectorRegistry())
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(metrics.registry))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield metrics, port
    finally:
        await runner.cleanup()


@pytest.fixture
async def prometheus(tmp_path: Path, engine_metrics) -> AsyncIterator[str]:
    _, engine_port = engine_metrics
    web_port = _free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: arbv2\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{engine_port}']}}]\n")
    proc = await asyncio.create_subprocess_exec(
        PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{web_port}", "--log.level=warn",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        yield f"http://127.0.0.1:{web_port}"
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()


async def _query(session: aiohttp.ClientSession, base: str, promql: str) -> list[dict]:
    async with session.get(f"{base}/api/v1/query", params={"query": promql}) as resp:
        body = await resp.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


async def _wait_for(session: aiohttp.ClientSession, base: str, promql: str, want: int = 1) -> list[dict]:
    """Poll until `promql` returns `want` series, tolerating Prometheus still starting up."""
    deadline = time.monotonic() + DEADLINE_S
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = await _query(session, base, promql)
            if len(result) >= want:
                return result
            last = result
        except aiohttp.ClientError as exc:
            last = exc
        await asyncio.sleep(0.25)
    raise AssertionError(f"Prometheus never returned {want} series for {promql!r}; last: {last!r}")


async def test_prometheus_scrapes_latency_histogram_and_premium(engine_metrics, prometheus: str) -> None:
    metrics, _ = engine_metrics
    # 1000 cycles: 90% at 4 us, 10% at 40 us; p50 falls in (3, 5] us and p99 in (30, 50] us.
    for i in range(1000):
        metrics.observe_cycle(40e-6 if i % 10 == 0 else 4e-6)
        metrics.observe_stage(CycleStage.DETECT, 2e-6)
    metrics.set("premium", 0.0213, symbol="BTC")
    metrics.set("premium", -0.005, symbol="ETH")
    metrics.set("premium", 0.5, symbol="DOGE")  # not configured: exported as symbol="other"

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        up = await _wait_for(session, prometheus, 'up{job="arbv2"} == 1')
        assert up[0]["metric"]["job"] == "arbv2"
        await _wait_for(session, prometheus, "arbv2_cycle_latency_seconds_count")

        count = await _query(session, prometheus, "arbv2_cycle_latency_seconds_count")
        assert float(count[0]["value"][1]) == 1000
        p50 = await _query(session, prometheus, "histogram_quantile(0.5, arbv2_cycle_latency_seconds_bucket)")
        p99 = await _query(session, prometheus, "histogram_quantile(0.99, arbv2_cycle_latency_seconds_bucket)")
        assert 3e-6 < float(p50[0]["value"][1]) <= 5e-6
        assert 30e-6 < float(p99[0]["value"][1]) <= 50e-6
        stage = await _query(session, prometheus,
                             'histogram_quantile(0.5, arbv2_cycle_stage_seconds_bucket{stage="detect"})')
        assert 1e-6 < float(stage[0]["value"][1]) <= 2e-6

        premium = await _query(session, prometheus, "arbv2_premium_ratio")
        by_symbol = {r["metric"]["symbol"]: float(r["value"][1]) for r in premium}
        assert by_symbol == {"BTC": 0.0213, "ETH": -0.005, "other": 0.5}

        # A later scrape sees new observations: the rate over the window becomes positive.
        for _ in range(500):
            metrics.observe_cycle(4e-6)
        rate = await _wait_for(session, prometheus,
                               "rate(arbv2_cycle_latency_seconds_count[5s]) > 0")
        assert float(rate[0]["value"][1]) > 0
