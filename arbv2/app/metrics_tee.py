"""TeeMetrics: export to Prometheus and keep raw samples for the run's evidence percentiles."""
from __future__ import annotations

from typing import Any

from arbv2.ports.metrics import CycleStage


class TeeMetrics:
    """Send every record to both Metrics adapters (the exporter and a MemoryMetrics recorder)."""

    def __init__(self, primary: Any, recorder: Any) -> None:
        self.primary, self.recorder = primary, recorder
        self.registry = getattr(primary, "registry", None)

    def observe_cycle(self, seconds: float) -> None:
        self.primary.observe_cycle(seconds)
        self.recorder.observe_cycle(seconds)

    def observe_stage(self, stage: CycleStage, seconds: float) -> None:
        self.primary.observe_stage(stage, seconds)
        self.recorder.observe_stage(stage, seconds)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self.primary.inc(name, amount, **labels)
        self.recorder.inc(name, amount, **labels)

    def set(self, name: str, value: float, **labels: str) -> None:
        self.primary.set(name, value, **labels)
        self.recorder.set(name, value, **labels)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self.primary.observe(name, value, **labels)
        self.recorder.observe(name, value, **labels)
