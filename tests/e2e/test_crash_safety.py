"""Issue #8: a SIGKILLed engine loses no order and never sends one twice.

The simulator runs as its own process (`arbv2 sim`), so the venues outlive the engine. The
engine (`arbv2 engine --config F`, mode sim, PostgreSQL trade store in a fresh schema, Redis
state under a fresh prefix) trades against it with a near-zero break-even (fees configured 0,
both directions, 1 bp entry edge: this test wants many orders, not profit; the fees the venues
charge are not checked here, test_engine_sim_run.py does that). The simulator is told to
answer every Binance order only after a delay (the order executes at once; only the answer is
late), so as soon as a Binance order shows up in the simulator's truth the engine is waiting on
it with the order still 'pending' in v2_orders: that is when it is SIGKILLed. A restart against
the same database must reconcile (look the order up by client order id, record what the venue
did) and go on trading; a second SIGKILL lands on whatever is happening at that moment (no
fault, random timing), and a last restart ends with SIGTERM.

Then, against the simulator's truth:
- every client order id the venues received appears once at the venue (never re-sent; Upbit
  identifiers are never reused) and is in v2_orders with the venue's final status mapped as the
  adapters map it, and the executed quantity;
- v2_fills holds, per order, exactly the quantity the venue executed;
- nothing in v2_orders is left non-final (pending/new/unknown) — the venue has every order in a
  final state by then — and an order the venues never received is recorded 'rejected' (never
  sent) with nothing filled.
"""
from __future__ import annotations

import asyncio
import json
import re
import signal
import time
import urllib.request
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SIM_KEYS = {"UPBIT_ACCESS_KEY": "sim-upbit-access", "UPBIT_SECRET_KEY": "sim-upbit-secret",
            "BINANCE_API_KEY": "sim-binance-key", "BINANCE_API_SECRET": "sim-binance-secret"}
FINAL = {"filled", "canceled", "rejected", "expired"}
ANSWER_DELAY_S = 3.0


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _post(url: str, body: dict) -> object:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


class Sim:
    def __init__(self, upbit_url: str, binance_url: str) -> None:
        self.upbit_url, self.binance_url = upbit_url, binance_url

    def orders(self, venue: str) -> list[dict]:
        return _get(f"{self.upbit_url}/_sim/truth/orders?venue={venue}")

    def fills(self, venue: str) -> list[dict]:
        return _get(f"{self.upbit_url}/_sim/truth/fills?venue={venue}")

    def faults(self, plan: dict) -> None:
        _post(f"{self.upbit_url}/_sim/faults", plan)

    def count(self) -> int:
        return len(self.orders("upbit")) + len(self.orders("binance_usdm"))


def _config(path: Path, sim: Sim, redis_prefix: str) -> Path:
    up_ws = sim.upbit_url.replace("http://", "ws://") + "/websocket/v1"
    bn_ws = sim.binance_url.replace("http://", "ws://")
    path.write_text(f"""
mode: sim
symbols: [BTC, ETH, XRP]
simulator: {{embedded: false}}
venues:
  upbit: {{rest_url: "{sim.upbit_url}", ws_url: "{up_ws}", fees: {{taker_bps: 0.0, maker_bps: 0.0}}}}
  binance_usdm: {{rest_url: "{sim.binance_url}", ws_url: "{bn_ws}", fees: {{taker_bps: 0.0, maker_bps: 0.0}}}}
strategy: {{entry_edge_bps: 1.0, exit_edge_bps: 0.0, warmup_s: 1.0, safety_margin_bps: 0.0, allow_reverse: true}}
risk: {{cooldown_after_loss_s: 0.0, cooldown_after_failure_s: 1.0}}
storage: {{redis_prefix: "{redis_prefix}"}}
server: {{port: 0}}
logging: {{level: INFO}}
""")
    return path


async def _rows(dsn: str) -> tuple[dict[str, dict], dict[str, Decimal]]:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        orders = {r["client_order_id"]: dict(r) for r in await conn.fetch(
            "SELECT client_order_id, venue, status, filled_qty, venue_order_id FROM v2_orders")}
        fills = {r["client_order_id"]: r["qty"] for r in await conn.fetch(
            "SELECT client_order_id, sum(quantity) AS qty FROM v2_fills GROUP BY client_order_id")}
    finally:
        await conn.close()
    return orders, fills


def rows(dsn: str) -> tuple[dict[str, dict], dict[str, Decimal]]:
    return asyncio.run(_rows(dsn))


def expected_status(venue: str, o: dict) -> str:
    """The domain status the adapters map the venue's final order state to."""
    status = str(o["status"])
    if venue == "upbit":
        if status == "rejected":
            return "rejected"
        if status == "done":
            return "filled"
        if status == "cancel":   # a KRW-sized market buy ends 'cancel' once only dust is left
            return "filled" if o.get("ord_type") == "price" and Decimal(o["executed_qty"]) > 0 else "canceled"
        return {"wait": "partially_filled" if Decimal(o["executed_qty"]) > 0 else "new"}.get(status, "?" + status)
    return {"FILLED": "filled", "CANCELED": "canceled", "EXPIRED": "expired", "REJECTED": "rejected",
            "NEW": "new", "PARTIALLY_FILLED": "partially_filled"}.get(status, "?" + status)


def _start_engine(procs, cfg: Path, env: dict[str, str]):
    eng = procs.start("engine", [procs.arbv2, "engine", "--config", str(cfg), "--status-every", "2",
                                 "--evidence-dir", str(cfg.parent / "evidence")], env)
    eng.wait_for_output(lambda t: "arbv2 engine [" in t, timeout=30)
    return eng


def _wait_orders(sim: Sim, venue: str, more_than: int, eng, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(sim.orders(venue)) > more_than:
            return
        if not eng.alive():
            pytest.fail(f"engine exited ({eng.popen.returncode}) before trading\n{eng.tail()}")
        time.sleep(0.02)
    pytest.fail(f"no new {venue} order at the simulator after {timeout:.0f}s\n{eng.tail()}")


def _kill(eng) -> None:
    eng.signal(signal.SIGKILL)
    assert eng.wait(10) == -signal.SIGKILL


def test_sigkill_mid_execution_loses_nothing_and_sends_nothing_twice(tmp_path, pg_schema_dsn, redis_url,
                                                                     redis_prefix, procs):
    # `procs` last: set up last, torn down first, so no engine still holds the schema when it is dropped
    t0 = time.monotonic()
    sim_proc = procs.start("sim", [procs.arbv2, "sim", "--upbit-port", "0", "--binance-port", "0", "--seed", "7"],
                           procs.env())
    text = sim_proc.wait_for_output(lambda t: "binance REST" in t, timeout=30)
    up = re.search(r"upbit\s+REST (http://\S+)", text).group(1)
    bn = re.search(r"binance REST (http://\S+)", text).group(1)
    sim = Sim(up, bn)
    cfg = _config(tmp_path / "engine.yml", sim, redis_prefix)
    env = procs.env(DATABASE_URL=pg_schema_dsn, REDIS_URL=redis_url, **SIM_KEYS)

    # 1. Binance answers late: kill while the engine waits for that answer, the order 'pending'.
    sim.faults({"venues": ["binance_usdm"], "order_timeout_share": 1.0, "order_timeout_s": ANSWER_DELAY_S})
    eng = _start_engine(procs, cfg, env)
    _wait_orders(sim, "binance_usdm", 0, eng, timeout=45)
    _kill(eng)
    sim.faults({})
    stored, _ = rows(pg_schema_dsn)
    at_venue = {o["client_order_id"] for v in ("upbit", "binance_usdm") for o in sim.orders(v)}
    in_flight = sorted(c for c, r in stored.items() if r["status"] not in FINAL and c in at_venue)
    assert in_flight, f"the kill did not catch an order in flight: {stored}"
    assert any(stored[c]["venue"] == "binance_usdm" for c in in_flight)

    # 2. Restart: reconciliation records what the venue did with the in-flight orders.
    eng = _start_engine(procs, cfg, env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        stored, _ = rows(pg_schema_dsn)
        if all(stored[c]["status"] in FINAL for c in in_flight):
            break
        time.sleep(0.2)
    assert all(stored[c]["status"] in FINAL for c in in_flight), \
        f"not reconciled after restart: {[(c, stored[c]['status']) for c in in_flight]}\n{eng.tail()}"

    # 3. A second SIGKILL at a random moment: right after the next order reaches a venue.
    before = sim.count()
    deadline = time.monotonic() + 25
    while sim.count() == before and time.monotonic() < deadline and eng.alive():
        time.sleep(0.01)
    _kill(eng)

    # 4. Last restart, a few seconds of trading, then a clean stop.
    eng = _start_engine(procs, cfg, env)
    time.sleep(8)
    assert eng.alive(), eng.tail()
    eng.signal(signal.SIGTERM)
    assert eng.wait(30) == 0, eng.tail()

    stored, stored_fills = rows(pg_schema_dsn)
    problems = []
    received = 0
    for venue in ("upbit", "binance_usdm"):
        truth = [o for o in sim.orders(venue) if o.get("client_order_id")]
        ids = Counter(o["client_order_id"] for o in truth)
        twice = sorted(c for c, n in ids.items() if n > 1)
        assert not twice, f"{venue}: client order ids sent twice: {twice}"
        received += len(truth)
        executed = Counter()
        for f in sim.fills(venue):
            executed[f["client_order_id"]] += Decimal(f["qty"])
        for o in truth:
            cid = o["client_order_id"]
            row = stored.get(cid)
            if row is None:
                problems.append(f"{venue} {cid}: at the venue ({o['status']}) but not in v2_orders")
                continue
            want = expected_status(venue, o)
            if row["venue"] != venue or row["status"] != want:
                problems.append(f"{venue} {cid}: v2_orders says {row['venue']}/{row['status']}, venue {want}")
            if row["filled_qty"] != Decimal(o["executed_qty"]):
                problems.append(f"{venue} {cid}: filled_qty {row['filled_qty']} != venue {o['executed_qty']}")
            if stored_fills.get(cid, Decimal(0)) != executed[cid]:
                problems.append(f"{venue} {cid}: v2_fills qty {stored_fills.get(cid)} != venue {executed[cid]}")
    assert not problems, "\n".join(problems)
    assert received >= 4, f"only {received} orders reached the simulator"
    at_venue = {o["client_order_id"] for v in ("upbit", "binance_usdm") for o in sim.orders(v)}
    open_rows = sorted((c, r["status"]) for c, r in stored.items() if r["status"] not in FINAL)
    assert not open_rows, f"orders left non-final in v2_orders: {open_rows}"
    never_sent = {c: r for c, r in stored.items() if c not in at_venue}
    assert all(r["status"] == "rejected" and r["filled_qty"] == 0 for r in never_sent.values()), never_sent
    assert time.monotonic() - t0 < 90
