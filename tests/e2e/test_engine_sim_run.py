"""Issue #7 acceptance: a 60 s engine session against the embedded simulator trades, and its ledger
reconciles with the simulator's own record of every fill.

The session is the real one (`run_session(cfg, "engine", 60)`: open_runtime, mode sim, the signed
Upbit and Binance adapters over HTTP to the embedded simulator, memory stores); the test only
keeps a handle on the Runtime to read `rt.sim.truth`, `rt.trade_store` and `rt.engine.portfolio`
afterwards. Thresholds are lowered (entry edge 4 bps, exit edge 0, warm-up 2 s) so seed 7 trades
within seconds; the fees stay the venues' real rates.

What the venues report, and so what the ledger can hold:
- Upbit: every trade (price, volume) and the order's paid fee: the store must hold exactly the
  simulator's (qty, price) pairs and the same total fee per order.
- Binance: the order object has no trades and no commission. The adapter records one aggregate
  fill per order: qty = executedQty, price = avgPrice as the venue states it (cumQuote / qty,
  rounded to 5 decimals), fee = cumQuote x the configured taker rate. The simulator charges the
  taker rate (0.05 %) on every fill of a MARKET order, so the fee is exact when the configured
  rate is the simulator's: the test asserts that precondition, then exact fees and quantities,
  and the price as the venue states it.

Realized PnL of a closed round trip R, in KRW (s = +1 for a sell, -1 for a buy; Upbit sums run
over the simulator's Upbit fills of R's orders, Binance sums over R's Binance orders o, with
avg_o = round(sum(quote_qty) / qty_o, 5) as stated by the venue):

    U  = sum s*price*qty          FU = sum fee (KRW)
    B  = sum s*qty_o*avg_o        FB = sum fee (USDT)
    pnl_usdt = B,   fees_krw = FU + FB*fx,   pnl_krw = U + B*fx - FU - FB*fx

where fx is the USDT/KRW rate the engine booked R at (not stored; it is recovered from fees_krw,
which is why the last identity is checked as (pnl_krw - U + FU) * FB == (B - FB) * (fees_krw - FU),
within 1e-6 KRW for Decimal's 28-digit products). Against the simulator's exact fill prices B
differs only by the avgPrice rounding: at most sum qty_o * 0.5e-5 USDT, also asserted.
Also exact: the Upbit KRW and coin balances moved by exactly the stored fills' cash flows and fees,
the Binance positions equal the stored fills' net quantities and the engine's portfolio, and the
Binance USDT wallet moved by the simulator's realized PnL minus exactly the recorded fees.
"""
from __future__ import annotations

import contextlib
import json
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from arbv2.adapters.simulator.specs import BINANCE_TAKER_FEE, UPBIT_FEE
from arbv2.app import runners
from arbv2.app.evidence import load_schema
from arbv2.core.config import load_config
from arbv2.core.model import Side, Venue

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ZERO = Decimal(0)
AVG = Decimal("0.00001")
DURATION_S = 60.0
UPBIT_KEY, BINANCE_KEY = "sim-upbit-access", "sim-binance-key"
UPBIT_START = {"KRW": Decimal(1_000_000_000), "BTC": Decimal(1), "ETH": Decimal(20), "XRP": Decimal(50_000)}
BINANCE_START_USDT = Decimal(1_000_000)


def _sign(side) -> int:
    return 1 if str(side).lower() in ("sell", "ask") else -1


async def test_sixty_second_sim_session_trades_and_reconciles_with_the_simulator(tmp_path: Path, monkeypatch):
    cfg = load_config(None, env={}, dotenv_path=None, overlay={
        "mode": "sim", "server": {"port": 0},
        "strategy": {"entry_edge_bps": 4.0, "exit_edge_bps": 0.0, "warmup_s": 2.0},
        "risk": {"cooldown_after_loss_s": 5.0}})
    assert Decimal(str(cfg.venues.binance_usdm.fees.taker_bps)) / 10_000 == BINANCE_TAKER_FEE
    assert Decimal(str(cfg.venues.upbit.fees.taker_bps)) / 10_000 == UPBIT_FEE
    held = {}
    real_open = runners.open_runtime

    @contextlib.asynccontextmanager
    async def keep(*args, **kwargs):
        async with real_open(*args, **kwargs) as rt:
            held["rt"] = rt
            yield rt

    monkeypatch.setattr(runners, "open_runtime", keep)
    t0 = time.monotonic()
    result = await runners.run_session(cfg, "engine", DURATION_S, quiet=True, evidence_dir=str(tmp_path))
    elapsed = time.monotonic() - t0
    rt = held["rt"]
    doc = result.evidence
    gates = {g.name: g for g in result.gates}

    # ran, did not crash, traded; the evidence document is the schema's
    assert DURATION_S <= elapsed < DURATION_S + 20
    assert gates["no_crash"].passed, gates["no_crash"].reason
    assert gates["orders_reconciled"].passed, gates["orders_reconciled"].reason
    assert gates["books_synced"].passed, gates["books_synced"].reason
    jsonschema.validate(json.loads(Path(result.path).read_text()), load_schema())
    assert doc["kind"] == "engine" and doc["mode"] == "sim"
    trips = await rt.trade_store.trades(doc["started_ns"], doc["ended_ns"] + 1)
    closed = [t for t in trips if t.state.value == "closed"]
    assert len(closed) >= 2, f"{len(closed)} closed round trips in {DURATION_S:.0f} s: {doc['kpis']}"
    assert doc["kpis"]["round_trips"] == len(closed) and doc["counts"]["trades"] == len(trips)
    assert doc["kpis"]["realized_pnl_krw"] == pytest.approx(
        float(sum((t.pnl_krw for t in trips if t.state.value in ("closed", "failed")), ZERO)), abs=1e-3)

    truth = rt.sim.truth
    store = rt.trade_store
    # per order: the store's fills are the venue's
    by_order: dict[str, dict[str, list[dict]]] = {"upbit": defaultdict(list), "binance_usdm": defaultdict(list)}
    for venue in by_order:
        for f in truth.fills(venue):
            by_order[venue][f["client_order_id"]].append(f)
    stored = {venue: {cid: await store.fills(cid) for cid in by_order[venue]} for venue in by_order}
    assert by_order["upbit"] and by_order["binance_usdm"]
    for cid, fills in by_order["upbit"].items():
        mine = stored["upbit"][cid]
        assert sorted((f.quantity, f.price) for f in mine) == sorted((f["qty"], f["price"]) for f in fills), cid
        assert sum((f.fee for f in mine), ZERO) == sum((f["fee"] for f in fills), ZERO), cid
        assert all(f.fee_asset == "KRW" and f.venue is Venue.UPBIT for f in mine)
    avg: dict[str, Decimal] = {}
    for cid, fills in by_order["binance_usdm"].items():
        mine = stored["binance_usdm"][cid]
        assert not any(f["maker"] for f in fills), f"{cid}: a maker fill (the engine sends MARKET orders only)"
        qty = sum((f["qty"] for f in fills), ZERO)
        avg[cid] = (sum((f["quote_qty"] for f in fills), ZERO) / qty).quantize(AVG)
        assert len(mine) == 1 and mine[0].quantity == qty and mine[0].price == avg[cid], (cid, mine, fills)
        assert mine[0].fee == sum((f["fee"] for f in fills), ZERO), (cid, mine[0].fee, fills)
        assert mine[0].fee_asset == "USDT"
    every_stored = [f for venue in stored for fills in stored[venue].values() for f in fills]

    # balances and positions at the venue moved by exactly what the ledger holds
    krw = sum((_sign(f.side.value) * f.notional - f.fee for f in every_stored if f.venue is Venue.UPBIT), ZERO)
    upbit_now = truth.balances("upbit", UPBIT_KEY)
    assert upbit_now["KRW"] - UPBIT_START["KRW"] == krw
    net: dict[tuple[Venue, str], Decimal] = defaultdict(Decimal)
    for f in every_stored:
        net[(f.venue, f.symbol)] += f.quantity if f.side is Side.BUY else -f.quantity
    for base in cfg.symbols:
        assert upbit_now.get(base, ZERO) - UPBIT_START[base] == net[(Venue.UPBIT, f"{base}/KRW")], base
    positions = truth.positions(BINANCE_KEY)
    for base in cfg.symbols:
        sym = f"{base}/USDT:USDT"
        assert positions.get(f"{base}USDT", ZERO) == net[(Venue.BINANCE_USDM, sym)], base
        assert rt.engine.portfolio.position(Venue.BINANCE_USDM, sym).quantity == net[(Venue.BINANCE_USDM, sym)]
        assert rt.engine.portfolio.position(Venue.UPBIT, f"{base}/KRW").quantity == net[(Venue.UPBIT, f"{base}/KRW")]
    usdt_fees = sum((f.fee for f in every_stored if f.venue is Venue.BINANCE_USDM), ZERO)
    realized = sum((f["realized_pnl"] for fills in by_order["binance_usdm"].values() for f in fills), ZERO)
    # the USDT wallet paid exactly the recorded fees (the simulator's own realized PnL runs through an
    # average entry price, a Decimal division: its last digit, ~1e-26, is the only slack here)
    moved = truth.balances("binance_usdm", BINANCE_KEY)["USDT"] - BINANCE_START_USDT
    assert abs(moved - (realized - usdt_fees)) <= Decimal("1e-18"), (moved, realized, usdt_fees)

    # each closed round trip's PnL from the venue's fills and fees (formula in the docstring)
    for trip in closed:
        prefix = trip.round_trip_id + "-"
        up = [f for cid, fs in by_order["upbit"].items() if cid.startswith(prefix) for f in fs]
        bn = {cid: fs for cid, fs in by_order["binance_usdm"].items() if cid.startswith(prefix)}
        U = sum((_sign(f["side"]) * f["price"] * f["qty"] for f in up), ZERO)
        FU = sum((f["fee"] for f in up), ZERO)
        B = sum((_sign(fs[0]["side"]) * sum((f["qty"] for f in fs), ZERO) * avg[cid] for cid, fs in bn.items()), ZERO)
        B_exact = sum((_sign(f["side"]) * f["quote_qty"] for fs in bn.values() for f in fs), ZERO)
        FB = sum((f["fee"] for fs in bn.values() for f in fs), ZERO)
        assert up and bn and FB > 0, trip.round_trip_id
        assert trip.pnl_usdt == B, (trip.round_trip_id, trip.pnl_usdt, B)
        assert abs(B - B_exact) <= sum((f["qty"] for fs in bn.values() for f in fs), ZERO) * Decimal("0.000005")
        fx = (trip.fees_krw - FU) / FB
        assert 1000 < fx < 2000, (trip.round_trip_id, fx)
        assert abs((trip.pnl_krw - U + FU) * FB - (B - FB) * (trip.fees_krw - FU)) <= Decimal("1e-6") * FB, \
            (trip.round_trip_id, trip.pnl_krw, U, FU, B, FB, trip.fees_krw)
