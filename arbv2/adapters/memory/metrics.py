"""A recording Metrics port for tests, replay and the evidence report.

It validates names and labels against the same catalog as the Prometheus exporter, so a
metric the core records in a unit test is one Prometheus would accept. Raw latencies are
kept (up to `max_samples` per series, oldest dropped) so callers can compute exact
percentiles rather than bucket estimates.
"""
from __future__ import annotations

from collections import deque
from typing import Mapping, Sequence

from arbv2.adapters.prometheus.catalog import Kind, LabelPolicy, spec_for
from arbv2.ports.metrics import CycleStage

_Key = tuple[str, tuple[str, ...]]


class MemoryMetrics:
    """Record metrics into dicts and bounded deques; implements the Metrics port.

    Parameters
    ----------
    symbols
        Configured base assets; other `symbol` values are recorded as "other". None accepts any.
    max_samples
        Raw observations kept per latency series.
    """

    def __init__(self, symbols: Sequence[str] | None = None, max_samples: int = 1_000_000) -> None:
        self._policy = LabelPolicy(symbols)
        self._max = max_samples
        self.cycle_seconds: deque[float] = deque(maxlen=max_samples)
        self.stage_seconds: dict[CycleStage, deque[float]] = {
            st: deque(maxlen=max_samples) for st in CycleStage}
        self.counters: dict[_Key, float] = {}
        self.gauges: dict[_Key, float] = {}
        self.histograms: dict[_Key, deque[float]] = {}

    def observe_cycle(self, seconds: float) -> None:
        """Record one whole cycle's latency."""
        self.cycle_seconds.append(seconds)

    def observe_stage(self, stage: CycleStage, seconds: float) -> None:
        """Record one stage's latency."""
        try:
            self.stage_seconds[stage].append(seconds)
        except KeyError:
            raise ValueError(f"unknown cycle stage {stage!r}; known: "
                             f"{', '.join(s.value for s in CycleStage)}") from None

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add `amount` (>= 0) to a catalog counter."""
        key = self._key(name, "counter", labels)
        if amount < 0:
            raise ValueError(f"counter {name!r} cannot decrease (amount={amount!r})")
        self.counters[key] = self.counters.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a catalog gauge; one-hot gauges (engine_state) zero their other series."""
        key = self._key(name, "gauge", labels)
        if value and spec_for(name, "gauge").exclusive:
            for other in self.gauges:
                if other[0] == name:
                    self.gauges[other] = 0.0
        self.gauges[key] = value

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record a value into a catalog histogram."""
        key = self._key(name, "histogram", labels)
        series = self.histograms.get(key)
        if series is None:
            series = self.histograms[key] = deque(maxlen=self._max)
        series.append(value)

    # ------------------------------------------------------------------ reading back

    def counter(self, name: str, **labels: str) -> float:
        """Return a counter's value (0.0 if never incremented)."""
        return self.counters.get(self._key(name, "counter", labels), 0.0)

    def gauge(self, name: str, **labels: str) -> float | None:
        """Return a gauge's last value, or None if never set."""
        return self.gauges.get(self._key(name, "gauge", labels))

    def samples(self, name: str, **labels: str) -> list[float]:
        """Return a histogram's recorded values, oldest first."""
        return list(self.histograms.get(self._key(name, "histogram", labels), ()))

    def _key(self, name: str, kind: Kind, labels: Mapping[str, str]) -> _Key:
        spec = spec_for(name, kind)
        return name, self._policy.values(spec, labels)
