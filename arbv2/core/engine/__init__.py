"""The engine: per-symbol state machine, the cycle, reconciliation and operator controls."""
from arbv2.core.engine.engine import ArbitrageEngine
from arbv2.core.engine.state import SymbolSlot, SymbolState, TransitionError

__all__ = ["ArbitrageEngine", "SymbolSlot", "SymbolState", "TransitionError"]
