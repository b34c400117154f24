"""Strategy: the opportunity detector and the values it produces."""
from arbv2.core.strategy.detector import Holding, OpportunityDetector
from arbv2.core.strategy.types import Action, Opportunity

__all__ = ["Action", "Holding", "Opportunity", "OpportunityDetector"]
