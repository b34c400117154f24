"""The per-symbol state machine: flat → entering → hedged → exiting → flat, plus failed.

Transitions (anything else raises, so a bug cannot double-enter):

    FLAT     --entry approved-->            ENTERING
    ENTERING --hedged-->                    HEDGED
    ENTERING --nothing filled / unwound-->  FLAT
    ENTERING --residual or unknown order--> FAILED
    HEDGED   --exit approved-->             EXITING
    EXITING  --closed-->                    FLAT
    EXITING  --residual or unknown order--> FAILED
    FAILED   --operator clears / reconcile--> FLAT or HEDGED

FAILED stops entries on the symbol until an operator clears it (`clear_failure`) or a
restart's reconciliation finds the venues consistent again.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from arbv2.core.model import Direction, RoundTrip
from arbv2.core.strategy.detector import Holding


class SymbolState(str, enum.Enum):
    FLAT = "flat"
    ENTERING = "entering"
    HEDGED = "hedged"
    EXITING = "exiting"
    FAILED = "failed"


_ALLOWED = {
    SymbolState.FLAT: {SymbolState.ENTERING, SymbolState.HEDGED, SymbolState.FAILED},
    SymbolState.ENTERING: {SymbolState.HEDGED, SymbolState.FLAT, SymbolState.FAILED},
    SymbolState.HEDGED: {SymbolState.EXITING, SymbolState.FAILED},
    SymbolState.EXITING: {SymbolState.FLAT, SymbolState.FAILED, SymbolState.HEDGED},
    SymbolState.FAILED: {SymbolState.FLAT, SymbolState.HEDGED},
}


class TransitionError(RuntimeError):
    """A state change the machine does not allow (a bug, never a market condition)."""


@dataclass(slots=True)
class SymbolSlot:
    """Everything the engine knows about one symbol; positions are signed base quantities."""

    base: str
    state: SymbolState = SymbolState.FLAT
    round_trip: RoundTrip | None = None
    direction: Direction | None = None
    upbit_pos: Decimal = Decimal(0)
    binance_pos: Decimal = Decimal(0)
    open_premium: float = float("nan")
    notional_krw: float = 0.0
    note: str = ""
    holding_cache: Holding | None = None

    def to(self, new: SymbolState, note: str = "") -> None:
        """Move to `new`, or raise TransitionError."""
        if new is not self.state and new not in _ALLOWED[self.state]:
            raise TransitionError(f"{self.base}: {self.state.value} -> {new.value} is not allowed")
        self.state = new
        self.note = note

    @property
    def residual(self) -> Decimal:
        """Return the unhedged base delta (Upbit + Binance, signed)."""
        return self.upbit_pos + self.binance_pos

    @property
    def hedged_qty(self) -> Decimal:
        if (self.upbit_pos > 0) == (self.binance_pos > 0):
            return Decimal(0)
        return min(abs(self.upbit_pos), abs(self.binance_pos))

    def holding(self) -> Holding | None:
        """Return the detector's view of the open hedge (cached; rebuilt when positions change)."""
        if self.state is not SymbolState.HEDGED or self.direction is None:
            return None
        if self.holding_cache is None:
            self.holding_cache = Holding(self.direction, float(self.hedged_qty), self.open_premium)
        return self.holding_cache

    def set_positions(self, upbit: Decimal, binance: Decimal) -> None:
        self.upbit_pos, self.binance_pos = upbit, binance
        self.holding_cache = None

    def doc(self) -> dict:
        """Return the StateStore document of this symbol (restored by reconciliation)."""
        return {"state": self.state.value, "direction": self.direction.value if self.direction else None,
                "round_trip_id": self.round_trip.round_trip_id if self.round_trip else None,
                "opened_ns": self.round_trip.opened_ns if self.round_trip else None,
                "upbit_pos": str(self.upbit_pos), "binance_pos": str(self.binance_pos),
                "open_premium": self.open_premium, "notional_krw": self.notional_krw, "note": self.note}
