"""Binance USDⓈ-M market streams: diff depth (U/u/pu), partial depth, bookTicker and markPrice,
on the routed paths (/public/..., /market/...) and the legacy /ws/... and /stream?streams=...

Depth events are exactly the book's drained change sets, so applying them from a REST snapshot
reproduces the simulator's book. On /public only book streams are served and on /market only the
others, as on the real venue since the 2026 URL split (misrouted names stay silent and are
counted); the legacy paths serve everything.
"""
from __future__ import annotations

import asyncio
import re
import time
from decimal import Decimal

import orjson
from aiohttp import WSMsgType, web

from arbv2.adapters.simulator.book import ASK, BID, L2Book
from arbv2.adapters.simulator.specs import PerpSpec, decimals_of, fmt
from arbv2.adapters.simulator.wsconn import SIM_KEY, WsClient

_STREAM = re.compile(r"^([a-z0-9]+)@(depth(5|10|20)?(@100ms|@500ms)?|bookTicker|markPrice(@1s)?)$")
PUBLIC_KINDS, MARKET_KINDS = ("depth", "bookTicker"), ("markPrice",)


def parse_stream(name: str) -> tuple[str, str, int, float] | None:
    """Return (symbol, kind, partial levels or 0, interval s) for a valid stream name, else None."""
    m = _STREAM.match(name)
    if not m:
        return None
    sym, what = m.group(1).upper(), m.group(2)
    if what.startswith("depth"):
        levels = int(m.group(3) or 0)
        speed = m.group(4)
        interval = 0.1 if speed == "@100ms" else 0.5 if speed == "@500ms" else 0.25
        return sym, "depth", levels, interval
    if what == "bookTicker":
        return sym, "bookTicker", 0, 0.0
    return sym, "markPrice", 0, 1.0 if m.group(5) else 3.0


class _Agg:
    """Merge consecutive diff events into one slower event (first U/pu, last u, latest quantities)."""

    __slots__ = ("first_u", "pu", "last_u", "bids", "asks", "next_flush")

    def __init__(self, next_flush: float) -> None:
        self.first_u = self.pu = self.last_u = None
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.next_flush = next_flush


class BinanceHub:
    """Stream registry and publishers; one encoding per (stream, raw|combined) per event."""

    def __init__(self, books: dict[str, L2Book], specs: dict[str, PerpSpec], sim) -> None:
        self.books, self.specs, self.sim = books, specs, sim
        self.subs: dict[str, dict[WsClient, bool]] = {}
        self.aggs: dict[str, _Agg] = {}
        self.last_event: dict[str, tuple[int, int, int]] = {}
        self.last_bt: dict[str, tuple] = {}
        self.next_mark: dict[str, float] = {}
        self.events = {s: 0 for s in specs}

    def _fanout(self, stream: str, data: dict | bytes) -> None:
        subs = self.subs.get(stream)
        if not subs:
            return
        raw = data if isinstance(data, bytes) else orjson.dumps(data)
        wrapped = None
        for client, combined in subs.items():
            if combined:
                if wrapped is None:
                    wrapped = b'{"stream":"' + stream.encode() + b'","data":' + raw + b"}"
                client.push(wrapped)
            else:
                client.push(raw)

    def _levels(self, spec: PerpSpec, items) -> list[list[str]]:
        pd, qd = decimals_of(spec.tick_size), decimals_of(spec.step_size)
        return [[fmt(p, pd), fmt(q, qd)] for p, q in items]

    def book_ticker_obj(self, sym: str, now_ms: int, rest: bool = False) -> dict:
        spec, book = self.specs[sym], self.books[sym]
        (bp, bq), (ap, aq) = book.best(BID) or (Decimal(0), Decimal(0)), book.best(ASK) or (Decimal(0), Decimal(0))
        pd, qd = decimals_of(spec.tick_size), decimals_of(spec.step_size)
        body = {"u": book.update_id, "s": sym, "b": fmt(bp, pd), "B": fmt(bq, qd), "a": fmt(ap, pd),
                "A": fmt(aq, qd), "T": now_ms, "E": now_ms}
        if rest:
            return {"symbol": sym, "bidPrice": body["b"], "bidQty": body["B"], "askPrice": body["a"],
                    "askQty": body["A"], "time": now_ms, "lastUpdateId": book.update_id}
        return {"e": "bookTicker", **body}

    def publish(self, now_ms: int, mono: float) -> None:
        """Drain every book once per tick and send diff, partial, bookTicker and markPrice frames."""
        plan, dice = self.sim.dice.plan, self.sim.dice
        for sym, book in self.books.items():
            spec, low = self.specs[sym], sym.lower()
            ev = book.drain()
            if ev is not None:
                first, last, pu, bids, asks = ev
                self.events[sym] += 1
                n = plan.ws_skip_diff_every if plan.applies("binance_usdm") else 0
                if n > 0 and self.events[sym] % n == 0:
                    dice.count("binance_usdm", "ws_skip_diff")
                else:
                    self.last_event[sym] = (first, last, pu)
                    self._fanout(f"{low}@depth@100ms", {
                        "e": "depthUpdate", "E": now_ms, "T": now_ms, "s": sym, "U": first, "u": last, "pu": pu,
                        "b": self._levels(spec, bids), "a": self._levels(spec, asks)})
                    for speed in ("", "@500ms"):
                        agg = self.aggs.get(f"{low}@depth{speed}")
                        if agg is not None:
                            if agg.first_u is None:
                                agg.first_u, agg.pu = first, pu
                            agg.last_u = last
                            agg.bids.update(bids)
                            agg.asks.update(asks)
            for speed, interval in (("", 0.25), ("@500ms", 0.5)):
                self._flush_agg(f"{low}@depth{speed}", spec, now_ms, mono, interval)
            if ev is not None:
                self._partials(sym, low, spec, now_ms, mono)
            self._book_ticker(sym, low, now_ms)
            self._mark(sym, low, now_ms, mono)

    def _flush_agg(self, stream: str, spec: PerpSpec, now_ms: int, mono: float, interval: float) -> None:
        agg = self.aggs.get(stream)
        if agg is None or mono < agg.next_flush:
            return
        agg.next_flush = mono + interval
        if agg.first_u is None:
            return
        self._fanout(stream, {"e": "depthUpdate", "E": now_ms, "T": now_ms, "s": spec.symbol, "U": agg.first_u,
                              "u": agg.last_u, "pu": agg.pu,
                              "b": self._levels(spec, sorted(agg.bids.items(), reverse=True)),
                              "a": self._levels(spec, sorted(agg.asks.items()))})
        agg.first_u = agg.pu = agg.last_u = None
        agg.bids, agg.asks = {}, {}

    def _partials(self, sym: str, low: str, spec: PerpSpec, now_ms: int, mono: float) -> None:
        first, last, pu = self.last_event.get(sym, (0, 0, 0))
        for levels in (5, 10, 20):
            for speed in ("", "@100ms", "@500ms"):
                stream = f"{low}@depth{levels}{speed}"
                if stream not in self.subs or not self.subs[stream]:
                    continue
                book = self.books[sym]
                self._fanout(stream, {"e": "depthUpdate", "E": now_ms, "T": now_ms, "s": sym, "U": first,
                                      "u": last, "pu": pu, "b": self._levels(spec, book.top(BID, levels)),
                                      "a": self._levels(spec, book.top(ASK, levels))})

    def _book_ticker(self, sym: str, low: str, now_ms: int) -> None:
        stream = f"{low}@bookTicker"
        if not self.subs.get(stream):
            return
        book = self.books[sym]
        key = (book.best(BID), book.best(ASK))
        if self.last_bt.get(sym) == key:
            return
        self.last_bt[sym] = key
        self._fanout(stream, self.book_ticker_obj(sym, now_ms))

    def _mark(self, sym: str, low: str, now_ms: int, mono: float) -> None:
        for stream, interval in ((f"{low}@markPrice", 3.0), (f"{low}@markPrice@1s", 1.0)):
            if not self.subs.get(stream) or mono < self.next_mark.get(stream, 0.0):
                continue
            self.next_mark[stream] = mono + interval
            pi = self.sim.premium_index(sym)
            self._fanout(stream, {"e": "markPriceUpdate", "E": now_ms, "s": sym, "p": pi["markPrice"],
                                  "i": pi["indexPrice"], "P": pi["estimatedSettlePrice"],
                                  "r": pi["lastFundingRate"], "T": pi["nextFundingTime"]})

    # ---- subscriptions -----------------------------------------------------------------------
    def add(self, client: WsClient, stream: str, combined: bool, route: str) -> bool:
        parsed = parse_stream(stream)
        if parsed is None or parsed[0] not in self.specs:
            return False
        kind = parsed[1]
        if (route == "public" and kind not in PUBLIC_KINDS) or (route == "market" and kind not in MARKET_KINDS):
            self.sim.metrics.misrouted.labels(route).inc()
            return False
        self.subs.setdefault(stream, {})[client] = combined
        if kind == "depth" and parsed[2] == 0 and parsed[3] != 0.1 and stream not in self.aggs:
            self.aggs[stream] = _Agg(time.monotonic() + parsed[3])
        return True

    def remove(self, client: WsClient, stream: str) -> None:
        self.subs.get(stream, {}).pop(client, None)

    def drop(self, client: WsClient) -> None:
        for subs in self.subs.values():
            subs.pop(client, None)

    def streams_of(self, client: WsClient) -> list[str]:
        return [s for s, subs in self.subs.items() if client in subs]


async def binance_ws_handler(request: web.Request) -> web.WebSocketResponse:
    """Serve /ws/<streams>, /stream?streams=... and their /public and /market twins."""
    sim, hub = request.app[SIM_KEY], request.app[SIM_KEY].binance_hub
    path = request.path
    route = "public" if path.startswith("/public/") else "market" if path.startswith("/market/") else "legacy"
    combined = path.endswith("/stream")
    names = request.query.get("streams", "") if combined else request.match_info.get("streams", "")
    ws = web.WebSocketResponse(autoping=True, heartbeat=180.0, compress=False, max_msg_size=1 << 20)
    await ws.prepare(request)
    client = WsClient(ws, "binance_usdm", False, sim.dice, sim.metrics, sim.stalls["binance_usdm"])
    sim.register_ws("binance_usdm", client)
    for name in filter(None, names.split("/")):
        hub.add(client, name, combined, route)
    writer = asyncio.get_running_loop().create_task(client.run_writer())
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            client.push(_control(hub, client, msg.data, combined, route))
    finally:
        hub.drop(client)
        sim.unregister_ws("binance_usdm", client)
        client.closed = True
        client.wakeup.set()
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
    return ws


def _control(hub: BinanceHub, client: WsClient, text: str, combined: bool, route: str) -> bytes:
    """Answer a SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS request."""
    try:
        req = orjson.loads(text)
    except orjson.JSONDecodeError:
        return orjson.dumps({"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}, "id": None})
    if not isinstance(req, dict) or req.get("method") not in ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS"):
        return orjson.dumps({"error": {"code": 2, "msg": "Invalid request: unknown variant"}, "id": None})
    rid, method, params = req.get("id"), req["method"], req.get("params") or []
    if not isinstance(params, list):
        return orjson.dumps({"error": {"code": 2, "msg": "Invalid request: params must be an array"}, "id": rid})
    if method == "LIST_SUBSCRIPTIONS":
        return orjson.dumps({"result": hub.streams_of(client), "id": rid})
    for name in params:
        if method == "SUBSCRIBE":
            hub.add(client, str(name), combined, route)
        else:
            hub.remove(client, str(name))
    return orjson.dumps({"result": None, "id": rid})
