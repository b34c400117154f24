"""Simulator accounts: API keys, secrets and the ledgers the matching engine moves.

Default account (used when no accounts file is given):

- Upbit: access key ``sim-upbit-access``, secret ``sim-upbit-secret``; KRW 1,000,000,000,
  BTC 1, ETH 20, XRP 50,000, USDT 100,000.
- Binance USDⓈ-M: API key ``sim-binance-key``, secret ``sim-binance-secret``; USDT 1,000,000.

An accounts file is a YAML (or JSON) list of
``{venue: upbit|binance_usdm, api_key: ..., secret: ..., balances: {ASSET: amount}}``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml

UPBIT, BINANCE = "upbit", "binance_usdm"
VENUES = (UPBIT, BINANCE)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SimAccount:
    """One API key on one simulated venue, with its starting balances."""

    venue: str
    api_key: str
    secret: str = field(repr=False)
    balances: dict[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.venue not in VENUES:
            raise ValueError(f"account venue must be one of {VENUES}, got {self.venue!r}")
        if not self.api_key or not self.secret:
            raise ValueError("account needs a non-empty api_key and secret")


def default_accounts() -> list[SimAccount]:
    """Return the documented default accounts (see the module docstring)."""
    return [
        SimAccount(UPBIT, "sim-upbit-access", "sim-upbit-secret",
                   {"KRW": Decimal("1000000000"), "BTC": Decimal("1"), "ETH": Decimal("20"),
                    "XRP": Decimal("50000"), "USDT": Decimal("100000")}),
        SimAccount(BINANCE, "sim-binance-key", "sim-binance-secret", {"USDT": Decimal("1000000")}),
    ]


def load_accounts(path: str | Path) -> list[SimAccount]:
    """Load an accounts file; raise ValueError with the offending entry on bad input."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path}: expected a non-empty list of accounts")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"{path}: entry {i} is not a mapping")
        unknown = set(item) - {"venue", "api_key", "secret", "balances"}
        if unknown:
            raise ValueError(f"{path}: entry {i} has unknown keys {sorted(unknown)}")
        bal = {str(k).upper(): Decimal(str(v)) for k, v in (item.get("balances") or {}).items()}
        out.append(SimAccount(str(item.get("venue", "")), str(item.get("api_key", "")),
                              str(item.get("secret", "")), bal))
    return out


@dataclass(slots=True)
class UpbitWallet:
    """Free and locked amounts per currency plus the average buy price Upbit reports."""

    free: dict[str, Decimal]
    locked: dict[str, Decimal] = field(default_factory=dict)
    avg_buy: dict[str, Decimal] = field(default_factory=dict)

    def available(self, cur: str) -> Decimal:
        return self.free.get(cur, ZERO)

    def lock(self, cur: str, amount: Decimal) -> None:
        self.free[cur] = self.free.get(cur, ZERO) - amount
        self.locked[cur] = self.locked.get(cur, ZERO) + amount

    def unlock(self, cur: str, amount: Decimal) -> None:
        self.locked[cur] = self.locked.get(cur, ZERO) - amount
        self.free[cur] = self.free.get(cur, ZERO) + amount

    def spend_locked(self, cur: str, amount: Decimal) -> None:
        self.locked[cur] = self.locked.get(cur, ZERO) - amount

    def credit(self, cur: str, amount: Decimal) -> None:
        self.free[cur] = self.free.get(cur, ZERO) + amount

    def buy_cost(self, cur: str, qty: Decimal, price: Decimal) -> None:
        """Update the average buy price after buying `qty` at `price` (before crediting)."""
        held = self.free.get(cur, ZERO) + self.locked.get(cur, ZERO)
        old = self.avg_buy.get(cur, ZERO)
        total = held + qty
        if total > 0:
            self.avg_buy[cur] = ((old * held + price * qty) / total).quantize(Decimal("0.00000001"))

    def totals(self) -> dict[str, Decimal]:
        keys = set(self.free) | set(self.locked)
        return {k: self.free.get(k, ZERO) + self.locked.get(k, ZERO) for k in sorted(keys)}


@dataclass(slots=True)
class Position:
    """One-way-mode position: signed amount and average entry price."""

    amount: Decimal = ZERO
    entry_price: Decimal = ZERO


@dataclass(slots=True)
class FuturesWallet:
    """USDⓈ-M wallet balance, positions, leverage and margin type per symbol."""

    balances: dict[str, Decimal]
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    margin_type: dict[str, str] = field(default_factory=dict)

    def position(self, symbol: str) -> Position:
        return self.positions.setdefault(symbol, Position())

    def apply_fill(self, symbol: str, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Move the position by `signed_qty` at `price`; return the realized PnL in USDT."""
        pos = self.position(symbol)
        realized = ZERO
        if pos.amount == 0 or (pos.amount > 0) == (signed_qty > 0):
            total = pos.amount + signed_qty
            pos.entry_price = (pos.entry_price * abs(pos.amount) + price * abs(signed_qty)) / abs(total)
            pos.amount = total
            return realized
        closing = min(abs(signed_qty), abs(pos.amount))
        direction = Decimal(1) if pos.amount > 0 else Decimal(-1)
        realized = (price - pos.entry_price) * closing * direction
        remainder = abs(signed_qty) - closing
        pos.amount += signed_qty
        if pos.amount == 0:
            pos.entry_price = ZERO
        elif remainder > 0:      # flipped through zero: the rest opens at this price
            pos.entry_price = price
        self.balances["USDT"] = self.balances.get("USDT", ZERO) + realized
        return realized
