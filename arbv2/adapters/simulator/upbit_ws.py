"""Upbit WebSocket (/websocket/v1): subscription parsing, SNAPSHOT/REALTIME orderbook, ticker and
trade frames in DEFAULT or SIMPLE keys, sent as binary frames of UTF-8 JSON as Upbit does.

Each REALTIME orderbook frame is the full top-N (N = 30, or the `.N` code suffix); a new
subscription request on a connection replaces the previous one.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from decimal import Decimal

import orjson
from aiohttp import WSMsgType, web

from arbv2.adapters.simulator.book import ASK, BID, L2Book
from arbv2.adapters.simulator.wsconn import SIM_KEY, WsClient

ZERO = Decimal(0)
KST = dt.timezone(dt.timedelta(hours=9))
OB_SIMPLE = {"type": "ty", "code": "cd", "timestamp": "tms", "total_ask_size": "tas", "total_bid_size": "tbs",
             "orderbook_units": "obu", "stream_type": "st", "level": "lv"}
UNIT_SIMPLE = {"ask_price": "ap", "bid_price": "bp", "ask_size": "as", "bid_size": "bs"}
TICK_SIMPLE = {"type": "ty", "code": "cd", "opening_price": "op", "high_price": "hp", "low_price": "lp",
               "trade_price": "tp", "prev_closing_price": "pcp", "change": "c", "change_price": "cp",
               "signed_change_price": "scp", "change_rate": "cr", "signed_change_rate": "scr",
               "trade_volume": "tv", "acc_trade_volume": "atv", "acc_trade_volume_24h": "atv24h",
               "acc_trade_price": "atp", "acc_trade_price_24h": "atp24h", "trade_date": "tdt",
               "trade_time": "ttm", "trade_timestamp": "ttms", "ask_bid": "ab", "timestamp": "tms",
               "stream_type": "st", "market_state": "ms", "sequential_id": "sid"}
VALID_DEPTHS = (1, 5, 15, 30)
IDLE_TIMEOUT_S = 120.0


def orderbook_units(book: L2Book, n: int) -> tuple[list[dict], float, float]:
    """Return Upbit's paired units for the top `n` levels plus the two size totals."""
    asks, bids = book.top(ASK, n), book.top(BID, n)
    units = []
    for i in range(max(len(asks), len(bids))):
        ap, asz = asks[i] if i < len(asks) else (ZERO, ZERO)
        bp, bsz = bids[i] if i < len(bids) else (ZERO, ZERO)
        units.append({"ask_price": float(ap), "bid_price": float(bp), "ask_size": float(asz), "bid_size": float(bsz)})
    return units, float(sum((q for _, q in asks), ZERO)), float(sum((q for _, q in bids), ZERO))


def simplify(obj: dict, keys: dict[str, str]) -> dict:
    out = {}
    for k, v in obj.items():
        if k == "orderbook_units":
            v = [{UNIT_SIMPLE[a]: b for a, b in u.items()} for u in v]
        out[keys.get(k, k)] = v
    return out


@dataclass(slots=True)
class Sub:
    """One connection's subscription to one (type, code)."""

    depth: int = 30
    simple: bool = False
    as_list: bool = False


@dataclass(slots=True)
class TickerState:
    """Day statistics Upbit's ticker carries, kept per market."""

    open_price: float
    high: float
    low: float
    last: float
    last_volume: float = 0.0
    acc_volume: float = 0.0
    acc_price: float = 0.0
    last_side: str = "BID"
    last_ts_ms: int = 0


class UpbitHub:
    """Who listens to what, and the frame builders (one serialization per frame variant)."""

    def __init__(self, books: dict[str, L2Book]) -> None:
        self.books = books
        self.subs: dict[tuple[str, str], dict[WsClient, Sub]] = {}
        self.by_client: dict[WsClient, list[tuple[str, str]]] = {}
        self.ticker: dict[str, TickerState] = {}
        self.sent_version: dict[str, int] = {}
        self.trade_seq = int(time.time() * 1000) * 1000

    # ---- frames ----------------------------------------------------------------------------
    def orderbook_obj(self, code: str, n: int, now_ms: int, stream_type: str) -> dict:
        units, tas, tbs = orderbook_units(self.books[code], n)
        return {"type": "orderbook", "code": code, "timestamp": now_ms, "total_ask_size": tas,
                "total_bid_size": tbs, "orderbook_units": units, "stream_type": stream_type, "level": 0}

    def ticker_obj(self, code: str, now_ms: int, stream_type: str) -> dict:
        st = self.ticker[code]
        change = st.last - st.open_price
        ts = dt.datetime.fromtimestamp(now_ms / 1000, dt.timezone.utc)
        return {"type": "ticker", "code": code, "opening_price": st.open_price, "high_price": st.high,
                "low_price": st.low, "trade_price": st.last, "prev_closing_price": st.open_price,
                "change": "RISE" if change > 0 else "FALL" if change < 0 else "EVEN",
                "change_price": abs(change), "signed_change_price": change,
                "change_rate": abs(change) / st.open_price, "signed_change_rate": change / st.open_price,
                "trade_volume": st.last_volume, "acc_trade_volume": st.acc_volume,
                "acc_trade_volume_24h": st.acc_volume, "acc_trade_price": st.acc_price,
                "acc_trade_price_24h": st.acc_price, "trade_date": ts.strftime("%Y%m%d"),
                "trade_time": ts.strftime("%H%M%S"), "trade_timestamp": st.last_ts_ms or now_ms,
                "ask_bid": st.last_side, "market_state": "ACTIVE", "timestamp": now_ms, "stream_type": stream_type}

    def record_trade(self, code: str, price: Decimal, volume: Decimal, ask_bid: str, now_ms: int) -> None:
        """Update the ticker and publish a trade frame to `trade` subscribers."""
        st, p, v = self.ticker[code], float(price), float(volume)
        st.last, st.last_volume, st.last_side, st.last_ts_ms = p, v, ask_bid, now_ms
        st.high, st.low = max(st.high, p), min(st.low, p)
        st.acc_volume += v
        st.acc_price += p * v
        self.trade_seq += 1
        ts = dt.datetime.fromtimestamp(now_ms / 1000, dt.timezone.utc)
        obj = {"type": "trade", "code": code, "timestamp": now_ms, "trade_date": ts.strftime("%Y-%m-%d"),
               "trade_time": ts.strftime("%H:%M:%S"), "trade_timestamp": now_ms, "trade_price": p,
               "trade_volume": v, "ask_bid": ask_bid, "prev_closing_price": st.open_price,
               "change": "RISE" if p > st.open_price else "FALL" if p < st.open_price else "EVEN",
               "change_price": abs(p - st.open_price), "sequential_id": self.trade_seq, "stream_type": "REALTIME"}
        keys = dict(TICK_SIMPLE, trade_date="td")
        self._fanout(("trade", code), lambda sub: self._encode(obj, sub, keys))

    @staticmethod
    def _encode(obj: dict, sub: Sub, keys: dict[str, str]) -> bytes:
        body = simplify(obj, keys) if sub.simple else obj
        return orjson.dumps([body] if sub.as_list else body)

    def _fanout(self, key: tuple[str, str], encode) -> None:
        subs = self.subs.get(key)
        if not subs:
            return
        cache: dict[tuple[int, bool, bool], bytes] = {}
        for client, sub in subs.items():
            ck = (sub.depth, sub.simple, sub.as_list)
            frame = cache.get(ck)
            if frame is None:
                frame = cache[ck] = encode(sub)
            client.push(frame)

    def publish(self, now_ms: int) -> None:
        """Send REALTIME orderbook frames for books that changed, and tickers, once per tick."""
        for code, book in self.books.items():
            if self.sent_version.get(code) == book.version:
                continue
            self.sent_version[code] = book.version
            objs: dict[int, dict] = {}

            def enc(sub: Sub, code: str = code) -> bytes:
                if sub.depth not in objs:
                    objs[sub.depth] = self.orderbook_obj(code, sub.depth, now_ms, "REALTIME")
                return self._encode(objs[sub.depth], sub, OB_SIMPLE)
            self._fanout(("orderbook", code), enc)
            if ("ticker", code) in self.subs:
                tick = self.ticker_obj(code, now_ms, "REALTIME")
                self._fanout(("ticker", code), lambda sub, t=tick: self._encode(t, sub, TICK_SIMPLE))

    # ---- subscriptions -----------------------------------------------------------------------
    def drop(self, client: WsClient) -> None:
        for key in self.by_client.pop(client, []):
            self.subs.get(key, {}).pop(client, None)

    def subscribe(self, client: WsClient, request: object, now_ms: int) -> bytes | None:
        """Apply a subscription request; return an error frame, or None when accepted."""
        if not isinstance(request, list) or not all(isinstance(x, dict) for x in request):
            return _error("WRONG_FORMAT", "요청 형식이 올바르지 않습니다.")
        if not any("ticket" in x for x in request):
            return _error("NO_TICKET", "ticket이 존재하지 않습니다.")
        fmt = next((str(x["format"]).upper() for x in request if "format" in x), "DEFAULT")
        if fmt not in ("DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST"):
            return _error("INVALID_PARAM", f"format {fmt} is not supported")
        types = [x for x in request if "type" in x]
        if not types:
            return _error("NO_TYPE", "type이 존재하지 않습니다.")
        wanted: list[tuple[tuple[str, str], Sub, bool, bool]] = []
        for t in types:
            kind, codes = t.get("type"), t.get("codes")
            if kind not in ("orderbook", "ticker", "trade"):
                return _error("INVALID_PARAM", f"type {kind} is not supported")
            if not isinstance(codes, list) or not codes:
                return _error("NO_CODES", "codes가 존재하지 않습니다.")
            only_snap = bool(t.get("is_only_snapshot", t.get("isOnlySnapshot", False)))
            only_rt = bool(t.get("is_only_realtime", t.get("isOnlyRealtime", False)))
            for raw in codes:
                code, _, suffix = str(raw).partition(".")
                if code not in self.books:
                    return _error("INVALID_PARAM", f"{code} is not a market")
                depth = int(suffix) if suffix.isdigit() and int(suffix) in VALID_DEPTHS else 30
                sub = Sub(depth, fmt in ("SIMPLE", "SIMPLE_LIST"), fmt.endswith("_LIST"))
                wanted.append(((kind, code), sub, only_snap, only_rt))
        self.drop(client)
        keys = []
        for key, sub, only_snap, only_rt in wanted:
            kind, code = key
            if not only_rt and kind == "orderbook":
                client.push(self._encode(self.orderbook_obj(code, sub.depth, now_ms, "SNAPSHOT"), sub, OB_SIMPLE))
            elif not only_rt and kind == "ticker":
                client.push(self._encode(self.ticker_obj(code, now_ms, "SNAPSHOT"), sub, TICK_SIMPLE))
            if not only_snap:
                self.subs.setdefault(key, {})[client] = sub
                keys.append(key)
        self.by_client[client] = keys
        return None


def _error(name: str, message: str) -> bytes:
    return orjson.dumps({"error": {"name": name, "message": message}})


async def upbit_ws_handler(request: web.Request) -> web.WebSocketResponse:
    """Serve one /websocket/v1 connection until it closes, idles out or is dropped by a fault."""
    sim = request.app[SIM_KEY]
    ws = web.WebSocketResponse(autoping=True, compress=False, max_msg_size=1 << 20)
    await ws.prepare(request)
    client = WsClient(ws, "upbit", True, sim.dice, sim.metrics, sim.stalls["upbit"])
    sim.register_ws("upbit", client)
    writer = asyncio.get_running_loop().create_task(client.run_writer())
    try:
        while True:
            try:
                msg = await ws.receive(timeout=sim.upbit_idle_timeout_s)
            except asyncio.TimeoutError:
                if time.monotonic() - client.last_activity >= sim.upbit_idle_timeout_s:
                    break
                continue
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
            client.last_activity = time.monotonic()
            data = msg.data if msg.type == WSMsgType.TEXT else msg.data.decode("utf-8", "replace")
            if data.strip() == "PING":
                client.push(b'{"status":"UP"}')
                continue
            try:
                req = orjson.loads(data)
            except orjson.JSONDecodeError:
                client.push(_error("WRONG_FORMAT", "요청 형식이 올바르지 않습니다."))
                continue
            err = sim.upbit_hub.subscribe(client, req, sim.now_ms("upbit"))
            if err is not None:
                client.push(err)
    finally:
        sim.upbit_hub.drop(client)
        sim.unregister_ws("upbit", client)
        client.closed = True
        client.wakeup.set()
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await ws.close()
    return ws
