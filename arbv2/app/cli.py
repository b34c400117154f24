"""The `arbv2` console script.

Each subcommand lives in its own module under arbv2/app/commands/ and exposes
`register(subparsers)`, which adds its parser and sets `func(args) -> int`.
Exit codes: 0 ok, 1 runtime failure, 2 usage or config error. Errors are one line on
stderr; --debug adds the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from arbv2 import __version__
from arbv2.core.errors import ConfigError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default exits 2 as well; keep one line
        self.print_usage(sys.stderr)
        print(f"arbv2: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="arbv2", description="Upbit KRW x Binance USDⓈ-M arbitrage engine")
    parser.add_argument("--version", action="version", version=f"arbv2 {__version__}")
    parser.add_argument("--debug", action="store_true", help="print tracebacks on errors")
    parser.add_argument("--log-json", action="store_true", help="log JSON lines")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    import arbv2.app.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"arbv2.app.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from arbv2.app.logs import setup_logging

    setup_logging(level=args.log_level, json_lines=args.log_json)
    try:
        return int(args.func(args) or EXIT_OK)
    except ConfigError as exc:
        if args.debug:
            raise
        print(f"arbv2: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("arbv2: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI's last line of defence: one clear line, traceback on --debug
        if args.debug:
            raise
        print(f"arbv2: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
