"""The simulator's own Prometheus metrics (one registry per simulator, served on /metrics)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class SimMetrics:
    """Counters for faults, frames, requests and connections, labelled by venue."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.faults = Counter("sim_faults_injected_total", "Faults the simulator injected",
                              ["venue", "fault"], registry=r)
        self.frames = Counter("sim_ws_frames_sent_total", "WebSocket data frames sent", ["venue"], registry=r)
        self.frames_dropped = Counter("sim_ws_frames_dropped_total",
                                      "Frames not sent because a client fell behind", ["venue"], registry=r)
        self.requests = Counter("sim_http_requests_total", "REST requests answered",
                                ["venue", "status"], registry=r)
        self.orders = Counter("sim_orders_total", "Orders by outcome", ["venue", "outcome"], registry=r)
        self.connections = Gauge("sim_ws_connections", "Open WebSocket connections", ["venue"], registry=r)
        self.tick_lag = Gauge("sim_tick_lag_seconds", "How far the market tick loop runs behind schedule",
                              registry=r)
        self.misrouted = Counter("sim_ws_misrouted_streams_total",
                                 "Binance streams requested on a route that does not serve them",
                                 ["route"], registry=r)

    def on_fault(self, venue: str, fault: str, n: int = 1) -> None:
        self.faults.labels(venue, fault).inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)
