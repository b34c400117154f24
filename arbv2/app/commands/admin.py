"""`arbv2 admin`: the command-line client of the engine's admin API (docs/admin.md).

Prints the server's JSON answer; on an HTTP error prints the server's error line to stderr and
exits 1. The token comes from --token or ARBV2_ADMIN_TOKEN and is only ever sent, never printed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import aiohttp

DEFAULT_URL = "http://127.0.0.1:9108"
TIMEOUT_S = 30.0   # kill with flatten waits for the unwind orders


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("admin", help="control a running engine: status, pause, resume, kill, set, evidence")
    p.add_argument("--url", default=os.environ.get("ARBV2_ADMIN_URL", DEFAULT_URL),
                   help=f"the engine's server (default {DEFAULT_URL} or ARBV2_ADMIN_URL)")
    p.add_argument("--token", default=None, help="admin token (default: ARBV2_ADMIN_TOKEN)")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("status", help="mode, state per symbol, positions, PnL, health, limits")
    actions.add_parser("pause", help="stop opening new round trips")
    actions.add_parser("resume", help="allow new round trips again")
    kill = actions.add_parser("kill", help="kill switch: stop trading (optionally flatten positions)")
    kill.add_argument("--flatten", action=argparse.BooleanOptionalAction, default=None,
                      help="flatten open positions (default: the engine's risk.flatten_on_kill)")
    st = actions.add_parser("set", help="change thresholds, e.g. set entry_edge_bps=12 symbol=BTC")
    st.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    ev = actions.add_parser("evidence", help="print a run's evidence document")
    ev.add_argument("run_id")
    p.set_defaults(func=run)


def parse_pairs(pairs: list[str]) -> dict[str, Any]:
    """Return {key: value} from KEY=VALUE words; values are JSON when they parse (12, true), else text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{pair!r} is not KEY=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def request_for(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    """Return (method, path, JSON body) for the chosen action."""
    if args.action == "status":
        return "GET", "/admin/status", None
    if args.action in ("pause", "resume"):
        return "POST", f"/admin/{args.action}", None
    if args.action == "kill":
        return "POST", "/admin/kill", ({} if args.flatten is None else {"flatten": args.flatten})
    if args.action == "set":
        return "PUT", "/admin/thresholds", parse_pairs(args.pairs)
    return "GET", f"/admin/evidence/{args.run_id}", None


async def _call(url: str, token: str | None, method: str, path: str, body: dict[str, Any] | None
                ) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session:
        async with session.request(method, url.rstrip("/") + path, json=body, headers=headers) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, {"error": text.strip()[:200] or resp.reason}


def run(args: argparse.Namespace) -> int:
    try:
        method, path, body = request_for(args)
    except ValueError as exc:
        print(f"arbv2 admin: {exc}", file=sys.stderr)
        return 2
    token = args.token or os.environ.get("ARBV2_ADMIN_TOKEN") or None
    try:
        status, data = asyncio.run(_call(args.url, token, method, path, body))
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"arbv2 admin: cannot reach {args.url}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if status >= 400:
        error = data.get("error") if isinstance(data, dict) else data
        print(f"arbv2 admin: HTTP {status}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
    return 0
