"""Prometheus exporter: the metric catalog, the Metrics port adapter, /metrics and textfiles."""
