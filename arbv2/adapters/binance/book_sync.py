"""Binance USDⓈ-M local order book sync, exactly as the venue documents it, per symbol, without I/O.

    1. buffer diffs while unsynced          4. the first applied event has U <= lastUpdateId <= u
    2. fetch a REST snapshot (the caller)   5. every later event has pu == the previous event's u
    3. drop buffered events with u < lastUpdateId
Any break (pu mismatch, a snapshot older than the oldest buffered event) unsyncs this symbol only
and asks the caller for a new snapshot; nothing is applied past a gap.
"""
from __future__ import annotations

from collections import deque

import numpy as np

APPLIED, BUFFERED, DROPPED, GAP, SYNCED, STALE = "applied", "buffered", "dropped", "gap", "synced", "stale"

_Event = tuple[int, int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class BookSync:
    """Sequence state of one symbol's book (`book` is the `_fast` L2Book it keeps in sync).

    Returns of `on_diff`/`on_snapshot` tell the caller what happened; GAP and STALE mean "fetch
    a snapshot" (the buffer keeps collecting meanwhile).
    """

    __slots__ = ("book", "synced", "last_u", "snapshot_id", "awaiting_first", "buffer", "gaps")

    def __init__(self, book, max_buffer: int = 2000) -> None:
        self.book = book
        self.synced = False
        self.last_u = -1
        self.snapshot_id = -1
        self.awaiting_first = False
        self.buffer: deque[_Event] = deque(maxlen=max_buffer)
        self.gaps = 0

    def reset(self) -> None:
        """Forget sync (reconnect): clear the buffer; the next diffs are buffered for a new snapshot."""
        self.synced = False
        self.awaiting_first = False
        self.buffer.clear()

    def on_diff(self, U: int, u: int, pu: int, bid_px, bid_qty, ask_px, ask_qty) -> str:
        """Apply or buffer one depth diff; return APPLIED, BUFFERED, DROPPED or GAP.

        The arrays may be views into a reused decoder buffer: they are copied when buffered.
        """
        if not self.synced:
            self.buffer.append((U, u, pu, bid_px.copy(), bid_qty.copy(), ask_px.copy(), ask_qty.copy()))
            return BUFFERED
        if self.awaiting_first:
            if u < self.snapshot_id:
                return DROPPED
            if U > self.snapshot_id:
                return self._gap(U, u, pu, bid_px, bid_qty, ask_px, ask_qty)
            self.awaiting_first = False
        elif pu != self.last_u:
            return self._gap(U, u, pu, bid_px, bid_qty, ask_px, ask_qty)
        book = self.book
        if len(bid_px):
            book.apply_levels(0, bid_px, bid_qty)
        if len(ask_px):
            book.apply_levels(1, ask_px, ask_qty)
        book.last_update_id = u
        self.last_u = u
        return APPLIED

    def _gap(self, U, u, pu, bid_px, bid_qty, ask_px, ask_qty) -> str:
        self.gaps += 1
        self.synced = False
        self.awaiting_first = False
        self.buffer.clear()
        self.buffer.append((U, u, pu, bid_px.copy(), bid_qty.copy(), ask_px.copy(), ask_qty.copy()))
        return GAP

    def on_snapshot(self, last_update_id: int, bid_px, bid_qty, ask_px, ask_qty) -> str:
        """Load a REST snapshot and replay the buffer; return SYNCED, STALE or GAP.

        STALE: the snapshot predates the oldest buffered event still needed, so a newer snapshot
        is required (the buffer is kept). GAP: the buffered events themselves are discontinuous.
        """
        events = [e for e in self.buffer if e[1] >= last_update_id]
        if events and events[0][0] > last_update_id:
            self.synced = False
            return STALE
        self.buffer.clear()
        self.book.apply_snapshot(bid_px, bid_qty, ask_px, ask_qty)
        self.book.last_update_id = last_update_id
        self.snapshot_id = last_update_id
        self.last_u = last_update_id
        self.synced = True
        self.awaiting_first = True
        for i, e in enumerate(events):
            if self.on_diff(*e) == GAP:
                self.buffer.extend(events[i + 1:])   # still useful against the next snapshot
                return GAP
        return SYNCED
