"""ExchangePort: one trading venue, in domain words (intents in, orders and fills out)."""
from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Protocol

from arbv2.core.model import Order, OrderIntent, Position, Venue


class ExchangePort(Protocol):
    venue: Venue

    def translate_intent(self, intent: OrderIntent) -> dict:
        """Return the exact request parameters the intent becomes on the wire (no auth fields)."""

    async def load_markets(self, symbols: Iterable[str] | None = None) -> dict:
        """Load (and cache) the venue's trading rules for the configured symbols."""

    async def submit(self, intent: OrderIntent) -> Order:
        """Send the order once; return the venue's acknowledgement (with fills when known)."""

    async def cancel(self, symbol: str, client_order_id: str) -> Order:
        """Cancel an order by client order id; return its state after the cancel."""

    async def order_status(self, symbol: str, client_order_id: str) -> Order:
        """Look an order up by client order id (raises UnknownOrder when the venue has none)."""

    async def balances(self) -> dict[str, Decimal]:
        """Return free balance per asset."""

    async def positions(self) -> list[Position]:
        """Return open positions (derivatives venues; spot holdings as positions too)."""

    async def close(self) -> None:
        """Release sessions and sockets."""
