"""Ports: the typing.Protocol interfaces the core talks to. No logic here."""
from arbv2.ports.clock import Clock
from arbv2.ports.exchange import ExchangePort
from arbv2.ports.market_data import MarketCache, MarketDataPort
from arbv2.ports.metrics import CycleStage, Metrics
from arbv2.ports.rate_limit import RateLimiter
from arbv2.ports.stores import StateStore, TradeStore

__all__ = ["Clock", "CycleStage", "ExchangePort", "MarketCache", "MarketDataPort", "Metrics",
           "RateLimiter", "StateStore", "TradeStore"]
