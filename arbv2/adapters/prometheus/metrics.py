"""The Metrics port for Prometheus, with a hot path cheaper than prometheus-client's own.

prometheus-client's `Histogram.observe` takes a lock and costs about a microsecond, which is
the size of a whole engine cycle. Here each series is a plain slotted cell (a float, or a
list of bucket counts) updated in place; a custom collector turns the cells into metric
families only when Prometheus scrapes. Writers are the engine's event loop (one thread);
the scrape runs on the same loop, so no lock is needed.

Label children are bound once: the first `inc("frames", venue="upbit")` validates the name
and labels against the catalog and caches the cell under the call's exact key, so later
calls are one dict lookup and an add.
"""
from __future__ import annotations

import time
from bisect import bisect_left
from typing import Any, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence

from aiohttp import web
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import (CounterMetricFamily, GaugeMetricFamily,
                                            HistogramMetricFamily, Metric)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from arbv2.adapters.prometheus.catalog import CATALOG, Kind, LabelPolicy, MetricSpec, spec_for
from arbv2.core.model import Venue
from arbv2.ports.metrics import CycleStage

# A runaway caller passing ever-new label values must not grow memory without bound:
# past this many cached call keys, calls still work but take the validating path.
_MAX_CACHED_KEYS = 8192


class _Cell:
    """One counter or gauge series. `peers` is set for one-hot gauges (engine_state)."""

    __slots__ = ("value", "peers")

    def __init__(self, peers: _Series | None = None) -> None:
        self.value = 0.0
        self.peers = peers


class _Hist:
    """One histogram series: non-cumulative bucket counts (last one is +Inf) and a sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: the first bound >= value, i.e. Prometheus' `le` semantics.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> tuple[list[tuple[str, float]], float]:
        """Return ([(le, cumulative count)...], sum) as one consistent snapshot."""
        counts, total = list(self.counts), self.sum
        out, acc = [], 0
        for bound, n in zip(self.bounds, counts):
            acc += n
            out.append((floatToGoString(bound), float(acc)))
        out.append(("+Inf", float(acc + counts[-1])))
        return out, total


_Series = dict[tuple[str, ...], "_Cell | _Hist"]


class PrometheusMetrics:
    """Record the catalog's metrics for Prometheus; implements the Metrics port.

    Parameters
    ----------
    symbols
        The configured base assets; any other `symbol` label value is recorded as "other".
    registry
        Where to register the collector. None creates a private registry (with process,
        platform and GC collectors), available as `.registry`.
    start_time_s
        Unix time exported as arbv2_start_time_seconds; defaults to now.
    """

    def __init__(self, symbols: Sequence[str], registry: CollectorRegistry | None = None, *,
                 start_time_s: float | None = None) -> None:
        if registry is None:
            registry = CollectorRegistry()
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        self.registry = registry
        self._policy = LabelPolicy(symbols)
        self._series: dict[str, _Series] = {short: {} for short in CATALOG}
        self._counters: dict[tuple, _Cell] = {}
        self._gauges: dict[tuple, _Cell] = {}
        self._hists: dict[tuple, _Hist] = {}
        self._cycle = self._child(CATALOG["cycle_latency_seconds"], ())
        stage_spec = CATALOG["cycle_stage_seconds"]
        self._stages: dict[CycleStage, _Hist] = {
            st: self._child(stage_spec, (st.value,)) for st in CycleStage}
        for short in ("frames", "gaps", "resyncs", "reconnects"):
            for venue in Venue:  # zero-valued series exist before the first event, so rate() works
                self._child(CATALOG[short], (venue.value,))
        self.set("up", 1.0)
        self.set("start_time_seconds", time.time() if start_time_s is None else start_time_s)
        registry.register(_CatalogCollector(self._series))

    # ------------------------------------------------------------------ hot path

    def observe_cycle(self, seconds: float) -> None:
        """Record one whole cycle's latency."""
        h = self._cycle
        h.counts[bisect_left(h.bounds, seconds)] += 1
        h.sum += seconds

    def observe_stage(self, stage: CycleStage, seconds: float) -> None:
        """Record one stage's latency; `stage` must be a CycleStage (or its string value)."""
        try:
            h = self._stages[stage]
        except KeyError:
            raise ValueError(f"unknown cycle stage {stage!r}; known: "
                             f"{', '.join(s.value for s in CycleStage)}") from None
        h.counts[bisect_left(h.bounds, seconds)] += 1
        h.sum += seconds

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add `amount` (>= 0) to a catalog counter."""
        key = (name, *labels.items())
        cell = self._counters.get(key)
        if cell is None:
            cell = self._bind(self._counters, key, name, "counter", labels)
        if amount < 0:
            raise ValueError(f"counter {name!r} cannot decrease (amount={amount!r})")
        cell.value += amount

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a catalog gauge; for one-hot gauges a non-zero value zeroes the other series."""
        key = (name, *labels.items())
        cell = self._gauges.get(key)
        if cell is None:
            cell = self._bind(self._gauges, key, name, "gauge", labels)
        cell.value = value
        if cell.peers is not None and value:
            for other in cell.peers.values():
                if other is not cell:
                    other.value = 0.0

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record a value into a catalog histogram."""
        key = (name, *labels.items())
        h = self._hists.get(key)
        if h is None:
            h = self._bind(self._hists, key, name, "histogram", labels)
        h.counts[bisect_left(h.bounds, value)] += 1
        h.sum += value

    # ------------------------------------------------------------------ binding

    def _bind(self, cache: dict, key: tuple, name: str, kind: Kind, labels: Mapping[str, str]) -> Any:
        spec = spec_for(name, kind)
        child = self._child(spec, self._policy.values(spec, labels))
        if len(cache) < _MAX_CACHED_KEYS:
            cache[key] = child
        return child

    def _child(self, spec: MetricSpec, values: tuple[str, ...]) -> Any:
        series = self._series[spec.short]
        child = series.get(values)
        if child is None:
            if spec.kind == "histogram":
                child = _Hist(spec.buckets)
            else:
                child = _Cell(series if spec.exclusive else None)
            series[values] = child
        return child


class _CatalogCollector(Collector):
    """Turn the cells into metric families at scrape time."""

    def __init__(self, series: Mapping[str, _Series]) -> None:
        self._series = series

    def describe(self) -> Iterable[Metric]:
        return [_family(spec) for spec in CATALOG.values()]

    def collect(self) -> Iterator[Metric]:
        for spec in CATALOG.values():
            series = self._series[spec.short]
            if not series:
                continue
            fam = _family(spec)
            for values, child in list(series.items()):
                if isinstance(child, _Hist):
                    buckets, total = child.cumulative()
                    fam.add_metric(list(values), buckets, total)
                else:
                    fam.add_metric(list(values), child.value)
            yield fam


def _family(spec: MetricSpec) -> Any:
    if spec.kind == "counter":
        return CounterMetricFamily(spec.name, spec.help, labels=spec.labels)
    if spec.kind == "gauge":
        return GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
    return HistogramMetricFamily(spec.name, spec.help, labels=spec.labels)


def render_metrics(registry: CollectorRegistry) -> bytes:
    """Return the registry in the Prometheus text exposition format (0.0.4)."""
    return generate_latest(registry)


def metrics_handler(registry: CollectorRegistry) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Return an aiohttp handler for GET /metrics serving `registry`."""

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=render_metrics(registry),
                            headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    return handle
