"""`arbv2 config show` and `arbv2 config check FILE`."""
from __future__ import annotations

import argparse
import json

from arbv2.core.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="show or check the configuration")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    csub.required = True
    show = csub.add_parser("show", help="print the effective config (secrets masked)")
    show.add_argument("--config", default=None, help="YAML file over the defaults")
    show.set_defaults(func=_show)
    check = csub.add_parser("check", help="validate a config file")
    check.add_argument("file")
    check.set_defaults(func=_check)


def _show(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    print(json.dumps(cfg.public_dict(), indent=2, ensure_ascii=False))
    return 0


def _check(args: argparse.Namespace) -> int:
    cfg = load_config(args.file)
    print(f"{args.file}: ok (mode={cfg.mode}, symbols={','.join(cfg.symbols)}, hash={cfg.config_hash()})")
    return 0
