-- 002 timeseries, plain PostgreSQL (no TimescaleDB): time indexes, and views with the same
-- names and columns as the continuous aggregates of 002_timeseries.timescale.sql.
-- Plain views are always current, so a rollup read right after a write sees it.

CREATE UNIQUE INDEX IF NOT EXISTS v2_trades_id_uniq ON v2_trades (round_trip_id);
CREATE UNIQUE INDEX IF NOT EXISTS v2_fills_trade_uniq ON v2_fills (venue, trade_id);
CREATE INDEX IF NOT EXISTS v2_trades_opened_idx ON v2_trades (opened_at DESC);
CREATE INDEX IF NOT EXISTS v2_trades_symbol_opened_idx ON v2_trades (symbol_base, opened_at DESC);
CREATE INDEX IF NOT EXISTS v2_fills_ts_idx ON v2_fills (ts DESC);
-- append-only series: a BRIN index on time costs almost nothing per row (COPY speed)
CREATE INDEX IF NOT EXISTS v2_premium_ts_brin ON v2_premium USING brin (ts);
CREATE INDEX IF NOT EXISTS v2_premium_symbol_ts_idx ON v2_premium (symbol_base, ts DESC);

CREATE OR REPLACE VIEW v2_pnl_daily AS
SELECT date_trunc('day', opened_at, 'UTC') AS bucket,
       symbol_base,
       count(*) AS round_trips,
       sum(CASE WHEN pnl_krw > 0 THEN 1 ELSE 0 END) AS wins,
       sum(pnl_krw) AS pnl_krw,
       sum(pnl_usdt) AS pnl_usdt,
       sum(fees_krw) AS fees_krw
FROM v2_trades
GROUP BY 1, 2;

CREATE OR REPLACE VIEW v2_pnl_weekly AS
SELECT date_trunc('week', opened_at, 'UTC') AS bucket,
       symbol_base,
       count(*) AS round_trips,
       sum(CASE WHEN pnl_krw > 0 THEN 1 ELSE 0 END) AS wins,
       sum(pnl_krw) AS pnl_krw,
       sum(pnl_usdt) AS pnl_usdt,
       sum(fees_krw) AS fees_krw
FROM v2_trades
GROUP BY 1, 2;

CREATE OR REPLACE VIEW v2_pnl_monthly AS
SELECT date_trunc('month', opened_at, 'UTC') AS bucket,
       symbol_base,
       count(*) AS round_trips,
       sum(CASE WHEN pnl_krw > 0 THEN 1 ELSE 0 END) AS wins,
       sum(pnl_krw) AS pnl_krw,
       sum(pnl_usdt) AS pnl_usdt,
       sum(fees_krw) AS fees_krw
FROM v2_trades
GROUP BY 1, 2;
