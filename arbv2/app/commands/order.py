"""`arbv2 order place|get|cancel`: the operator's manual order tool (fix a hedge, flatten a position).

`place --dry-run` prints the exact request parameters (translate_intent) as JSON and sends no
order; it reads the venue's market rules first (public endpoints, plus Upbit's /v1/orders/chance
when keys are set). Without --dry-run the order goes through the configured execution mode with
the engine's rules and gates: `sim` sends to venues.*.rest_url (a running `arbv2 sim`), `live`
needs the unlock variable and a passing preflight, and `paper` refuses: paper orders exist only
inside an engine run, where the MockAdapter fills them against the live local book.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import enum
import json
import sys
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from arbv2.core.config import Config, load_config
from arbv2.core.errors import SafetyError, VenueError
from arbv2.core.model import OrderIntent, Venue

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("order", help="place, look up or cancel one order by hand")
    osub = p.add_subparsers(dest="order_command", metavar="ACTION")
    osub.required = True
    place = osub.add_parser("place", help="place one order (or print its payload with --dry-run)")
    _common(place, client_id_required=False)
    place.add_argument("--side", required=True, choices=("buy", "sell"))
    place.add_argument("--type", required=True, choices=("market", "limit"), dest="order_type")
    place.add_argument("--quantity", help="base quantity")
    place.add_argument("--quote-amount", help="quote to spend (Upbit market buy, KRW)")
    place.add_argument("--price", help="limit price")
    place.add_argument("--reduce-only", action="store_true", help="Binance: only reduce the position")
    place.add_argument("--tif", choices=("gtc", "ioc", "fok"), help="time in force (limit orders)")
    place.add_argument("--dry-run", action="store_true", help="print the request parameters; send no order")
    place.set_defaults(func=_place)
    get = osub.add_parser("get", help="look an order up by client order id")
    _common(get, client_id_required=True)
    get.set_defaults(func=_get)
    cancel = osub.add_parser("cancel", help="cancel an order by client order id")
    _common(cancel, client_id_required=True)
    cancel.set_defaults(func=_cancel)


def _common(p: argparse.ArgumentParser, *, client_id_required: bool) -> None:
    p.add_argument("--venue", required=True, choices=[v.value for v in Venue])
    p.add_argument("--symbol", required=True, help="base asset (BTC) or unified symbol (BTC/KRW, BTC/USDT:USDT)")
    p.add_argument("--client-order-id", required=client_id_required, help="client order id (generated if omitted)")
    p.add_argument("--config", default=None, help="YAML file over the defaults")


def _symbol(venue: Venue, symbol: str) -> str:
    if "/" in symbol:
        return symbol
    return f"{symbol.upper()}/KRW" if venue is Venue.UPBIT else f"{symbol.upper()}/USDT:USDT"


def _adapter(cfg: Config, venue: Venue, *, live_preflight_passed: bool = False) -> Any:
    if venue is Venue.UPBIT:
        from arbv2.adapters.upbit.exchange import UpbitAdapter
        return UpbitAdapter(cfg, live_preflight_passed=live_preflight_passed)
    from arbv2.adapters.binance.exchange import BinanceUsdmAdapter
    return BinanceUsdmAdapter(cfg, live_preflight_passed=live_preflight_passed)


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name != "raw"}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    return obj


def _dec(name: str, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"--{name}: not a number: {value!r}") from None


def _intent(args: argparse.Namespace) -> OrderIntent:
    venue = Venue(args.venue)
    return OrderIntent(venue=venue, symbol=_symbol(venue, args.symbol), side=args.side, order_type=args.order_type,
                       quantity=_dec("quantity", args.quantity), quote_amount=_dec("quote-amount", args.quote_amount),
                       price=_dec("price", args.price),
                       client_order_id=args.client_order_id or f"manual-{uuid.uuid4().hex[:20]}",
                       reduce_only=args.reduce_only, time_in_force=args.tif)


async def _sending_adapter(cfg: Config, venue: Venue) -> Any:
    """Return an adapter allowed to send under the configured mode (or raise SafetyError)."""
    if cfg.mode == "paper":
        raise SafetyError("execution mode is 'paper': paper orders exist only inside an engine run "
                          "(the MockAdapter fills them against the live book); set mode to 'sim' "
                          "(venues.*.rest_url at `arbv2 sim`) or 'live' to send an order by hand")
    passed = False
    if cfg.mode == "live":
        from arbv2.app.preflight import require_preflight
        await require_preflight(cfg)        # raises SafetyError when any check fails
        passed = True
    return _adapter(cfg, venue, live_preflight_passed=passed)


async def _run(args: argparse.Namespace, action: str) -> int:
    cfg = load_config(args.config)
    venue = Venue(args.venue)
    try:
        intent = _intent(args) if action == "place" else None
    except ValueError as exc:
        print(f"arbv2 order: {exc}", file=sys.stderr)
        return EXIT_USAGE
    adapter = None
    try:
        if action == "place" and args.dry_run:
            adapter = _adapter(cfg, venue)
            await adapter.load_markets([intent.symbol])
            print(json.dumps(adapter.translate_intent(intent), indent=2))
            return EXIT_OK
        adapter = await _sending_adapter(cfg, venue)
        if action == "place":
            await adapter.load_markets([intent.symbol])
            order = await adapter.submit(intent)
        elif action == "get":
            order = await adapter.order_status(_symbol(venue, args.symbol), args.client_order_id)
        else:
            order = await adapter.cancel(_symbol(venue, args.symbol), args.client_order_id)
        print(json.dumps(_plain(order), indent=2, ensure_ascii=False))
        return EXIT_OK
    except SafetyError as exc:
        print(f"arbv2 order: refused: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except VenueError as exc:
        print(f"arbv2 order: {type(exc).__name__}: {exc} (venue code {exc.code!r})", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if adapter is not None:
            await adapter.close()


def _place(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args, "place"))


def _get(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args, "get"))


def _cancel(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args, "cancel"))
