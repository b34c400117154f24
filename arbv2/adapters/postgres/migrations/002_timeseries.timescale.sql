-- 002 timeseries, TimescaleDB variant (chosen when the timescaledb extension is installed in
-- the database): hypertables on the time columns and continuous aggregates for the PnL
-- rollups, with refresh policies. Same relation names and columns as 002_timeseries.sql.
-- The runner puts the extension's schema on search_path for this transaction.
-- Hypertables need the time column in every unique key: v2_trades is unique on
-- (round_trip_id, opened_at) and v2_fills on (venue, trade_id, ts), as 001 declares.
-- v2_orders stays a plain table: it is mutable state keyed by client order id.

SELECT create_hypertable('v2_trades', 'opened_at', chunk_time_interval => INTERVAL '30 days',
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('v2_fills', 'ts', chunk_time_interval => INTERVAL '7 days',
                         if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('v2_premium', 'ts', chunk_time_interval => INTERVAL '1 day',
                         if_not_exists => TRUE, migrate_data => TRUE);

CREATE INDEX IF NOT EXISTS v2_trades_id_idx ON v2_trades (round_trip_id);
CREATE INDEX IF NOT EXISTS v2_trades_symbol_opened_idx ON v2_trades (symbol_base, opened_at DESC);
CREATE INDEX IF NOT EXISTS v2_premium_symbol_ts_idx ON v2_premium (symbol_base, ts DESC);

-- WITH NO DATA lets these run inside the migration's transaction; materialized_only = false
-- (real-time aggregation) makes reads include rows the policy has not materialized yet.
CREATE MATERIALIZED VIEW IF NOT EXISTS v2_pnl_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 day', opened_at) AS bucket,
       symbol_base,
       count(*) AS round_trips,
       sum(CASE WHEN pnl_krw > 0 THEN 1 ELSE 0 END) AS wins,
       sum(pnl_krw) AS pnl_krw,
       sum(pnl_usdt) AS pnl_usdt,
       sum(fees_krw) AS fees_krw
FROM v2_trades
GROUP BY 1, 2
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS v2_pnl_weekly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 week', opened_at) AS bucket,
       symbol_base,
       count(*) AS round_trips,
       sum(CASE WHEN pnl_krw > 0 THEN 1 ELSE 0 END) AS wins,
       sum(pnl_krw) AS pnl_krw,
       sum(pnl_usdt) AS pnl_usdt,
       sum(fees_krw) AS fees_krw
FROM v2_trades
GROUP BY 1, 2
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS v2_pnl_monthly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 month', opened_at) AS bucket,
       symbol_base,
       count(*) AS round_trips,
       sum(CASE WHEN pnl_krw > 0 THEN 1 ELSE 0 END) AS wins,
       sum(pnl_krw) AS pnl_krw,
       sum(pnl_usdt) AS pnl_usdt,
       sum(fees_krw) AS fees_krw
FROM v2_trades
GROUP BY 1, 2
WITH NO DATA;

SELECT add_continuous_aggregate_policy('v2_pnl_daily', start_offset => INTERVAL '3 days',
       end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('v2_pnl_weekly', start_offset => INTERVAL '3 weeks',
       end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', if_not_exists => TRUE);
SELECT add_continuous_aggregate_policy('v2_pnl_monthly', start_offset => INTERVAL '3 months',
       end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', if_not_exists => TRUE);
