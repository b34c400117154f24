"""MemoryStateStore: the embedded StateStore, with RedisStateStore's semantics.

Documents go through the same JSON encoding as in Redis (Decimals become strings, tuples lists),
so code that works here works against Redis. State lasts as long as the object.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"state values must be JSON-able, got {type(value).__name__}")


def encode_state(value: dict[str, Any]) -> bytes:
    """Return a state document as JSON (shared by the Redis adapter, so both encode alike)."""
    if not isinstance(value, dict):
        raise TypeError(f"state documents are dicts, got {type(value).__name__}")
    return orjson.dumps(value, default=_default)


class MemoryStateStore:
    """StateStore in process memory (engine mode, pause, kill switch, per-symbol state, daily loss)."""

    def __init__(self) -> None:
        self._docs: dict[str, bytes] = {}
        self._losses: dict[str, Decimal] = {}

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = self._docs.get(key)
        return None if raw is None else orjson.loads(raw)

    async def put(self, key: str, value: dict[str, Any]) -> None:
        self._docs[key] = encode_state(value)

    async def update(self, key: str, change: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """Replace a document with change(current) atomically; return the new document."""
        new = change(await self.get(key))
        await self.put(key, new)
        return orjson.loads(self._docs[key])

    async def delete(self, key: str) -> None:
        self._docs.pop(key, None)

    async def add_daily_loss(self, day: str, amount_krw: Decimal) -> Decimal:
        if not isinstance(amount_krw, Decimal) or not amount_krw.is_finite():
            raise ValueError(f"amount_krw: must be a finite Decimal, got {amount_krw!r}")
        total = self._losses.get(day, Decimal(0)) + amount_krw
        self._losses[day] = total
        return total

    async def daily_loss(self, day: str) -> Decimal:
        """Return a day's loss counter (0 when nothing was added)."""
        return self._losses.get(day, Decimal(0))

    async def close(self) -> None:
        """Nothing to release."""
