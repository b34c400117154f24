"""The adapter's SQL, kept apart from the control flow. Schema-relative (search_path decides)."""
from __future__ import annotations

from arbv2.adapters.postgres.rows import PNL_VIEWS

_FINAL = "('filled', 'canceled', 'rejected', 'expired')"

INSERT_INTENT = """
INSERT INTO v2_orders (client_order_id, round_trip_id, venue, symbol, side, order_type, quantity, quote_amount,
                       price, reduce_only, time_in_force, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
ON CONFLICT (client_order_id) DO NOTHING"""

# The first report of an order never seen as an intent inserts it; later reports update the
# state, but never move a final status back to a non-final one.
UPSERT_ORDER = f"""
INSERT INTO v2_orders AS o (client_order_id, venue, symbol, side, order_type, quantity, quote_amount, price,
                            status, venue_order_id, filled_qty, avg_price, fee, fee_asset, created_at, updated_at,
                            raw)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16)
ON CONFLICT (client_order_id) DO UPDATE SET
    status = EXCLUDED.status,
    venue_order_id = COALESCE(EXCLUDED.venue_order_id, o.venue_order_id),
    quantity = COALESCE(o.quantity, EXCLUDED.quantity),
    quote_amount = COALESCE(o.quote_amount, EXCLUDED.quote_amount),
    price = COALESCE(o.price, EXCLUDED.price),
    filled_qty = EXCLUDED.filled_qty,
    avg_price = EXCLUDED.avg_price,
    fee = EXCLUDED.fee,
    fee_asset = EXCLUDED.fee_asset,
    updated_at = GREATEST(o.updated_at, EXCLUDED.updated_at),
    raw = COALESCE(EXCLUDED.raw, o.raw)
WHERE NOT (o.status IN {_FINAL} AND EXCLUDED.status NOT IN {_FINAL})"""

INSERT_ORDER_EVENT = """
INSERT INTO v2_order_events (client_order_id, at, status, filled_qty, venue_order_id, raw)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING"""

# no conflict target: on plain PostgreSQL (venue, trade_id) is unique by itself, on a
# hypertable only together with ts
INSERT_FILL = """
INSERT INTO v2_fills (venue, trade_id, ts, client_order_id, symbol, side, quantity, price, fee, fee_asset)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT DO NOTHING"""

# an estimated fill ("<id>:est") stands in for trades not read yet: real trades of the same
# order delete it, and it is never inserted beside real trades
DELETE_ESTIMATED_FILLS = """
DELETE FROM v2_fills
WHERE trade_id LIKE '%:est'
  AND (venue, client_order_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))"""

INSERT_ESTIMATED_FILL = """
INSERT INTO v2_fills (venue, trade_id, ts, client_order_id, symbol, side, quantity, price, fee, fee_asset)
SELECT $1::text, $2::text, $3::timestamptz, $4::text, $5::text, $6::text, $7::numeric, $8::numeric, $9::numeric,
       $10::text
WHERE NOT EXISTS (SELECT 1 FROM v2_fills
                  WHERE venue = $1::text AND client_order_id = $4::text AND trade_id NOT LIKE '%:est')
ON CONFLICT DO NOTHING"""

UPSERT_ROUND_TRIP = """
INSERT INTO v2_trades AS t (round_trip_id, opened_at, symbol_base, direction, state, closed_at, entry_premium,
                            exit_premium, expected_edge_bps, realized_edge_bps, pnl_krw, pnl_usdt, fees_krw,
                            residual_qty, entry_latency_ms, entry_leg_ids, exit_leg_ids, legs, note, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, now())
ON CONFLICT (round_trip_id, opened_at) DO UPDATE SET
    symbol_base = EXCLUDED.symbol_base, direction = EXCLUDED.direction, state = EXCLUDED.state,
    closed_at = EXCLUDED.closed_at, entry_premium = EXCLUDED.entry_premium, exit_premium = EXCLUDED.exit_premium,
    expected_edge_bps = EXCLUDED.expected_edge_bps, realized_edge_bps = EXCLUDED.realized_edge_bps,
    pnl_krw = EXCLUDED.pnl_krw, pnl_usdt = EXCLUDED.pnl_usdt, fees_krw = EXCLUDED.fees_krw,
    residual_qty = EXCLUDED.residual_qty, entry_latency_ms = EXCLUDED.entry_latency_ms,
    entry_leg_ids = EXCLUDED.entry_leg_ids, exit_leg_ids = EXCLUDED.exit_leg_ids, legs = EXCLUDED.legs,
    note = EXCLUDED.note, updated_at = now()"""

OPEN_ORDERS = """
SELECT * FROM v2_orders WHERE status <> ALL($1::text[]) ORDER BY created_at, client_order_id"""

_TRADE_COLUMNS = """round_trip_id, opened_at, symbol_base, direction, state, closed_at, entry_premium, exit_premium,
       expected_edge_bps, realized_edge_bps, pnl_krw, pnl_usdt, fees_krw, residual_qty, legs, note"""
SELECT_TRADES = f"""
SELECT {_TRADE_COLUMNS} FROM v2_trades
WHERE opened_at >= $1 AND opened_at < $2 ORDER BY opened_at, round_trip_id"""
SELECT_TRADES_SYMBOL = f"""
SELECT {_TRADE_COLUMNS} FROM v2_trades
WHERE opened_at >= $1 AND opened_at < $2 AND symbol_base = $3 ORDER BY opened_at, round_trip_id"""

PREMIUM_COLUMNS = ("ts", "symbol_base", "mid_premium", "entry_premium", "exit_premium")
SELECT_PREMIUM = """
SELECT ts, symbol_base, mid_premium, entry_premium, exit_premium FROM v2_premium
WHERE ts >= $1 AND ts < $2 AND ($3::text IS NULL OR symbol_base = $3) ORDER BY ts, symbol_base"""


def pnl_query(by: str) -> str:
    """Return the rollup query for 'day', 'week' or 'month' (buckets starting in [$1, $2))."""
    try:
        view = PNL_VIEWS[by]
    except KeyError:
        raise ValueError(f"by: {by!r} is not one of day, week, month") from None
    return f"""
SELECT (bucket AT TIME ZONE 'UTC')::date AS bucket, symbol_base, round_trips, wins, pnl_krw, pnl_usdt, fees_krw
FROM {view} WHERE bucket >= $1 AND bucket < $2 ORDER BY bucket, symbol_base"""
