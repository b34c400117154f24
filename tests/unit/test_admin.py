"""The admin API: auth, bind safety, validation, effects on a fake engine, audit, and no crashes."""
from __future__ import annotations

import dataclasses
import json
import logging
from decimal import Decimal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from arbv2.adapters.memory.state_store import MemoryStateStore
from arbv2.app.admin import build_server_app, check_admin_bind, fingerprint
from arbv2.core.config import Config, Secrets, build
from arbv2.core.errors import ConfigError

TOKEN = "t0ken-for-tests-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FakeEngine:
    """Stands in for EngineControl: pause blocks new entries, kill stops and flattens positions."""

    def __init__(self) -> None:
        self.paused = False
        self.killed = False
        self.positions = {"BTC": Decimal("0.01")}
        self.thresholds: list[dict] = []

    def try_enter(self, base: str) -> bool:
        if self.paused or self.killed:
            return False
        self.positions[base] = self.positions.get(base, Decimal(0)) + Decimal("0.01")
        return True

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    async def kill(self, flatten: bool) -> dict:
        self.killed = True
        if flatten:
            self.positions.clear()
        return {"flattened": flatten}

    def set_thresholds(self, base=None, **kv) -> None:
        if kv.get("exit_edge_bps") == 99.0:
            raise ValueError("exit_edge_bps: the engine refuses 99")
        self.thresholds.append({**kv, **({"symbol": base} if base else {})})

    def status(self) -> dict:
        return {"state": {"BTC": "killed" if self.killed else ("paused" if self.paused else "running")},
                "positions": self.positions, "pnl_krw": Decimal("12.5"), "health": {"BTC": True}}


def _cfg(token: str | None = TOKEN, **server) -> Config:
    return dataclasses.replace(build(Config, {"server": server} if server else {}),
                               secrets=Secrets(admin_token=token))


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def store():
    return MemoryStateStore()


async def _client(engine, cfg, store=None, evidence_dir="evidence", **kw) -> TestClient:
    app = build_server_app(engine, cfg, state_store=store, evidence_dir=str(evidence_dir), **kw)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def client(engine, store, tmp_path):
    c = await _client(engine, _cfg(), store, tmp_path)
    yield c
    await c.close()


# ------------------------------------------------------------------ auth and bind

@pytest.mark.parametrize("method,path", [("GET", "/admin/status"), ("POST", "/admin/pause"),
                                         ("POST", "/admin/kill"), ("PUT", "/admin/thresholds")])
async def test_missing_or_wrong_token_is_401_and_changes_nothing(client, engine, method, path):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        resp = await client.request(method, path, headers=headers, json={"entry_edge_bps": 20})
        assert resp.status == 401
        assert "token" in (await resp.json())["error"]
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert not engine.paused and not engine.killed and engine.thresholds == []


async def test_without_a_configured_token_reads_work_but_every_change_is_403(engine, tmp_path):
    client = await _client(engine, _cfg(token=None), evidence_dir=tmp_path)
    try:
        assert (await client.get("/admin/status")).status == 200
        for method, path in (("POST", "/admin/pause"), ("POST", "/admin/resume"), ("POST", "/admin/kill"),
                             ("PUT", "/admin/thresholds")):
            resp = await client.request(method, path, headers=AUTH)
            assert resp.status == 403 and "ARBV2_ADMIN_TOKEN" in (await resp.json())["error"]
        assert not engine.paused and not engine.killed
    finally:
        await client.close()


def test_non_loopback_bind_is_refused_unless_configured():
    check_admin_bind(_cfg())
    check_admin_bind(_cfg(host="::1"))
    with pytest.raises(ConfigError, match="server.host"):
        check_admin_bind(_cfg(host="0.0.0.0"))
    with pytest.raises(ConfigError, match="server.host"):
        build_server_app(FakeEngine(), _cfg(host="10.0.0.5"))
    check_admin_bind(_cfg(host="0.0.0.0", allow_remote_admin=True))
    with pytest.raises(ConfigError, match="ARBV2_ADMIN_TOKEN"):
        check_admin_bind(_cfg(token=None, host="0.0.0.0", allow_remote_admin=True))


# ------------------------------------------------------------------ effects

async def test_status_reports_engine_state_mode_limits_and_thresholds(client):
    resp = await client.get("/admin/status", headers=AUTH)
    doc = await resp.json()
    assert resp.status == 200
    assert doc["state"] == {"BTC": "running"} and doc["positions"] == {"BTC": "0.01"} and doc["pnl_krw"] == "12.5"
    assert doc["mode"] == "paper" and doc["limits"]["daily_loss_limit_krw"] == 500000.0
    assert doc["thresholds"]["strategy"]["entry_edge_bps"] == 10.0


async def test_pause_stops_new_entries_and_resume_allows_them(client, engine):
    resp = await client.post("/admin/pause", headers=AUTH)
    assert resp.status == 200 and (await resp.json())["paused"] is True
    assert not engine.try_enter("ETH") and "ETH" not in engine.positions
    assert (await (await client.get("/admin/status", headers=AUTH)).json())["state"]["BTC"] == "paused"
    assert (await client.post("/admin/resume", headers=AUTH)).status == 200
    assert engine.try_enter("ETH")


async def test_kill_stops_and_flattens(client, engine):
    resp = await client.post("/admin/kill", headers=AUTH, json={"flatten": True})
    body = await resp.json()
    assert resp.status == 200 and body["flatten"] is True and body["result"] == {"flattened": True}
    assert engine.killed and engine.positions == {} and not engine.try_enter("BTC")


async def test_kill_without_body_uses_config_flatten_default(engine, tmp_path):
    cfg = dataclasses.replace(build(Config, {"risk": {"flatten_on_kill": False}}), secrets=Secrets(admin_token=TOKEN))
    client = await _client(engine, cfg, evidence_dir=tmp_path)
    try:
        assert (await (await client.post("/admin/kill", headers=AUTH)).json())["flatten"] is False
        assert engine.killed and engine.positions == {"BTC": Decimal("0.01")}
    finally:
        await client.close()


async def test_thresholds_are_validated_applied_and_persisted(client, engine, store):
    resp = await client.put("/admin/thresholds", headers=AUTH, json={"entry_edge_bps": "12", "exit_edge_bps": 6})
    body = await resp.json()
    assert resp.status == 200, body
    assert engine.thresholds == [{"entry_edge_bps": 12.0, "exit_edge_bps": 6.0}]
    saved = await store.get("thresholds")
    assert saved["strategy"]["entry_edge_bps"] == 12.0 and saved["strategy"]["exit_edge_bps"] == 6.0
    assert saved["updated_by"].endswith(f"token:{fingerprint(TOKEN)}") and TOKEN not in json.dumps(saved)
    resp = await client.put("/admin/thresholds", headers=AUTH, json={"symbol": "BTC", "entry_edge_bps": 15})
    assert resp.status == 200
    assert engine.thresholds[-1] == {"entry_edge_bps": 15.0, "symbol": "BTC"}
    saved = await store.get("thresholds")
    assert saved["strategy"]["overrides"] == {"BTC": {"entry_edge_bps": 15.0}}
    assert saved["strategy"]["entry_edge_bps"] == 12.0          # the earlier global change is kept
    build(Config, {"strategy": saved["strategy"]})               # the persisted doc is a config overlay


@pytest.mark.parametrize("body,needle", [
    ({"entry_edge_bps": "lots"}, "strategy.entry_edge_bps: invalid value 'lots'"),
    ({"entry_edge_bps": -1}, "entry_edge_bps: invalid value -1"),
    ({"entry_edge_bps": 0}, "allowed: > 0"),
    ({"max_position": 1}, "max_position: unknown key"),
    ({"symbol": "DOGE", "entry_edge_bps": 1}, "symbol: 'DOGE' is not configured"),
    ({"symbol": "BTC", "slippage_bps": 1}, "slippage_bps: unknown key"),
    ({"symbol": "BTC", "order_notional_krw": 99_000_000}, "order_notional_krw: invalid value"),
    ({}, "no thresholds given"),
    ({"exit_edge_bps": 99}, "the engine refuses 99"),
])
async def test_bad_thresholds_are_400_naming_the_problem(client, engine, store, body, needle):
    resp = await client.put("/admin/thresholds", headers=AUTH, json=body)
    assert resp.status == 400
    assert needle in (await resp.json())["error"]
    assert await store.get("thresholds") is None


async def test_malformed_requests_get_json_errors_and_the_server_keeps_serving(client, engine):
    bad_json = await client.put("/admin/thresholds", headers=AUTH, data=b"{not json")
    assert bad_json.status == 400 and "not valid JSON" in (await bad_json.json())["error"]
    not_object = await client.post("/admin/kill", headers=AUTH, data=b"[1]")
    assert not_object.status == 400 and not engine.killed
    bad_flag = await client.post("/admin/kill", headers=AUTH, json={"flatten": "yes"})
    assert bad_flag.status == 400 and "flatten" in (await bad_flag.json())["error"] and not engine.killed
    unknown = await client.post("/admin/pause", headers=AUTH, json={"force": True})
    assert unknown.status == 400 and not engine.paused
    huge = await client.put("/admin/thresholds", headers=AUTH, data=b"{" + b" " * 70_000 + b"}")
    assert huge.status == 413 and "error" in await huge.json()
    missing = await client.get("/admin/nope", headers=AUTH)
    assert missing.status == 404 and "error" in await missing.json()
    wrong_method = await client.get("/admin/pause", headers=AUTH)
    assert wrong_method.status == 405 and "POST" in wrong_method.headers["Allow"]
    assert (await client.get("/admin/status", headers=AUTH)).status == 200


async def test_an_engine_exception_is_a_500_json_not_a_crash(engine, tmp_path):
    engine.status = lambda: (_ for _ in ()).throw(RuntimeError("boom"))
    client = await _client(engine, _cfg(), evidence_dir=tmp_path)
    try:
        resp = await client.get("/admin/status", headers=AUTH)
        assert resp.status == 500 and (await resp.json()) == {"error": "internal error: RuntimeError"}
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()


# ------------------------------------------------------------------ evidence, health, metrics, audit

async def test_evidence_by_run_id_and_no_path_traversal(client, tmp_path):
    (tmp_path / "run-1.json").write_text('{"run_id": "run-1"}')
    (tmp_path.parent / "secret.json").write_text('{"leak": true}')
    resp = await client.get("/admin/evidence/run-1", headers=AUTH)
    assert resp.status == 200 and (await resp.json()) == {"run_id": "run-1"}
    assert (await client.get("/admin/evidence/run-2", headers=AUTH)).status == 404
    for path in ("/admin/evidence/..", "/admin/evidence/..%2Fsecret", "/admin/evidence/%2E%2E%2Fsecret",
                 "/admin/evidence/a..b"):
        resp = await client.get(path, headers=AUTH)
        assert resp.status in (400, 404)
        assert "leak" not in await resp.text()


async def test_healthz_and_metrics_handler(engine, tmp_path):
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="arbv2_up 1\n")

    client = await _client(engine, _cfg(), evidence_dir=tmp_path, metrics_handler=metrics)
    try:
        assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
        assert await (await client.get("/metrics")).text() == "arbv2_up 1\n"
    finally:
        await client.close()


async def test_every_mutating_call_is_audited_without_the_token(client, caplog):
    caplog.set_level(logging.INFO, logger="arbv2.audit")
    await client.post("/admin/pause", headers=AUTH)
    await client.post("/admin/kill", headers={"Authorization": "Bearer wrong"}, json={"flatten": True})
    await client.put("/admin/thresholds", headers=AUTH, json={"bogus": 1})
    lines = [r.getMessage() for r in caplog.records if r.name == "arbv2.audit"]
    assert len(lines) == 3
    assert lines[0].startswith("admin pause ok who=127.0.0.1 token:" + fingerprint(TOKEN))
    assert "when=" in lines[0]
    assert lines[1].startswith("admin kill refused 401") and fingerprint("wrong") in lines[1]
    assert lines[2].startswith("admin thresholds refused 400") and '"bogus": 1' in lines[2]
    assert all(TOKEN not in line and "wrong token" not in line.split("who=")[1] for line in lines)


async def test_every_admin_request_is_counted_by_status(engine, tmp_path):
    from arbv2.adapters.memory.metrics import MemoryMetrics

    metrics = MemoryMetrics(["BTC"])
    c = await _client(engine, _cfg(), None, tmp_path, metrics=metrics)
    try:
        await c.get("/admin/status")                                            # no token: 401
        await c.post("/admin/pause", headers={"Authorization": f"Bearer {TOKEN}"})
        await c.put("/admin/thresholds", headers={"Authorization": f"Bearer {TOKEN}"}, data=b"{not json")
        await c.get("/healthz")                                                 # not an admin path
    finally:
        await c.close()
    assert metrics.counter("admin_requests", status="401") == 1
    assert metrics.counter("admin_requests", status="200") == 1
    assert metrics.counter("admin_requests", status="400") == 1
    assert sum(v for (n, _), v in metrics.counters.items() if n == "admin_requests") == 3
