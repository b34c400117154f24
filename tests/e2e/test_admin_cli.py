"""`arbv2 admin` in a subprocess against a real admin server (fake engine): output, exit codes, auth."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os

import pytest
from aiohttp import web
from required import tool

from arbv2.adapters.memory.state_store import MemoryStateStore
from arbv2.app.admin import build_server_app
from arbv2.core.config import Config, Secrets

ARBV2 = tool("arbv2")
TOKEN = "cli-e2e-token-abcdef"


class Engine:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def pause(self) -> None:
        self.calls.append(("pause",))

    def resume(self) -> None:
        self.calls.append(("resume",))

    async def kill(self, flatten: bool) -> None:
        self.calls.append(("kill", flatten))

    def set_thresholds(self, base=None, **kv) -> None:
        self.calls.append(("set", {**kv, **({"symbol": base} if base else {})}))

    def status(self) -> dict:
        return {"state": {"BTC": "running"}, "positions": {}, "health": {"BTC": True}}


@pytest.fixture
async def server(tmp_path):
    engine = Engine()
    store = MemoryStateStore()
    (tmp_path / "run-7.json").write_text('{"run_id": "run-7", "verdict": "PASS"}')
    cfg = dataclasses.replace(Config(), secrets=Secrets(admin_token=TOKEN))
    runner = web.AppRunner(build_server_app(engine, cfg, state_store=store, evidence_dir=str(tmp_path)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    engine.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    engine.store = store
    yield engine
    await runner.cleanup()


async def admin(url: str, *args: str, token: str | None = TOKEN) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBV2_")}
    if token:
        env["ARBV2_ADMIN_TOKEN"] = token
    proc = await asyncio.create_subprocess_exec(ARBV2, "admin", "--url", url, *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_status_pause_resume_kill_print_json(server):
    code, out, err = await admin(server.url, "status")
    assert code == 0, err
    assert json.loads(out)["state"] == {"BTC": "running"} and json.loads(out)["mode"] == "paper"
    for action in ("pause", "resume"):
        code, out, _ = await admin(server.url, action)
        assert code == 0 and json.loads(out)["action"] == action
    code, out, _ = await admin(server.url, "kill", "--no-flatten")
    assert code == 0 and json.loads(out)["flatten"] is False
    code, out, _ = await admin(server.url, "kill")
    assert code == 0 and json.loads(out)["flatten"] is True     # the config default flatten_on_kill
    assert server.calls == [("pause",), ("resume",), ("kill", False), ("kill", True)]
    assert TOKEN not in out


async def test_set_sends_typed_values_and_persists(server):
    code, out, err = await admin(server.url, "set", "entry_edge_bps=12", "exit_edge_bps=6.5", "symbol=BTC")
    assert code == 0, err
    assert server.calls == [("set", {"entry_edge_bps": 12.0, "exit_edge_bps": 6.5, "symbol": "BTC"})]
    assert (await server.store.get("thresholds"))["strategy"]["overrides"]["BTC"]["exit_edge_bps"] == 6.5


async def test_http_errors_exit_1_with_the_server_error_line(server):
    code, out, err = await admin(server.url, "pause", token="wrong")
    assert code == 1 and out == "" and err.strip() == "arbv2 admin: HTTP 401: wrong token"
    code, _, err = await admin(server.url, "set", "nonsense=1")
    assert code == 1 and "HTTP 400: nonsense: unknown key" in err
    code, _, err = await admin(server.url, "evidence", "nope")
    assert code == 1 and "HTTP 404" in err
    assert server.calls == []


async def test_evidence_usage_and_unreachable_server(server):
    code, out, _ = await admin(server.url, "evidence", "run-7")
    assert code == 0 and json.loads(out)["verdict"] == "PASS"
    code, _, err = await admin(server.url, "set", "novalue")
    assert code == 2 and "KEY=VALUE" in err
    code, _, err = await admin("http://127.0.0.1:1", "status")
    assert code == 1 and "cannot reach" in err and "Traceback" not in err
