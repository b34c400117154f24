"""Issue #7 acceptance: a 60 s engine session against the embedded simulator trades, and its ledger
reconciles with the simulator's own record of every fill.

The session is the real one (`run_session(cfg, "engine", 60)`: open_runtime, mode sim, the signed
Upbit and Binance adapters over HTTP to the embedded simulator, memory stores); the test only
keeps a handle on the Runtime to read `rt.sim.truth`, `rt.trade_store` and `rt.engine.portfolio`
afterwards. Thresholds are lowered (entry edge 4 bps, exit edge 0, warm-up 2 s) so seed 7 trades
within seconds; the fees stay the venues' real rates.

What the venues report, and so what the ledger must hold, order by order:
- Upbit: every trade (price, volume) and the order's paid fee: the store must hold exactly the
  simulator's (qty, price) pairs and the same total fee per order.
- Binance: the adapter reads each executed order's trades from GET /fapi/v1/userTrades: the store
  must hold exactly the simulator's trades (trade id, qty, price, commission), no estimate
  ("<orderId>:est"). The simulated account trades at a VIP taker rate (4 bps) that is not the
  configured 5 bps, so a fee computed from the configuration would not match.

Realized PnL of a closed round trip R, in KRW (s = +1 for a sell, -1 for a buy; sums run over
the simulator's fills of R's orders):

    U  = sum s*price*qty (Upbit)      FU = sum fee (KRW)
    B  = sum s*quoteQty (Binance)     FB = sum commission (USDT)
    pnl_usdt = B,   fees_krw = FU + FB*fx,   pnl_krw = U + B*fx - FU - FB*fx

where fx is the USDT/KRW rate the engine booked R at (not stored; it is recovered from fees_krw,
which is why the last identity is checked as (pnl_krw - U + FU) * FB == (B - FB) * (fees_krw - FU),
within 1e-6 KRW for Decimal's 28-digit products). pnl_usdt is exact.
Also exact: the Upbit KRW and coin balances moved by exactly the stored fills' cash flows and fees,
the Binance positions equal the stored fills' net quantities and the engine's portfolio, and the
Binance USDT wallet moved by the simulator's realized PnL minus exactly the recorded fees (plus any
funding settled during the run).
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
VIP_MAKER, VIP_TAKER = Decimal("0.00016"), Decimal("0.0004")   # the account's rates at the venue
Q8 = Decimal("0.00000001")
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
            rt.sim.binance.set_commission_rates(BINANCE_KEY, maker=VIP_MAKER, taker=VIP_TAKER)
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
    for cid, fills in by_order["binance_usdm"].items():
        mine = stored["binance_usdm"][cid]
        assert not any(f.trade_id.endswith(":est") for f in mine), (cid, mine)
        assert sorted((f.trade_id, f.quantity, f.price, f.fee) for f in mine) == \
            sorted((str(f["trade_id"]), f["qty"], f["price"], f["fee"]) for f in fills), (cid, mine, fills)
        assert all(f.fee_asset == "USDT" and f.venue is Venue.BINANCE_USDM for f in mine)
        # the account's rate, not the configured one (the engine sends MARKET orders: taker)
        assert all(f["fee"] == (f["quote_qty"] * VIP_TAKER).quantize(Q8, "ROUND_HALF_UP") for f in fills), cid
        assert sum((f.fee for f in mine), ZERO) != sum((f["quote_qty"] for f in fills), ZERO) * BINANCE_TAKER_FEE
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
    # funding settles at 00/08/16 UTC: a run that crosses one with a position open pays or earns it
    funding = sum((e["income"] for e in truth.income(BINANCE_KEY, "FUNDING_FEE")), ZERO)
    moved = truth.balances("binance_usdm", BINANCE_KEY)["USDT"] - BINANCE_START_USDT
    assert abs(moved - (realized - usdt_fees + funding)) <= Decimal("1e-18"), (moved, realized, usdt_fees, funding)

    # each closed round trip's PnL from the venue's fills and fees (formula in the docstring)
    for trip in closed:
        prefix = trip.round_trip_id + "-"
        up = [f for cid, fs in by_order["upbit"].items() if cid.startswith(prefix) for f in fs]
        bn = [f for cid, fs in by_order["binance_usdm"].items() if cid.startswith(prefix) for f in fs]
        U = sum((_sign(f["side"]) * f["price"] * f["qty"] for f in up), ZERO)
        FU = sum((f["fee"] for f in up), ZERO)
        B = sum((_sign(f["side"]) * f["quote_qty"] for f in bn), ZERO)
        FB = sum((f["fee"] for f in bn), ZERO)
        assert up and bn and FB > 0, trip.round_trip_id
        assert trip.pnl_usdt == B, (trip.round_trip_id, trip.pnl_usdt, B)
        fx = (trip.fees_krw - FU) / FB
        assert 1000 < fx < 2000, (trip.round_trip_id, fx)
        assert abs((trip.pnl_krw - U + FU) * FB - (B - FB) * (trip.fees_krw - FU)) <= Decimal("1e-6") * FB, \
            (trip.round_trip_id, trip.pnl_krw, U, FU, B, FB, trip.fees_krw)
