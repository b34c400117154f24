"""Funding for a running engine: the perp's funding rate (the detector's carry estimate) kept
current from GET /fapi/v1/premiumIndex, and the venue's FUNDING_FEE payments (GET /fapi/v1/income)
booked on the engine's portfolio, each payment once.

`FundingWatch` is the engine's `funding_rate` callable (it answers from the rates it last read) and
the body of one runtime-owned task: every `venues.binance_usdm.funding_refresh_s` it re-reads every
symbol's premiumIndex, calls `engine.refresh_funding()`, then (when payments are on: sim and live,
not paper) reads FUNDING_FEE income from its high-water mark and calls
`engine.on_funding(base, amount)` for each entry it has not booked yet.

High-water mark: (time, tranIds seen at that time). The venue stamps a funding payment with the
funding time, so all symbols' payments of one settlement share a timestamp; a page starting at the
mark (inclusive) is read and entries older than it, or at it and already seen, are skipped. The
mark starts at the venue time the runtime opened: payments made before that are not this run's.
A failed read is logged once until it succeeds again; a rate read that fails keeps the last value.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Callable, Iterable

from arbv2.adapters.binance.symbols import to_symbol
from arbv2.core.model import binance_symbol
from arbv2.ports.clock import Clock

log = logging.getLogger(__name__)
PAGE = 1000          # GET /fapi/v1/income's largest page
MAX_PAGES = 50       # per poll; the rest waits for the next poll (the mark has moved on)


class FundingWatch:
    """The engine's funding rate source and payment poller for the Binance perp leg."""

    def __init__(self, binance: Any, symbols: Iterable[str], *, start_ms: int, payments: bool) -> None:
        self._binance = binance
        self.bases = tuple(symbols)
        self.rates: dict[str, float] = {}
        self.payments = payments
        self.high_water_ms = start_ms
        self._at_high_water: set[int] = set()
        self._by_symbol = {to_symbol(binance_symbol(b)): b for b in self.bases}
        self._rate_down: set[str] = set()
        self._income_down = False
        self._unknown: set[str] = set()
        self.booked = 0

    def __call__(self, base: str) -> float:
        """Return the last funding rate read for `base` (0 until one was read)."""
        return self.rates.get(base, 0.0)

    async def refresh_rates(self) -> None:
        """Re-read lastFundingRate for every symbol; a failure keeps the last value (logged once)."""
        for base in self.bases:
            try:
                doc = await self._binance.premium_index(binance_symbol(base))
                rate = float(doc.get("lastFundingRate") or 0.0)
            except Exception as exc:    # an estimate input: keep what we had, say it once per outage
                if base not in self._rate_down:
                    self._rate_down.add(base)
                    kept = f"keeping {self.rates[base]:g}" if base in self.rates else "assuming 0"
                    log.warning("funding rate for %s unavailable (%s); %s", base, exc, kept)
                continue
            if base in self._rate_down:
                self._rate_down.discard(base)
                log.info("funding rate for %s available again: %g", base, rate)
            self.rates[base] = rate

    async def poll_payments(self, on_funding: Callable[[str, Decimal], None]) -> int:
        """Book every FUNDING_FEE entry past the high-water mark once; return how many were booked."""
        booked = 0
        for _ in range(MAX_PAGES):
            try:
                page = await self._binance.income("FUNDING_FEE", start_ms=self.high_water_ms, limit=PAGE)
            except Exception as exc:
                if not self._income_down:
                    self._income_down = True
                    log.warning("funding payments unavailable (%s); retrying every poll", exc)
                return booked
            if self._income_down:
                self._income_down = False
                log.info("funding payments readable again")
            new = 0
            for entry in sorted(page, key=lambda e: (e["time"], e["tranId"])):
                t, tran_id = entry["time"], entry["tranId"]
                if t < self.high_water_ms or (t == self.high_water_ms and tran_id in self._at_high_water):
                    continue
                base = self._by_symbol.get(entry.get("symbol", ""))
                if base is not None:
                    on_funding(base, entry["income"])
                    booked += 1
                elif entry.get("symbol") not in self._unknown:
                    self._unknown.add(entry.get("symbol"))
                    log.warning("funding payment on %s, which is not a configured symbol: not booked",
                                entry.get("symbol"))
                if t > self.high_water_ms:
                    self.high_water_ms, self._at_high_water = t, set()
                self._at_high_water.add(tran_id)
                new += 1
            if len(page) < PAGE or new == 0:
                break
        self.booked += booked
        return booked

    async def run(self, engine: Any, interval_s: float, clock: Clock) -> None:
        """Every `interval_s`: refresh the rates into the engine, then book new payments (until cancelled)."""
        while True:
            await clock.sleep(interval_s)
            try:
                await self.refresh_rates()
                engine.refresh_funding()
                if self.payments:
                    await self.poll_payments(engine.on_funding)
            except Exception:       # one bad round must not end funding for the rest of the run
                log.exception("funding refresh failed; trying again in %g s", interval_s)
