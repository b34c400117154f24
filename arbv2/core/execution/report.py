"""What an execution did: one LegReport per order sent, one ExecutionReport per execution."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from arbv2.core.model import Direction, Fill, Order, OrderIntent, OrderStatus, Side, Venue
from arbv2.core.strategy.types import Action


class LegPurpose(str, enum.Enum):
    """Why a leg was sent."""

    OPEN = "open"          # a main leg of an entry or an exit
    REHEDGE = "rehedge"    # Binance order that matches a partial or rounded fill
    RETRY = "retry"        # the rest of a main leg after a transient failure or partial fill
    UNWIND = "unwind"      # rollback of a filled leg whose partner failed


class Outcome(str, enum.Enum):
    """How an execution ended (the `outcome` label of the round_trips counter)."""

    HEDGED = "hedged"        # entry: both legs filled and matched (maybe a sub-step residual)
    CLOSED = "closed"        # exit: both legs closed
    NOTHING = "nothing"      # no leg filled: nothing to unwind
    UNWOUND = "unwound"      # one leg failed, the filled one was rolled back
    RESIDUAL = "residual"    # an unhedged position is left: recorded and alerted

    @property
    def failed(self) -> bool:
        return self in (Outcome.NOTHING, Outcome.UNWOUND, Outcome.RESIDUAL)


@dataclass(slots=True)
class LegReport:
    """One order of an execution with its stage timestamps (monotonic ns; 0 = not reached)."""

    venue: Venue
    purpose: LegPurpose
    intent: OrderIntent
    order: Order | None = None
    error: str = ""
    error_kind: str = ""
    lookups: int = 0
    retry_after_s: float | None = None
    decided_ns: int = 0
    sent_ns: int = 0
    acked_ns: int = 0
    filled_ns: int = 0

    @property
    def status(self) -> OrderStatus:
        return self.order.status if self.order is not None else OrderStatus.REJECTED

    @property
    def filled_qty(self) -> Decimal:
        return self.order.filled_qty if self.order is not None else Decimal(0)

    @property
    def signed_filled(self) -> Decimal:
        """Return the filled base quantity, positive for a buy."""
        q = self.filled_qty
        return q if self.intent.side is Side.BUY else -q

    @property
    def fills(self) -> tuple[Fill, ...]:
        return self.order.fills if self.order is not None else ()

    @property
    def unknown(self) -> bool:
        """Return True when the venue's view of this order could not be established."""
        return self.order is not None and self.order.status is OrderStatus.UNKNOWN

    def latency_us(self) -> dict[str, float | None]:
        """Return decision→sent, sent→ack and sent→filled in microseconds (None if not reached)."""
        def span(a: int, b: int) -> float | None:
            return (b - a) / 1e3 if a and b else None
        return {"decide_to_send_us": span(self.decided_ns, self.sent_ns),
                "send_to_ack_us": span(self.sent_ns, self.acked_ns),
                "send_to_fill_us": span(self.sent_ns, self.filled_ns)}


@dataclass(slots=True)
class ExecutionReport:
    """Everything one execution did, and what it left open.

    `upbit_base` / `binance_base` are the signed base quantities this execution moved on each
    venue; `residual_base` = their sum is the unhedged delta it left (0 when matched).
    `premium` is the premium the main legs actually filled at (NaN if either did not fill).
    """

    round_trip_id: str
    base: str
    action: Action
    direction: Direction
    outcome: Outcome = Outcome.NOTHING
    legs: list[LegReport] = field(default_factory=list)
    upbit_base: Decimal = Decimal(0)
    binance_base: Decimal = Decimal(0)
    premium: float = float("nan")
    reason: str = ""
    unknown_orders: list[str] = field(default_factory=list)

    @property
    def residual_base(self) -> Decimal:
        return self.upbit_base + self.binance_base

    @property
    def hedged_base(self) -> Decimal:
        """Return the base quantity held on both venues in opposite directions."""
        if (self.upbit_base > 0) == (self.binance_base > 0):
            return Decimal(0)
        return min(abs(self.upbit_base), abs(self.binance_base))

    @property
    def fills(self) -> list[Fill]:
        return [f for leg in self.legs for f in leg.fills]

    def summary(self) -> dict:
        """Return a JSON-able summary (logs, admin API, evidence)."""
        return {
            "round_trip_id": self.round_trip_id, "base": self.base, "action": self.action.value,
            "direction": self.direction.value, "outcome": self.outcome.value,
            "upbit_base": str(self.upbit_base), "binance_base": str(self.binance_base),
            "residual_base": str(self.residual_base), "premium": self.premium,
            "reason": self.reason, "unknown_orders": list(self.unknown_orders),
            "legs": [{"venue": leg.venue.value, "purpose": leg.purpose.value,
                      "client_order_id": leg.intent.client_order_id, "side": leg.intent.side.value,
                      "status": leg.status.value, "filled_qty": str(leg.filled_qty),
                      "error": leg.error, **leg.latency_us()} for leg in self.legs],
        }
