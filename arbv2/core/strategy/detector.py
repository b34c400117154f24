"""OpportunityDetector: one `_fast` spread call per book update → an Opportunity or None.

Threshold model (docs/engine.md):

- anchor = EMA of the mid premium, half-life `strategy.anchor_halflife_s`, advanced by event
  time (`now_ns`), never the wall clock; no entries until `strategy.warmup_s` of history.
- Flat: enter LONG_UPBIT when ``edge_long_bps >= entry_edge_bps``; SHORT_UPBIT symmetric, only
  with `allow_reverse`. Sized by `order_notional_krw` (Upbit spends KRW).
- Hedged: exit when the premium moved back by at least `exit_edge_bps` net of the round trip's
  costs: LONG_UPBIT ``(exit_premium_now - premium_at_open)*1e4 - break_even >= exit_edge_bps``,
  SHORT_UPBIT ``(premium_at_open - entry_premium_now)*1e4 - break_even >= exit_edge_bps``.
  Sized by the held base quantity.
- Funding carry: ``funding_bps = rate*1e4 * horizon_h/8``, received by the perp short (lowers
  LONG_UPBIT's break-even) and paid by the perp long (raises SHORT_UPBIT's). The kernel applies
  one break-even to both edges, so the short edge is corrected by ``-2*funding_bps`` here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from arbv2._fast import spread
from arbv2.core import config as cfgmod
from arbv2.core.config import Config
from arbv2.core.fees import FeeModel
from arbv2.core.model import Direction, Venue
from arbv2.core.strategy.types import Action, Opportunity

_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Holding:
    """The open hedged position of one symbol, as the detector needs it to price an exit."""

    direction: Direction
    qty_base: float
    open_premium: float


class _Signal:
    """Mutable per-symbol detector state (anchor, thresholds, costs, last quote)."""

    __slots__ = ("anchor", "anchor_ns", "first_ns", "costs", "funding_bps", "notional_krw",
                 "entry_edge_bps", "exit_edge_bps", "last_quote", "last_ns")

    def __init__(self) -> None:
        self.anchor = math.nan
        self.anchor_ns = 0
        self.first_ns = 0
        self.costs: spread.CostParams | None = None
        self.funding_bps = 0.0
        self.notional_krw = 0.0
        self.entry_edge_bps = 0.0
        self.exit_edge_bps = 0.0
        self.last_quote = None
        self.last_ns = 0


class OpportunityDetector:
    """Turn book updates into Opportunities with one spread kernel call each.

    Parameters
    ----------
    cfg
        The frozen config; strategy, sizing and per-symbol overrides are read from it.
    fees
        The fee model (taker rates on both venues make the break-even).
    kernel
        The spread module (default: `arbv2._fast.spread`); tests pass the reference twin to
        compare both on the same books.
    """

    def __init__(self, cfg: Config, fees: FeeModel, kernel=None) -> None:
        self._k = kernel or spread
        self._fees = fees
        self._signals: dict[str, _Signal] = {}
        self._halflife_ns = 0.0
        self._warmup_ns = 0
        self._allow_reverse = False
        self.reconfigure(cfg)

    def reconfigure(self, cfg: Config) -> None:
        """Apply new thresholds/sizing/costs (admin changes); anchors and history are kept."""
        st = cfg.strategy
        self._cfg = cfg
        self._halflife_ns = st.anchor_halflife_s * _NS
        self._warmup_ns = int(st.warmup_s * _NS)
        self._allow_reverse = st.allow_reverse
        for base in cfg.symbols:
            sig = self._signals.get(base) or _Signal()
            sig.entry_edge_bps = cfgmod.entry_edge_bps(cfg, base)
            sig.exit_edge_bps = cfgmod.exit_edge_bps(cfg, base)
            sig.notional_krw = cfgmod.order_notional_krw(cfg, base)
            self._signals[base] = sig
            self._rebuild_costs(base, sig)

    def _rebuild_costs(self, base: str, sig: _Signal) -> None:
        st = self._cfg.strategy
        sig.costs = self._k.CostParams(
            self._fees.bps(Venue.UPBIT, base), self._fees.bps(Venue.BINANCE_USDM, base),
            slippage_bps=st.slippage_bps, funding_bps=sig.funding_bps, safety_bps=st.safety_margin_bps)

    def set_funding_rate(self, base: str, rate: float) -> None:
        """Set the perp's last funding rate (fraction per 8 h) used for the carry estimate."""
        if not math.isfinite(rate):
            raise ValueError(f"rate: must be finite, got {rate!r}")
        sig = self._signal(base)
        sig.funding_bps = rate * 1e4 * (self._cfg.strategy.funding_horizon_h / 8.0)
        self._rebuild_costs(base, sig)

    def _signal(self, base: str) -> _Signal:
        sig = self._signals.get(base)
        if sig is None:
            raise KeyError(f"base: {base!r} is not a configured symbol")
        return sig

    def anchor(self, base: str) -> float:
        """Return the current premium anchor of `base` (NaN before the first quote)."""
        return self._signal(base).anchor

    def last_quote(self, base: str):
        """Return the last SpreadQuote computed for `base` (None before the first)."""
        return self._signal(base).last_quote

    def break_even_bps(self, base: str, direction: Direction = Direction.LONG_UPBIT) -> float:
        """Return the break-even of a round trip in `direction`, funding included."""
        sig = self._signal(base)
        be = sig.costs.break_even_bps
        return be if direction is Direction.LONG_UPBIT else be + 2.0 * sig.funding_bps

    def thresholds(self, base: str) -> dict[str, float]:
        """Return the thresholds and size in force for `base`."""
        sig = self._signal(base)
        return {"entry_edge_bps": sig.entry_edge_bps, "exit_edge_bps": sig.exit_edge_bps,
                "order_notional_krw": sig.notional_krw, "funding_bps": sig.funding_bps,
                "break_even_bps": sig.costs.break_even_bps}

    def evaluate(self, base: str, upbit_book, binance_book, usdt_krw: float, now_ns: int,
                 holding: Holding | None = None, *, entries: bool = True) -> Opportunity | None:
        """Return the Opportunity the books offer now for `base`, or None.

        Parameters
        ----------
        base
            Base asset ("BTC").
        upbit_book, binance_book
            The `_fast` L2Books of both venues.
        usdt_krw
            KRW per USDT.
        now_ns
            Event time; advances the anchor and the warm-up.
        holding
            The open round trip, if any: then only an exit is considered.
        entries
            False to only advance the anchor (e.g. while entries are paused).
        """
        sig = self._signals[base]
        anchor = sig.anchor
        if holding is None:
            q = self._k.quote_spread(upbit_book, binance_book, usdt_krw, sig.notional_krw, True,
                                    sig.costs, anchor if anchor == anchor else 0.0)
        else:
            q = self._k.quote_spread(upbit_book, binance_book, usdt_krw, holding.qty_base, False,
                                    sig.costs, anchor if anchor == anchor else 0.0)
        sig.last_quote = q
        sig.last_ns = now_ns
        mid = q.mid_premium
        if mid == mid:                          # advance the EMA anchor by event time
            if anchor != anchor:
                sig.anchor = mid
                sig.anchor_ns = sig.first_ns = now_ns
            else:
                dt = now_ns - sig.anchor_ns
                if dt > 0:
                    hl = self._halflife_ns
                    w = 0.5 ** (dt / hl) if hl > 0.0 else 0.0
                    sig.anchor = w * anchor + (1.0 - w) * mid
                    sig.anchor_ns = now_ns
        if not q.complete:
            return None
        if holding is not None:
            return self._exit(base, sig, q, holding, upbit_book, binance_book, usdt_krw, now_ns)
        if not entries or anchor != anchor or now_ns - sig.first_ns < self._warmup_ns:
            return None
        if q.edge_long_bps >= sig.entry_edge_bps:
            return self._make(base, Action.ENTER, Direction.LONG_UPBIT, q, anchor, q.edge_long_bps,
                              q.break_even_bps, upbit_book, binance_book, usdt_krw, now_ns, "edge")
        if self._allow_reverse:
            edge = q.edge_short_bps - 2.0 * sig.funding_bps
            if edge >= sig.entry_edge_bps:
                return self._make(base, Action.ENTER, Direction.SHORT_UPBIT, q, anchor, edge,
                                  q.break_even_bps + 2.0 * sig.funding_bps, upbit_book,
                                  binance_book, usdt_krw, now_ns, "edge")
        return None

    def exit_now(self, base: str, upbit_book, binance_book, usdt_krw: float, now_ns: int,
                 holding: Holding, reason: str) -> Opportunity | None:
        """Return an EXIT for `holding` whatever its edge (kill/flatten), or None if the books
        cannot fill it."""
        sig = self._signals[base]
        anchor = sig.anchor if sig.anchor == sig.anchor else 0.0
        q = self._k.quote_spread(upbit_book, binance_book, usdt_krw, holding.qty_base, False,
                                sig.costs, anchor)
        if not q.complete:
            return None
        edge, be = self._exit_edge(sig, q, holding)
        return self._make(base, Action.EXIT, holding.direction, q, holding.open_premium, edge, be,
                          upbit_book, binance_book, usdt_krw, now_ns, reason)

    @staticmethod
    def _exit_edge(sig: _Signal, q, holding: Holding) -> tuple[float, float]:
        if holding.direction is Direction.LONG_UPBIT:
            be = q.break_even_bps
            return (q.exit_premium - holding.open_premium) * 1e4 - be, be
        be = q.break_even_bps + 2.0 * sig.funding_bps
        return (holding.open_premium - q.entry_premium) * 1e4 - be, be

    def _exit(self, base, sig, q, holding, upbit_book, binance_book, usdt_krw, now_ns):
        edge, be = self._exit_edge(sig, q, holding)
        if edge >= sig.exit_edge_bps:
            return self._make(base, Action.EXIT, holding.direction, q, holding.open_premium, edge,
                              be, upbit_book, binance_book, usdt_krw, now_ns, "edge")
        return None

    @staticmethod
    def _make(base, action, direction, q, ref, edge, be, upbit_book, binance_book, usdt_krw,
              now_ns, reason) -> Opportunity:
        upbit_buys = (direction is Direction.LONG_UPBIT) == (action is Action.ENTER)
        if upbit_buys:
            uv, bv, uw, bw = q.upbit_buy_vwap, q.binance_sell_vwap, q.upbit_buy_worst, q.binance_sell_worst
        else:
            uv, bv, uw, bw = q.upbit_sell_vwap, q.binance_buy_vwap, q.upbit_sell_worst, q.binance_buy_worst
        notional = q.qty_base * uv
        return Opportunity(
            base=base, action=action, direction=direction, qty_base=q.qty_base,
            notional_krw=notional, entry_premium=q.entry_premium, exit_premium=q.exit_premium,
            mid_premium=q.mid_premium, ref_premium=ref, break_even_bps=be, edge_bps=edge,
            expected_pnl_krw=edge * 1e-4 * notional, upbit_vwap=uv, binance_vwap=bv,
            upbit_worst=uw, binance_worst=bw, usdt_krw=usdt_krw,
            upbit_age_ns=now_ns - upbit_book.ts_event_ns,
            binance_age_ns=now_ns - binance_book.ts_event_ns, ts_ns=now_ns, reason=reason)
