"""PostgreSQL adapters: the TradeStore (the PnL single source of truth) and its migrations."""
from arbv2.adapters.postgres.migrate import MigrationError, SchemaStatus
from arbv2.adapters.postgres.trade_store import PostgresTradeStore, StoreWriteError

__all__ = ["MigrationError", "PostgresTradeStore", "SchemaStatus", "StoreWriteError"]
