"""Risk: the guard every order passes, its verdicts and refusal reasons."""
from arbv2.core.risk.guard import Exposure, RiskGuard, RiskReason, RiskVerdict

__all__ = ["Exposure", "RiskGuard", "RiskReason", "RiskVerdict"]
