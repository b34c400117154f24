"""Values the detector hands to the risk guard and the executor."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from arbv2.core.model import Direction


class Action(str, enum.Enum):
    """Whether an opportunity opens a round trip or closes the open one."""

    ENTER = "enter"
    EXIT = "exit"


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One actionable quote for one symbol, with what it was computed from.

    Premiums are fractions (0.0076 = 0.76 %); edges and costs are bps. `qty_base` is the
    executable size the books support (float, the decision's view; the executor rounds it to the
    venues' steps in Decimal). For an EXIT, `ref_premium` is the premium the round trip opened at;
    for an ENTER it is the anchor the edge was measured against.
    """

    base: str
    action: Action
    direction: Direction
    qty_base: float
    notional_krw: float
    entry_premium: float
    exit_premium: float
    mid_premium: float
    ref_premium: float
    break_even_bps: float
    edge_bps: float
    expected_pnl_krw: float
    upbit_vwap: float
    binance_vwap: float
    upbit_worst: float
    binance_worst: float
    usdt_krw: float
    upbit_age_ns: int
    binance_age_ns: int
    ts_ns: int
    reason: str = "edge"

    @property
    def upbit_buys(self) -> bool:
        """Return True when this opportunity's Upbit leg is a buy."""
        return (self.direction is Direction.LONG_UPBIT) == (self.action is Action.ENTER)
