"""Venue rules for a replay, from what the recording's header kept.

A replay cannot ask Binance for its filters as they were; the recorder stores the exchangeInfo
entries of the recorded symbols (`binance_filters`) in each segment header. A recording made
without them (an older or offline one) replays with the simulator's published filters for
the symbol. Upbit rules are the static KRW tick table and the 5,000 KRW minimum.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from arbv2.adapters.binance.rules import BinanceSymbolRules
from arbv2.adapters.binance.symbols import to_symbol
from arbv2.adapters.simulator.specs import spec_for
from arbv2.adapters.upbit import rules as urules
from arbv2.adapters.upbit.symbols import to_market
from arbv2.core.execution.rules import InstrumentRules
from arbv2.core.model import Venue, binance_symbol, upbit_symbol

_UPBIT_TICKS = tuple(sorted((bound, tick) for bound, tick in urules.KRW_TICKS))


def _sim_filters(code: str, base: str) -> dict[str, Any]:
    s = spec_for(base)
    return {"symbol": code, "baseAsset": base, "quoteAsset": "USDT", "filters": [
        {"filterType": "PRICE_FILTER", "tickSize": str(s.tick_size), "minPrice": "0", "maxPrice": "0"},
        {"filterType": "LOT_SIZE", "minQty": str(s.min_qty), "maxQty": str(s.max_qty), "stepSize": str(s.step_size)},
        {"filterType": "MARKET_LOT_SIZE", "minQty": str(s.min_qty), "maxQty": str(s.market_max_qty),
         "stepSize": str(s.step_size)},
        {"filterType": "MIN_NOTIONAL", "notional": str(s.min_notional)}]}


def binance_rules(meta: Mapping[str, Any], bases: tuple[str, ...]) -> dict[str, BinanceSymbolRules]:
    """Return BinanceSymbolRules by unified symbol, from the header or the simulator's filters."""
    recorded = meta.get("binance_filters") or {}
    out = {}
    for base in bases:
        code = to_symbol(binance_symbol(base))
        out[binance_symbol(base)] = BinanceSymbolRules.from_exchange_info(recorded.get(code) or _sim_filters(code, base))
    return out


def upbit_rules(bases: tuple[str, ...]) -> dict[str, urules.UpbitMarketRules]:
    return {upbit_symbol(b): urules.UpbitMarketRules(market=to_market(upbit_symbol(b))) for b in bases}


def instrument_rules(binance: Mapping[str, BinanceSymbolRules],
                     bases: tuple[str, ...]) -> dict[tuple[Venue, str], InstrumentRules]:
    """Return the executor's InstrumentRules for both venues of every base."""
    out: dict[tuple[Venue, str], InstrumentRules] = {}
    for base in bases:
        b = binance[binance_symbol(base)]
        out[(Venue.BINANCE_USDM, binance_symbol(base))] = InstrumentRules(
            step_size=b.market_lot.step, min_qty=b.market_lot.min_qty, min_notional=b.min_notional,
            tick_size=b.tick_size)
        out[(Venue.UPBIT, upbit_symbol(base))] = InstrumentRules(
            step_size=urules.VOLUME_STEP, min_qty=Decimal(0), min_notional=urules.DEFAULT_MIN_TOTAL_KRW,
            tick_size=_UPBIT_TICKS[0][1], tick_table=_UPBIT_TICKS)
    return out
