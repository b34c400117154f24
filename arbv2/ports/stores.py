"""TradeStore (durable orders, fills, round trips, premium series) and StateStore (engine state)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol, Sequence

from arbv2.core.model import Fill, Order, OrderIntent, RoundTrip


class TradeStore(Protocol):
    async def record_intent(self, intent: OrderIntent, round_trip_id: str, ts_ns: int) -> None:
        """Make an order durable (status pending) before it is sent: the outbox."""

    async def record_order(self, order: Order) -> None:
        """Record a state change of an order known by client order id."""

    async def record_fill(self, fill: Fill) -> None:
        """Record one fill (idempotent on venue+trade id)."""

    async def record_round_trip(self, rt: RoundTrip) -> None:
        """Insert or update one hedged round trip."""

    async def record_premium(self, points: Sequence[tuple[int, str, float, float, float]]) -> None:
        """Append premium points (ts_ns, base, mid premium, entry premium, exit premium)."""

    async def orders_by_client_id(self, client_order_ids: Sequence[str]) -> dict[str, Order]:
        """Return the stored state of each known client order id (reconciliation, audits)."""

    async def flush(self) -> None:
        """Write buffered points (the premium series) now."""

    async def open_orders(self) -> list[Order]:
        """Return orders not yet in a final state (the outbox to reconcile on restart)."""

    async def trades(self, start_ns: int, end_ns: int, symbol_base: str | None = None) -> list[RoundTrip]:
        """Return round trips opened in [start_ns, end_ns)."""

    async def pnl(self, by: str, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        """Return PnL rollups by 'day', 'week' or 'month'."""

    async def close(self) -> None:
        """Flush pending writes and release connections."""


class StateStore(Protocol):
    async def get(self, key: str) -> dict[str, Any] | None:
        """Return one state document (e.g. 'engine', 'symbol:BTC', 'thresholds')."""

    async def put(self, key: str, value: dict[str, Any]) -> None:
        """Replace one state document atomically."""

    async def add_daily_loss(self, day: str, amount_krw: Decimal) -> Decimal:
        """Add to a day's loss counter atomically; return the new total."""

    async def close(self) -> None:
        """Release connections."""
