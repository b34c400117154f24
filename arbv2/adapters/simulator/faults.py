"""Fault injection: a plan (from YAML/JSON, the admin endpoint, or tests at runtime) and the
seeded dice that decide, request by request and frame by frame, whether a fault fires.

Every fault that fires is counted in `sim_faults_injected_total{venue,fault}` on /metrics, so a
test can assert that the client really saw it. Shares are probabilities in [0, 1]; periods and
durations are seconds; 0 turns a fault off.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from arbv2.adapters.simulator.accounts import VENUES

FAULT_NAMES = (
    "ws_drop", "ws_skip_diff", "ws_delay", "ws_reorder", "ws_stall", "ws_malformed",
    "http_429", "http_418", "http_5xx", "order_reject", "order_timeout", "partial_fill", "clock_skew",
)


@dataclass(slots=True)
class FaultPlan:
    """What to break, how often, and on which venues (`venues`: upbit and/or binance_usdm)."""

    venues: tuple[str, ...] = VENUES
    ws_drop_every_s: float = 0.0        # close every WS connection of the venue every N s
    ws_skip_diff_every: int = 0         # withhold every Nth book event (Binance: a pu gap)
    ws_delay_share: float = 0.0         # share of frames held back by ws_delay_ms
    ws_delay_ms: float = 0.0
    ws_reorder_share: float = 0.0       # share of frames swapped with the next one
    ws_stall_every_s: float = 0.0       # every N s, stop sending for ws_stall_s (socket stays open)
    ws_stall_s: float = 0.0
    ws_malformed_share: float = 0.0     # share of frames preceded by a malformed frame
    http_429_share: float = 0.0         # share of REST requests answered 429 / 418 / 5xx
    http_418_share: float = 0.0
    http_5xx_share: float = 0.0
    order_reject_share: float = 0.0     # share of new orders rejected by the venue
    order_timeout_share: float = 0.0    # share of new orders executed but answered after order_timeout_s
    order_timeout_s: float = 10.0
    partial_fill_share: float = 0.0     # share of orders that fill only partial_fill_ratio
    partial_fill_ratio: float = 0.5
    clock_skew_ms: int = 0              # server clock offset (timestamps served and recvWindow checks)

    def __post_init__(self) -> None:
        self.venues = tuple(self.venues)
        bad = set(self.venues) - set(VENUES)
        if bad:
            raise ValueError(f"unknown venues in fault plan: {sorted(bad)}")
        for f in fields(self):
            if f.name.endswith("_share") or f.name == "partial_fill_ratio":
                v = float(getattr(self, f.name))
                if not 0.0 <= v <= 1.0:
                    raise ValueError(f"{f.name} must be within [0, 1], got {v}")

    def applies(self, venue: str) -> bool:
        return venue in self.venues

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "FaultPlan":
        """Build a plan from a mapping; unknown keys are an error, not silently ignored."""
        names = {f.name for f in fields(cls)}
        unknown = set(raw) - names
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        return cls(**raw)

    @classmethod
    def load(cls, path: str | Path) -> "FaultPlan":
        """Load a YAML or JSON fault file (JSON is valid YAML)."""
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: a fault plan is a mapping")
        return cls.from_dict(raw)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["venues"] = list(self.venues)
        return d


@dataclass(slots=True)
class FaultDice:
    """Seeded decisions plus the injected-fault counter; one per simulator."""

    plan: FaultPlan
    seed: int
    on_fault: Any = None                 # callable(venue, fault) -> None, wired to metrics
    rng: random.Random = field(init=False)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed ^ 0x5F3759DF)

    def count(self, venue: str, fault: str, n: int = 1) -> None:
        self.counts[(venue, fault)] = self.counts.get((venue, fault), 0) + n
        if self.on_fault is not None:
            self.on_fault(venue, fault, n)

    def roll(self, venue: str, share: float, fault: str) -> bool:
        """Return True (and count it) with probability `share` when the plan covers `venue`."""
        if share <= 0.0 or not self.plan.applies(venue):
            return False
        if self.rng.random() < share:
            self.count(venue, fault)
            return True
        return False

    def http_fault(self, venue: str) -> int:
        """Return 429, 418 or 503 when a REST fault fires for this request, else 0."""
        p = self.plan
        if self.roll(venue, p.http_429_share, "http_429"):
            return 429
        if self.roll(venue, p.http_418_share, "http_418"):
            return 418
        if self.roll(venue, p.http_5xx_share, "http_5xx"):
            return 503
        return 0

    def skew_ms(self, venue: str) -> int:
        return self.plan.clock_skew_ms if self.plan.applies(venue) else 0
