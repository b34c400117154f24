"""The venues' request limits: Upbit per-group per-second counters, Binance weight per minute.

Both escalate the same way the venues do: past the limit a request gets 429; a client that keeps
sending after 429s is banned for a while and gets 418.
"""
from __future__ import annotations

from dataclasses import dataclass, field

UPBIT_GROUP_LIMITS = {
    "market": 10, "candle": 10, "trade": 10, "ticker": 10, "orderbook": 10,
    "default": 30, "order": 8, "order-test": 8, "order-cancel-all": 1,
}


@dataclass(slots=True)
class Verdict:
    """Outcome of one rate-limit check: HTTP status to send (200 = go on) and header values."""

    status: int
    remaining: int = 0
    used: int = 0
    retry_after_s: int = 0


@dataclass(slots=True)
class UpbitLimiter:
    """Per (group, client) per-second counts; `ban_after` 429s within 10 s earn a 418 ban."""

    limits: dict[str, int] = field(default_factory=lambda: dict(UPBIT_GROUP_LIMITS))
    ban_after: int = 10
    ban_s: float = 60.0
    _counts: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    _strikes: dict[str, list[float]] = field(default_factory=dict)
    _banned_until: dict[str, float] = field(default_factory=dict)

    def check(self, group: str, who: str, now_s: float) -> Verdict:
        if self._banned_until.get(who, 0.0) > now_s:
            return Verdict(418, retry_after_s=int(self._banned_until[who] - now_s) + 1)
        limit = self.limits.get(group, 30)
        sec = int(now_s)
        start, used = self._counts.get((group, who), (sec, 0))
        if start != sec:
            start, used = sec, 0
        if used >= limit:
            strikes = [t for t in self._strikes.get(who, []) if now_s - t < 10.0] + [now_s]
            self._strikes[who] = strikes
            if len(strikes) > self.ban_after:
                self._banned_until[who] = now_s + self.ban_s
                self._strikes[who] = []
                return Verdict(418, retry_after_s=int(self.ban_s))
            return Verdict(429, remaining=0, retry_after_s=1)
        used += 1
        self._counts[(group, who)] = (start, used)
        return Verdict(200, remaining=limit - used)


@dataclass(slots=True)
class BinanceLimiter:
    """IP weight per minute (REQUEST_WEIGHT) and order counts; 429 then a 418 ban."""

    weight_limit_1m: int = 2400
    order_limit_10s: int = 300
    order_limit_1m: int = 1200
    ban_after: int = 5
    ban_s: float = 120.0
    _weight: dict[str, tuple[int, int]] = field(default_factory=dict)
    _orders10: dict[str, tuple[int, int]] = field(default_factory=dict)
    _orders1m: dict[str, tuple[int, int]] = field(default_factory=dict)
    _strikes: dict[str, int] = field(default_factory=dict)
    _banned_until: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def _bump(table: dict[str, tuple[int, int]], who: str, window: int, n: int) -> int:
        start, used = table.get(who, (window, 0))
        if start != window:
            start, used = window, 0
        used += n
        table[who] = (start, used)
        return used

    def used_weight(self, who: str, now_s: float) -> int:
        start, used = self._weight.get(who, (0, 0))
        return used if start == int(now_s // 60) else 0

    def check(self, who: str, weight: int, now_s: float) -> Verdict:
        if self._banned_until.get(who, 0.0) > now_s:
            return Verdict(418, used=self.used_weight(who, now_s),
                           retry_after_s=int(self._banned_until[who] - now_s) + 1)
        minute = int(now_s // 60)
        used = self._bump(self._weight, who, minute, weight)
        if used > self.weight_limit_1m:
            strikes = self._strikes.get(who, 0) + 1 if self._strikes.get(f"{who}#m") == minute else 1
            self._strikes[who], self._strikes[f"{who}#m"] = strikes, minute
            if strikes > self.ban_after:
                self._banned_until[who] = now_s + self.ban_s
                return Verdict(418, used=used, retry_after_s=int(self.ban_s))
            return Verdict(429, used=used, retry_after_s=60 - int(now_s % 60))
        return Verdict(200, used=used)

    def count_order(self, account: str, now_s: float) -> tuple[int, int, bool]:
        """Count one order; return (10 s count, 1 min count, over either limit)."""
        c10 = self._bump(self._orders10, account, int(now_s // 10), 1)
        c60 = self._bump(self._orders1m, account, int(now_s // 60), 1)
        return c10, c60, c10 > self.order_limit_10s or c60 > self.order_limit_1m
