"""RiskGuard: every order the engine places passes `check` first; each refusal has a reason.

Entries are refused by any limit. Exits (which reduce risk) are refused only when the books
cannot be trusted (stale, unhealthy, clock skew): the kill switch, the daily loss limit and the
cooldowns never trap a position open.

Cooldowns: a losing round trip cools its own symbol for `cooldown_after_loss_s`; a failed
execution (a leg rejected, timed out or unwound) cools every symbol for
`cooldown_after_failure_s`, because its cause (rate limit, margin, venue outage) is usually
venue-wide.
"""
from __future__ import annotations

import enum
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from arbv2.core.config import RiskConfig
from arbv2.core.model import BookHealth
from arbv2.core.strategy.types import Action, Opportunity

log = logging.getLogger(__name__)
_NS = 1_000_000_000


class RiskReason(str, enum.Enum):
    """Why RiskGuard refused an order (the `reason` label of the risk_blocks counter)."""

    KILL_SWITCH = "kill_switch"
    PAUSED = "paused"
    DAILY_LOSS = "daily_loss"
    POSITION_LIMIT = "position_limit"
    GROSS_NOTIONAL = "gross_notional"
    MAX_ROUND_TRIPS = "max_round_trips"
    COOLDOWN = "cooldown"
    STALE_BOOK = "stale_book"
    UNHEALTHY_BOOK = "unhealthy_book"
    CLOCK_SKEW = "clock_skew"
    RESIDUAL = "residual"
    ORDER_SIZE = "order_size"


@dataclass(frozen=True, slots=True)
class Exposure:
    """What is open right now, in KRW, as the guard needs it.

    `symbol_notional_krw` is the Upbit-leg notional open on the opportunity's symbol;
    `gross_notional_krw` sums both legs over every symbol (a 1 M KRW hedge counts 2 M);
    `residual_krw` is the absolute unhedged delta over every symbol.
    """

    symbol_notional_krw: float = 0.0
    gross_notional_krw: float = 0.0
    open_round_trips: int = 0
    residual_krw: float = 0.0


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    """The guard's answer for one opportunity; the executor refuses anything not approved."""

    approved: bool
    opportunity: Opportunity
    reason: RiskReason | None = None
    detail: str = ""
    ts_ns: int = 0


class RiskGuard:
    """Limits from `risk` config, plus the state they need (daily loss, cooldowns, kill switch).

    Parameters
    ----------
    risk
        The `risk` config slice.
    max_book_age_s
        A book older than this is stale (market_data.max_book_age_s).
    max_order_notional_krw
        The largest single entry allowed (sizing.max_order_notional_krw).
    """

    def __init__(self, risk: RiskConfig, max_book_age_s: float,
                 max_order_notional_krw: float = float("inf")) -> None:
        self.cfg = risk
        self._max_age_ns = int(max_book_age_s * _NS)
        self._max_order_krw = max_order_notional_krw
        self._skew_ns = int(risk.max_clock_skew_ms * 1_000_000)
        self._tz = ZoneInfo(risk.day_reset_tz)
        self.kill_switch = risk.kill_switch
        self.blocks: Counter[str] = Counter()
        self._day = ""
        self._day_loss = Decimal(0)
        self._cool_symbol: dict[str, int] = {}
        self._cool_all_ns = 0
        self._logged: dict[str, set[RiskReason]] = {}   # reasons already logged per symbol

    # ------------------------------------------------------------------ state

    def day_key(self, now_ns: int) -> str:
        """Return the trading day of `now_ns` in the configured time zone (YYYY-MM-DD)."""
        return datetime.fromtimestamp(now_ns / _NS, tz=timezone.utc).astimezone(self._tz).date().isoformat()

    def daily_loss_krw(self, now_ns: int) -> Decimal:
        """Return today's net realized loss (fees included); 0 after the day rolls over."""
        self._roll(now_ns)
        return self._day_loss

    def restore_daily_loss(self, day: str, loss_krw: Decimal) -> None:
        """Seed the day's loss counter from the StateStore at startup."""
        self._day = day
        self._day_loss = Decimal(loss_krw)

    def _roll(self, now_ns: int) -> None:
        day = self.day_key(now_ns)
        if day != self._day:
            self._day = day
            self._day_loss = Decimal(0)

    def record_round_trip(self, base: str, net_pnl_krw: Decimal, now_ns: int) -> Decimal:
        """Book a closed round trip's net PnL (fees and funding in); return today's loss.

        A loss also starts the symbol's cooldown.
        """
        self._roll(now_ns)
        self._day_loss -= net_pnl_krw
        if net_pnl_krw < 0:
            self._cool_symbol[base] = max(self._cool_symbol.get(base, 0),
                                          now_ns + int(self.cfg.cooldown_after_loss_s * _NS))
        return self._day_loss

    def record_failure(self, base: str, now_ns: int, loss_krw: Decimal = Decimal(0)) -> None:
        """Book a failed execution: cool every symbol, count any realized loss of the unwind."""
        self._roll(now_ns)
        self._day_loss += max(loss_krw, Decimal(0))
        self._cool_all_ns = max(self._cool_all_ns, now_ns + int(self.cfg.cooldown_after_failure_s * _NS))
        log.warning("risk: execution failed on %s; all entries cool down for %.1f s",
                    base, self.cfg.cooldown_after_failure_s)

    def cooldown_left_s(self, base: str, now_ns: int) -> float:
        """Return the seconds of cooldown left for `base` (0 when none)."""
        until = max(self._cool_symbol.get(base, 0), self._cool_all_ns)
        return max(0.0, (until - now_ns) / _NS)

    # ------------------------------------------------------------------ decision

    def check(self, opp: Opportunity, exposure: Exposure, upbit: BookHealth, binance: BookHealth,
              now_ns: int, *, paused: bool = False) -> RiskVerdict:
        """Return the verdict for `opp`; a refusal is counted and logged (once per change)."""
        reason, detail = self._books(opp, upbit, binance)
        if reason is None and opp.action is Action.ENTER:
            reason, detail = self._entry(opp, exposure, now_ns, paused)
        if reason is None:
            self._logged.pop(opp.base, None)
            return RiskVerdict(True, opp, None, "", now_ns)
        self.blocks[reason.value] += 1
        logged = self._logged.setdefault(opp.base, set())
        if reason not in logged:          # once per reason until the symbol is approved again
            logged.add(reason)
            log.info("risk: %s %s %s refused: %s (%s)", opp.action.value, opp.base,
                     opp.direction.value, reason.value, detail)
        return RiskVerdict(False, opp, reason, detail, now_ns)

    def _books(self, opp: Opportunity, upbit: BookHealth, binance: BookHealth):
        for h in (upbit, binance):
            if not h.healthy:
                return RiskReason.UNHEALTHY_BOOK, (
                    f"{h.venue.value} {h.symbol}: synced={h.synced} crossed={h.crossed} age={h.age_s:.3f}s")
        for venue, age in (("upbit", opp.upbit_age_ns), ("binance_usdm", opp.binance_age_ns)):
            if age < -self._skew_ns:
                return RiskReason.CLOCK_SKEW, f"{venue} book is {-age / 1e6:.1f} ms in the future"
            if age > self._max_age_ns:
                return RiskReason.STALE_BOOK, f"{venue} book age {age / 1e9:.3f} s > {self._max_age_ns / 1e9} s"
        return None, ""

    def _entry(self, opp: Opportunity, ex: Exposure, now_ns: int, paused: bool):
        c = self.cfg
        if self.kill_switch:
            return RiskReason.KILL_SWITCH, "kill switch is on"
        if paused:
            return RiskReason.PAUSED, "entries are paused"
        loss = self.daily_loss_krw(now_ns)
        if loss >= Decimal(repr(c.daily_loss_limit_krw)):
            return RiskReason.DAILY_LOSS, f"day {self._day} loss {loss} >= {c.daily_loss_limit_krw}"
        left = self.cooldown_left_s(opp.base, now_ns)
        if left > 0.0:
            return RiskReason.COOLDOWN, f"{left:.1f} s of cooldown left"
        if ex.open_round_trips >= c.max_open_round_trips:
            return RiskReason.MAX_ROUND_TRIPS, f"{ex.open_round_trips} open >= {c.max_open_round_trips}"
        if opp.notional_krw > self._max_order_krw:
            return RiskReason.ORDER_SIZE, f"order {opp.notional_krw:.0f} > {self._max_order_krw:.0f} KRW"
        if ex.symbol_notional_krw + opp.notional_krw > c.max_position_krw_per_symbol:
            return RiskReason.POSITION_LIMIT, (
                f"{ex.symbol_notional_krw:.0f} + {opp.notional_krw:.0f} > {c.max_position_krw_per_symbol:.0f} KRW")
        if ex.gross_notional_krw + 2.0 * opp.notional_krw > c.max_gross_notional_krw:
            return RiskReason.GROSS_NOTIONAL, (
                f"{ex.gross_notional_krw:.0f} + 2x{opp.notional_krw:.0f} > {c.max_gross_notional_krw:.0f} KRW")
        if ex.residual_krw > c.max_residual_krw:
            return RiskReason.RESIDUAL, f"residual {ex.residual_krw:.0f} > {c.max_residual_krw:.0f} KRW"
        return None, ""
