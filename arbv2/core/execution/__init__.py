"""Execution: intents from opportunities, the two-leg protocol, rollback and reports."""
from arbv2.core.execution.executor import Executor
from arbv2.core.execution.report import ExecutionReport, LegPurpose, LegReport, Outcome
from arbv2.core.execution.rules import InstrumentRules

__all__ = ["ExecutionReport", "Executor", "InstrumentRules", "LegPurpose", "LegReport", "Outcome"]
