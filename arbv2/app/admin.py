"""The admin HTTP API on the engine's aiohttp server (docs/admin.md): status, pause, resume, kill,
thresholds and evidence, behind a bearer token.

Safe by default: the server binds to loopback unless config allows remote admin; with no
ARBV2_ADMIN_TOKEN every mutating call is refused (403); tokens are compared in constant time and
only their fingerprint (sha256, 8 hex) is ever logged. A bad request gets a 4xx JSON error naming
the problem and changes nothing. Every mutating call, refused or not, goes to the "arbv2.audit"
logger with who, when and what.
"""
from __future__ import annotations

import dataclasses
import decimal
import enum
import hashlib
import hmac
import ipaddress
import json
import logging
import time
from typing import Any, Awaitable, Callable, Mapping, Protocol

from aiohttp import web

from arbv2.app.evidence import evidence_path, valid_run_id
from arbv2.core.config import Config, StrategyConfig, SymbolOverride, build
from arbv2.core.typed_data import to_plain
from arbv2.core.errors import ConfigError

GLOBAL_THRESHOLD_KEYS = ("entry_edge_bps", "exit_edge_bps", "slippage_bps", "safety_margin_bps")
SYMBOL_THRESHOLD_KEYS = tuple(f.name for f in dataclasses.fields(SymbolOverride))
THRESHOLDS_STATE_KEY = "thresholds"
MAX_BODY_BYTES = 64 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class EngineControl(Protocol):
    """The engine's control surface, as the admin API drives it."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    async def kill(self, flatten: bool) -> Any: ...
    def set_thresholds(self, base: str | None = None, **kv: Any) -> Any: ...
    def status(self) -> dict[str, Any]: ...


class StateStoreLike(Protocol):
    async def put(self, key: str, value: dict[str, Any]) -> None: ...


class ApiError(Exception):
    """A request the API refuses: HTTP status and a one-line reason for the JSON body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _default(obj: Any) -> Any:
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if dataclasses.is_dataclass(obj):
        return to_plain(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers,
                             dumps=lambda d: json.dumps(d, default=_default, sort_keys=True))


def fingerprint(token: str) -> str:
    """Return the first 8 hex digits of sha256(token): identifies a token in logs, reveals nothing."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_admin_bind(cfg: Config) -> None:
    """Raise ConfigError when the server would expose the admin API beyond loopback unasked."""
    host = cfg.server.host
    if is_loopback(host):
        return
    if not cfg.server.allow_remote_admin:
        raise ConfigError(f"server.host: {host!r} is not a loopback address and the admin API listens there; "
                          "allowed: 127.0.0.1/::1/localhost, or set server.allow_remote_admin: true")
    if not cfg.secrets.admin_token:
        raise ConfigError("server.allow_remote_admin: remote admin needs ARBV2_ADMIN_TOKEN set")


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every refusal and every unexpected error into a JSON body; never a crash or HTML."""
    try:
        return await handler(request)
    except ApiError as exc:
        headers = {"WWW-Authenticate": 'Bearer realm="arbv2-admin"'} if exc.status == 401 else None
        return json_response({"error": str(exc)}, exc.status, headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return json_response({"error": f"{exc.reason}: {request.method} {request.path}"}, exc.status, headers)
    except Exception as exc:  # last line of defence: log it, answer 500, keep serving
        logging.getLogger("arbv2.admin").exception("admin request %s %s failed", request.method, request.path)
        return json_response({"error": f"internal error: {type(exc).__name__}"}, 500)


class AdminApi:
    """Handlers of /admin/*: authenticate, validate, apply through EngineControl, persist, audit."""

    def __init__(self, control: EngineControl, cfg: Config, *, state_store: StateStoreLike | None = None,
                 evidence_dir: str = "evidence", audit_logger: logging.Logger | None = None) -> None:
        self._control = control
        self._cfg = cfg
        self._store = state_store
        self._evidence_dir = evidence_dir
        self._audit = audit_logger or logging.getLogger("arbv2.audit")
        self._strategy: StrategyConfig = cfg.strategy

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/admin/status", self.status), web.post("/admin/pause", self.pause),
                web.post("/admin/resume", self.resume), web.post("/admin/kill", self.kill),
                web.put("/admin/thresholds", self.thresholds),
                web.get("/admin/evidence/{run_id}", self.evidence)]

    # -------------------------------------------------------------- auth and audit

    @staticmethod
    def _given_token(request: web.Request) -> str | None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return given.strip() if scheme.lower() == "bearer" and given.strip() else None

    def _who(self, request: web.Request) -> str:
        token = self._given_token(request)
        return f"{request.remote or '?'} token:{fingerprint(token) if token else 'none'}"

    def _authenticate(self, request: web.Request, *, mutating: bool) -> str:
        """Return who is calling, or raise 401 (missing/wrong token) or 403 (no token configured)."""
        given = self._given_token(request)
        expected = self._cfg.secrets.admin_token
        if not expected:
            if mutating:
                raise ApiError(403, "admin token not configured: set ARBV2_ADMIN_TOKEN to allow changes")
        elif given is None:
            raise ApiError(401, "missing bearer token (Authorization: Bearer <ARBV2_ADMIN_TOKEN>)")
        elif not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(401, "wrong token")
        return self._who(request)

    def _log(self, action: str, who: str, what: Mapping[str, Any], outcome: str) -> None:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        level = logging.INFO if outcome == "ok" else logging.WARNING
        self._audit.log(level, "admin %s %s who=%s when=%s what=%s", action, outcome, who, when,
                        json.dumps(what, default=_default, sort_keys=True),
                        extra={"event": f"admin_{action}", "reason": outcome})

    async def _mutate(self, request: web.Request, action: str,
                      apply: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]) -> web.Response:
        """Authenticate, parse, apply and audit one mutating call (refusals are audited too)."""
        what: dict[str, Any] = {}
        try:
            who = self._authenticate(request, mutating=True)
        except ApiError as exc:
            self._log(action, self._who(request), what, f"refused {exc.status}: {exc}")
            raise
        try:
            what = await _body(request)
            result = await apply(who, what)
        except ApiError as exc:
            self._log(action, who, what, f"refused {exc.status}: {exc}")
            raise
        except Exception as exc:
            self._log(action, who, what, f"error: {type(exc).__name__}: {exc}")
            raise
        self._log(action, who, what, "ok")
        return json_response({"ok": True, "action": action, **result})

    # -------------------------------------------------------------- handlers

    async def status(self, request: web.Request) -> web.Response:
        self._authenticate(request, mutating=False)
        doc = dict(self._control.status())
        doc.setdefault("mode", self._cfg.mode)
        doc.setdefault("limits", to_plain(self._cfg.risk))
        doc.setdefault("thresholds", self.thresholds_doc())
        return json_response(doc)

    async def pause(self, request: web.Request) -> web.Response:
        async def apply(who: str, body: dict[str, Any]) -> dict[str, Any]:
            _only(body, ())
            self._control.pause()
            return {"paused": True}
        return await self._mutate(request, "pause", apply)

    async def resume(self, request: web.Request) -> web.Response:
        async def apply(who: str, body: dict[str, Any]) -> dict[str, Any]:
            _only(body, ())
            self._control.resume()
            return {"paused": False}
        return await self._mutate(request, "resume", apply)

    async def kill(self, request: web.Request) -> web.Response:
        async def apply(who: str, body: dict[str, Any]) -> dict[str, Any]:
            _only(body, ("flatten",))
            flatten = body.get("flatten", self._cfg.risk.flatten_on_kill)
            if not isinstance(flatten, bool):
                raise ApiError(400, f"flatten: invalid value {flatten!r}; allowed: true or false")
            result = await self._control.kill(flatten)
            return {"flatten": flatten, "result": result}
        return await self._mutate(request, "kill", apply)

    async def thresholds(self, request: web.Request) -> web.Response:
        async def apply(who: str, body: dict[str, Any]) -> dict[str, Any]:
            symbol, changes, new = validate_thresholds(body, self._cfg, self._strategy)
            try:
                self._control.set_thresholds(symbol, **changes)
            except (ValueError, ConfigError) as exc:
                raise ApiError(400, str(exc)) from None
            self._strategy = new
            doc = self.thresholds_doc()
            if self._store is not None:
                await self._store.put(THRESHOLDS_STATE_KEY, {**doc, "updated_by": who, "updated_at_ns": time.time_ns()})
            return {"symbol": symbol, "applied": changes, "thresholds": doc}
        return await self._mutate(request, "thresholds", apply)

    async def evidence(self, request: web.Request) -> web.Response:
        self._authenticate(request, mutating=False)
        run_id = request.match_info["run_id"]
        if not valid_run_id(run_id):
            raise ApiError(400, f"run id {run_id!r} is invalid; allowed: [A-Za-z0-9_.-], no '..'")
        path = evidence_path(run_id, self._evidence_dir)
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            raise ApiError(404, f"no evidence for run {run_id}") from None
        return web.Response(body=body, content_type="application/json")

    def thresholds_doc(self) -> dict[str, Any]:
        """Return the thresholds in effect, shaped as a config overlay ({"strategy": {...}})."""
        s = to_plain(self._strategy)
        strategy = {k: s[k] for k in GLOBAL_THRESHOLD_KEYS}
        strategy["overrides"] = {sym: {k: v for k, v in o.items() if v is not None}
                                 for sym, o in s["overrides"].items()}
        return {"strategy": strategy}


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"body must be a JSON object, got {type(data).__name__}")
    return data


def _only(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown key; allowed: {', '.join(allowed) or 'none'}")


def validate_thresholds(body: Mapping[str, Any], cfg: Config, current: StrategyConfig
                        ) -> tuple[str | None, dict[str, Any], StrategyConfig]:
    """Validate a thresholds change like config: return (symbol, coerced changes, new strategy).

    Without "symbol" the keys are global strategy thresholds; with it, that symbol's overrides.
    Raises ApiError(400) naming the first bad key or value.
    """
    changes = dict(body)
    symbol = changes.pop("symbol", None)
    if symbol is not None and symbol not in cfg.symbols:
        raise ApiError(400, f"symbol: {symbol!r} is not configured; allowed: {', '.join(cfg.symbols)}")
    allowed = SYMBOL_THRESHOLD_KEYS if symbol else GLOBAL_THRESHOLD_KEYS
    _only(changes, allowed)
    if not changes:
        raise ApiError(400, f"no thresholds given; allowed keys: {', '.join(allowed)}")
    plain = to_plain(current)
    target = plain["overrides"].setdefault(symbol, {}) if symbol else plain
    target.update(changes)
    try:
        new = build(StrategyConfig, plain, "strategy")
    except ConfigError as exc:
        raise ApiError(400, str(exc)) from None
    node: Any = new.overrides[symbol] if symbol else new
    coerced = {k: getattr(node, k) for k in changes}
    where = f"strategy.overrides.{symbol}." if symbol else "strategy."
    if coerced.get("entry_edge_bps") is not None and coerced["entry_edge_bps"] <= 0:
        raise ApiError(400, f"{where}entry_edge_bps: invalid value {coerced['entry_edge_bps']!r}; allowed: > 0")
    notional = coerced.get("order_notional_krw")
    if notional is not None and not 0 < notional <= min(cfg.sizing.max_order_notional_krw,
                                                        cfg.risk.max_position_krw_per_symbol):
        raise ApiError(400, f"{where}order_notional_krw: invalid value {notional!r}; allowed: > 0 and <= "
                            "sizing.max_order_notional_krw and risk.max_position_krw_per_symbol")
    return symbol, coerced, new


def admin_routes(control: EngineControl, cfg: Config, *, state_store: StateStoreLike | None = None,
                 evidence_dir: str = "evidence", audit_logger: logging.Logger | None = None) -> list[web.RouteDef]:
    """Return the /admin/* routes (mount them with app.add_routes on an app using `json_errors`)."""
    return AdminApi(control, cfg, state_store=state_store, evidence_dir=evidence_dir,
                    audit_logger=audit_logger).routes()


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def counted(metrics: Any) -> Callable:
    """Return a middleware that counts every /admin request by HTTP status (bad requests included)."""
    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.path.startswith("/admin"):
            metrics.inc("admin_requests", status=str(response.status))
        return response
    return count


def build_server_app(control: EngineControl, cfg: Config, *, metrics_handler: Handler | None = None,
                     state_store: StateStoreLike | None = None, evidence_dir: str = "evidence",
                     audit_logger: logging.Logger | None = None, metrics: Any = None) -> web.Application:
    """Return the engine's aiohttp app: /admin/*, /healthz and (when given) /metrics.

    Raises ConfigError when cfg.server would expose the admin API beyond loopback unasked.
    """
    check_admin_bind(cfg)
    middlewares = [json_errors] if metrics is None else [counted(metrics), json_errors]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    app.add_routes(admin_routes(control, cfg, state_store=state_store, evidence_dir=evidence_dir,
                                audit_logger=audit_logger))
    app.add_routes([web.get("/healthz", healthz)])
    if metrics_handler is not None:
        app.add_routes([web.get("/metrics", metrics_handler)])
    return app
