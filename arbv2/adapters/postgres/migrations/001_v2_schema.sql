-- 001 v2_schema: the seed's db/migrations/v2_schema.sql, the PnL SSOT (single source of truth).
-- Schema-relative on purpose (no "public."): it runs in whatever schema search_path names first.
-- Times are TIMESTAMPTZ (UTC), money NUMERIC, ids TEXT, venue responses JSONB.

-- Orders: one row per client order id; the outbox (status 'pending' is written before the send).
CREATE TABLE IF NOT EXISTS v2_orders (
    client_order_id  TEXT PRIMARY KEY,
    round_trip_id    TEXT,
    venue            TEXT NOT NULL,
    symbol           TEXT NOT NULL,
    side             TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type       TEXT NOT NULL CHECK (order_type IN ('market', 'limit')),
    quantity         NUMERIC,
    quote_amount     NUMERIC,
    price            NUMERIC,
    reduce_only      BOOLEAN NOT NULL DEFAULT FALSE,
    time_in_force    TEXT,
    status           TEXT NOT NULL,
    venue_order_id   TEXT,
    filled_qty       NUMERIC NOT NULL DEFAULT 0,
    avg_price        NUMERIC,
    fee              NUMERIC NOT NULL DEFAULT 0,
    fee_asset        TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    raw              JSONB
);
-- The reconcile query reads only the few orders that are not final.
CREATE INDEX IF NOT EXISTS v2_orders_open_idx ON v2_orders (created_at)
    WHERE status NOT IN ('filled', 'canceled', 'rejected', 'expired');
CREATE INDEX IF NOT EXISTS v2_orders_round_trip_idx ON v2_orders (round_trip_id);
CREATE INDEX IF NOT EXISTS v2_orders_venue_order_idx ON v2_orders (venue, venue_order_id);

-- Every state change of an order after its intent, append-only (the outbox's history).
CREATE TABLE IF NOT EXISTS v2_order_events (
    client_order_id  TEXT NOT NULL REFERENCES v2_orders (client_order_id),
    at               TIMESTAMPTZ NOT NULL,
    status           TEXT NOT NULL,
    filled_qty       NUMERIC NOT NULL DEFAULT 0,
    venue_order_id   TEXT,
    raw              JSONB,
    -- a retried write must not log the same change twice
    UNIQUE (client_order_id, at, status, filled_qty)
);

-- Fills: idempotent on (venue, trade_id); ts is in the key so the table can be a hypertable.
CREATE TABLE IF NOT EXISTS v2_fills (
    venue            TEXT NOT NULL,
    trade_id         TEXT NOT NULL,
    ts               TIMESTAMPTZ NOT NULL,
    client_order_id  TEXT NOT NULL,
    symbol           TEXT NOT NULL,
    side             TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity         NUMERIC NOT NULL,
    price            NUMERIC NOT NULL,
    fee              NUMERIC NOT NULL,
    fee_asset        TEXT NOT NULL,
    PRIMARY KEY (venue, trade_id, ts)
);
CREATE INDEX IF NOT EXISTS v2_fills_order_idx ON v2_fills (client_order_id);

-- Trades: one hedged round trip. A round trip belongs to the time it opened (opened_at never
-- changes), which keeps range reads and the PnL rollups on the same clock.
CREATE TABLE IF NOT EXISTS v2_trades (
    round_trip_id      TEXT NOT NULL,
    opened_at          TIMESTAMPTZ NOT NULL,
    symbol_base        TEXT NOT NULL,
    direction          TEXT NOT NULL,
    state              TEXT NOT NULL,
    closed_at          TIMESTAMPTZ,
    entry_premium      DOUBLE PRECISION NOT NULL,   -- premium at decision
    exit_premium       DOUBLE PRECISION,
    expected_edge_bps  DOUBLE PRECISION NOT NULL,
    realized_edge_bps  DOUBLE PRECISION,
    pnl_krw            NUMERIC NOT NULL DEFAULT 0,
    pnl_usdt           NUMERIC NOT NULL DEFAULT 0,
    fees_krw           NUMERIC NOT NULL DEFAULT 0,
    residual_qty       NUMERIC NOT NULL DEFAULT 0,
    entry_latency_ms   DOUBLE PRECISION,            -- decision to the last entry leg's report
    entry_leg_ids      TEXT[] NOT NULL DEFAULT '{}',
    exit_leg_ids       TEXT[] NOT NULL DEFAULT '{}',
    legs               JSONB NOT NULL DEFAULT '{}', -- the legs as the engine saw them
    note               TEXT NOT NULL DEFAULT '',
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (round_trip_id, opened_at)
);

-- Premium time series per symbol, for the dashboards.
CREATE TABLE IF NOT EXISTS v2_premium (
    ts             TIMESTAMPTZ NOT NULL,
    symbol_base    TEXT NOT NULL,
    mid_premium    DOUBLE PRECISION NOT NULL,
    entry_premium  DOUBLE PRECISION NOT NULL,
    exit_premium   DOUBLE PRECISION NOT NULL
);
