"""One module per `arbv2` subcommand; each exposes register(subparsers)."""
