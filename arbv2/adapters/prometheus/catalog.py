"""The metric catalog: every metric arbv2 exports, defined once.

The core records by short name through the Metrics port (`inc("frames", venue="upbit")`);
this table maps each short name to its full Prometheus name (prefix `arbv2_`, unit and kind
in the name), its kind, help text and label names. Both the Prometheus exporter and the
in-memory recorder validate against it, and the dashboard/alert tests check every PromQL
metric against it, so a renamed metric breaks a test instead of a panel.

Label values are bounded here too: `symbol` must be a configured symbol (anything else is
counted as "other"), `venue` and `stage` must be known enum values, and every other label
keeps at most MAX_LABEL_VALUES distinct values per metric before folding into "other".
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

from arbv2.core.model import Venue
from arbv2.ports.metrics import CycleStage

Kind = Literal["counter", "gauge", "histogram"]

PREFIX = "arbv2_"
OTHER = "other"
MAX_LABEL_VALUES = 64


def _decades(lo_exp: int, hi_exp: int, mantissas: Sequence[str]) -> tuple[float, ...]:
    # Built from decimal strings so 7.5e-6 is exactly the float a reader types, not 7.500000001e-06.
    out = [float(f"{m}e{e}") for e in range(lo_exp, hi_exp) for m in mantissas]
    out.append(float(f"1e{hi_exp}"))
    return tuple(out)


# 1 µs .. 1 s, five buckets per decade: p50/p99 of a microsecond-scale cycle stay readable.
LATENCY_BUCKETS: tuple[float, ...] = _decades(-6, 0, ("1", "2", "3", "5", "7.5"))
# REST round trips: 0.5 ms .. 10 s.
REQUEST_BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One catalog entry. `exclusive` names a label of a 0/1 gauge whose values are one-hot."""

    short: str
    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    exclusive: str | None = None

    def series_names(self) -> tuple[str, ...]:
        """Return the sample names this metric produces in the exposition format."""
        if self.kind == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


def _c(short: str, help_: str, *labels: str) -> MetricSpec:
    return MetricSpec(short, f"{PREFIX}{short}_total", "counter", help_, labels)


def _g(short: str, help_: str, *labels: str, name: str | None = None,
       exclusive: str | None = None) -> MetricSpec:
    return MetricSpec(short, f"{PREFIX}{name or short}", "gauge", help_, labels, exclusive=exclusive)


def _h(short: str, help_: str, buckets: tuple[float, ...], *labels: str) -> MetricSpec:
    return MetricSpec(short, f"{PREFIX}{short}", "histogram", help_, labels, buckets)


CATALOG: Mapping[str, MetricSpec] = {s.short: s for s in (
    # latency
    _h("cycle_latency_seconds", "Engine cycle: frame in hand to decision (and first order handed "
       "to the transport when one fires).", LATENCY_BUCKETS),
    _h("cycle_stage_seconds", "Latency of one cycle stage.", LATENCY_BUCKETS, "stage"),
    _h("adapter_request_seconds", "Venue REST request round trip, by outcome.", REQUEST_BUCKETS,
       "venue", "endpoint", "status"),
    # feeds
    _c("frames", "WebSocket frames received.", "venue"),
    _c("malformed_frames", "Frames that failed to parse or validate.", "venue", "kind"),
    _c("gaps", "Sequence gaps detected in a book stream.", "venue"),
    _c("resyncs", "Book resynchronisations (snapshot reloads).", "venue"),
    _c("reconnects", "WebSocket reconnects.", "venue"),
    _g("book_age_seconds", "Age of the newest applied book update.", "venue", "symbol"),
    _g("book_healthy", "1 when the book is synced, fresh and uncrossed, else 0.", "venue", "symbol"),
    # market
    _g("premium", "Mid kimchi premium P = upbit_krw / (binance_usdt * usdt_krw) - 1.", "symbol",
       name="premium_ratio"),
    _g("entry_premium", "Executable entry premium at the configured order size.", "symbol",
       name="entry_premium_ratio"),
    _g("exit_premium", "Executable exit premium at the configured order size.", "symbol",
       name="exit_premium_ratio"),
    _g("usdt_krw", "USDT/KRW rate used for the premium (KRW per USDT)."),
    # decisions and execution
    _c("opportunities", "Detected opportunities with edge over the threshold.", "symbol", "direction"),
    _c("round_trips", "Round trips finished, by outcome.", "symbol", "outcome"),
    _c("rejects", "Orders rejected by a venue, by reason.", "venue", "reason"),
    _c("risk_blocks", "Opportunities blocked by the risk guard, by reason.", "reason"),
    _c("executions_failed", "Executions that failed (one leg or both), by reason.", "reason"),
    # portfolio and risk
    _g("position_base", "Position in base units (negative = short).", "venue", "symbol"),
    _g("pnl_realized_krw", "Realized PnL since start of day, KRW."),
    _g("pnl_unrealized_krw", "Unrealized PnL of open round trips, KRW."),
    _g("fees_krw", "Fees paid since start of day, KRW."),
    _g("daily_loss_krw", "Loss so far today as a positive KRW amount (0 when in profit)."),
    _g("daily_loss_limit_krw", "Configured daily loss limit, KRW."),
    _g("residual_delta_base", "Unhedged residual position in base units.", "symbol"),
    _g("rate_limit_headroom", "Fraction of a rate-limit bucket still available (0..1).", "bucket",
       name="rate_limit_headroom_ratio"),
    _g("cycle_p99_budget_seconds", "Configured cycle-latency p99 budget (kpi.cycle_p99_budget_us)."),
    # engine
    _g("engine_state", "1 for the engine's current state, 0 for the others.", "state",
       exclusive="state"),
    _g("kill_switch", "1 when the kill switch is on."),
    _g("paused", "1 when trading is paused by an operator."),
    _g("up", "1 while the engine process serves metrics."),
    _c("admin_requests", "Admin API requests, by HTTP status (4xx: refused or malformed).", "status"),
    _g("start_time_seconds", "Engine start time, Unix seconds."),
)}

BY_NAME: Mapping[str, MetricSpec] = {s.name: s for s in CATALOG.values()}

_ENUM_LABELS: Mapping[str, frozenset[str]] = {
    "venue": frozenset(v.value for v in Venue),
    "stage": frozenset(s.value for s in CycleStage),
}


def spec_for(short: str, kind: Kind) -> MetricSpec:
    """Return the catalog entry for `short`, raising ValueError if unknown or of another kind."""
    spec = CATALOG.get(short)
    if spec is None:
        raise ValueError(f"unknown metric {short!r}; known: {', '.join(sorted(CATALOG))}")
    if spec.kind != kind:
        verb = {"counter": "inc", "gauge": "set", "histogram": "observe"}[spec.kind]
        raise ValueError(f"metric {short!r} is a {spec.kind}; record it with {verb}()")
    return spec


class LabelPolicy:
    """Validate label names and bound label values so cardinality cannot grow with input."""

    __slots__ = ("symbols", "_seen")

    def __init__(self, symbols: Sequence[str] | None) -> None:
        self.symbols = None if symbols is None else frozenset(symbols)
        self._seen: dict[tuple[str, str], set[str]] = {}

    def values(self, spec: MetricSpec, labels: Mapping[str, str]) -> tuple[str, ...]:
        """Return the label values in the spec's order, normalised; raise on bad names."""
        if len(labels) != len(spec.labels) or any(k not in labels for k in spec.labels):
            raise ValueError(f"metric {spec.short!r} takes labels ({', '.join(spec.labels) or 'none'}),"
                             f" got ({', '.join(sorted(labels)) or 'none'})")
        return tuple(self._value(spec, k, labels[k]) for k in spec.labels)

    def _value(self, spec: MetricSpec, label: str, raw: object) -> str:
        value = str(raw.value) if isinstance(raw, enum.Enum) else str(raw)
        if label == "symbol":
            return value if self.symbols is None or value in self.symbols else OTHER
        allowed = _ENUM_LABELS.get(label)
        if allowed is not None:
            if value not in allowed:
                raise ValueError(f"metric {spec.short!r}: {label}={value!r} is not one of "
                                 f"{', '.join(sorted(allowed))}")
            return value
        seen = self._seen.setdefault((spec.short, label), set())
        if value in seen:
            return value
        if len(seen) >= MAX_LABEL_VALUES:
            return OTHER
        seen.add(value)
        return value
