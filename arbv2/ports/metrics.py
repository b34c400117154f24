"""Metrics port: the core records what happened; the adapter decides how it is exported."""
from __future__ import annotations

import enum
from typing import Protocol


class CycleStage(str, enum.Enum):
    PARSE = "parse"
    MERGE = "merge"
    DETECT = "detect"
    RISK = "risk"
    SEND = "send"
    ACK = "ack"
    FILL = "fill"


class Metrics(Protocol):
    def observe_cycle(self, seconds: float) -> None:
        """Record one whole cycle (frame in hand to decision). Hot path: well under 1 µs."""

    def observe_stage(self, stage: CycleStage, seconds: float) -> None:
        """Record one stage's latency. Hot path."""

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add to a counter of the catalog (e.g. 'frames', venue='upbit')."""

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge of the catalog (e.g. 'premium', symbol='BTC')."""

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record a histogram value of the catalog (e.g. 'adapter_request_seconds')."""
