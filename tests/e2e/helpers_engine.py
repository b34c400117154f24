"""Shared helpers of the engine acceptance tests (issues #9 and #10): configs, evidence, a running engine.

Used by test_smoke_runner.py, test_admin_live.py and test_prometheus_engine.py. Subprocesses go
through conftest's `procs`; in-process engines through `running_engine` (open_runtime + the
engine's own loop, exactly what `arbv2 engine` runs).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import jsonschema
import yaml

from arbv2.app.evidence import load_schema

FAULTS_DIR = Path(__file__).resolve().parent / "faults"

# Thresholds low enough that the engine trades against the simulator within seconds (its premium
# swings by tens of bps around the anchor), and short cooldowns so a rejected order or a losing
# round trip does not silence it for the rest of a short run. Fees stay the venues' defaults.
TRADING: dict[str, Any] = {
    "strategy": {"entry_edge_bps": 4.0, "exit_edge_bps": 2.0, "warmup_s": 2.0},
    "risk": {"cooldown_after_failure_s": 2.0, "cooldown_after_loss_s": 1.0},
}


def merge(*docs: dict[str, Any]) -> dict[str, Any]:
    """Return the deep merge of config mappings, later ones winning."""
    out: dict[str, Any] = {}
    for doc in docs:
        for key, value in doc.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = value
    return out


def write_config(path: Path, *docs: dict[str, Any]) -> Path:
    """Write the merged config mappings as YAML to `path` and return it."""
    path.write_text(yaml.safe_dump(merge(*docs), sort_keys=True), encoding="utf-8")
    return path


def read_evidence(directory: Path) -> dict[str, Any]:
    """Return the one evidence document a run wrote into `directory`."""
    files = sorted(directory.glob("*.json"))
    assert len(files) == 1, f"expected one evidence file in {directory}, found {[f.name for f in files]}"
    return json.loads(files[0].read_text(encoding="utf-8"))


def schema_errors(doc: dict[str, Any]) -> list[str]:
    """Return every violation of arbv2/app/evidence.schema.json by `doc` (empty when valid)."""
    validator = jsonschema.Draft202012Validator(load_schema())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(doc)]


def gates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the evidence's gates by name (a name given twice is an error)."""
    names = [g["name"] for g in doc["gates"]]
    assert len(names) == len(set(names)), f"gate named twice: {names}"
    return {g["name"]: g for g in doc["gates"]}


async def wait_until(predicate: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(every_s)


def books_synced(rt: Any) -> bool:
    """True when every book of every configured symbol is healthy on both venues."""
    return all(all(v.values()) for v in rt.engine.health()["books"].values())


@contextlib.asynccontextmanager
async def running_engine(cfg: Any, sync_timeout_s: float = 30.0) -> AsyncIterator[Any]:
    """Open the runtime for `cfg`, run the engine's loop, yield the Runtime once all books are synced.

    On exit the engine is stopped (shutdown waits for its executions) and the runtime closed; an
    engine that crashed meanwhile fails the test with its exception.
    """
    from arbv2.app.runtime import open_runtime

    async with open_runtime(cfg) as rt:
        task = asyncio.create_task(rt.engine.run(None), name="engine-under-test")
        try:
            await wait_until(lambda: books_synced(rt) or task.done(), sync_timeout_s, "every book to sync")
            if task.done():
                task.result()
                raise AssertionError("engine stopped before its books synced")
            yield rt
        finally:
            rt.engine.stop()
            await asyncio.wait_for(task, 60)


def free_port() -> int:
    """Return a free 127.0.0.1 port (for a program that cannot report the port it bound)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
