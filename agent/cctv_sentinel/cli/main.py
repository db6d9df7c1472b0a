"""The ``cctv-sentinel`` command line: the parser, the command table, ``main`` and the entry point.

Exit codes are in :mod:`cctv_sentinel.cli.errors`. ``main(argv)`` takes the
arguments as a list and returns the exit code, so tests drive it directly.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Final

from cctv_sentinel import __version__
from cctv_sentinel.cli import scan
from cctv_sentinel.cli.errors import EXIT_OK, EXIT_USAGE, PROG, handle_errors
from cctv_sentinel.cli.options import Parser
from cctv_sentinel.errors import SentinelError
from cctv_sentinel.logs import setup_logging

COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "run": ("cctv_sentinel.cli.service", "keep watching the network and publish over MQTT"),
    "check-config": ("cctv_sentinel.cli.service", "validate a configuration file"),
    "recover-state": ("cctv_sentinel.cli.state", "save what can be read from a damaged inventory"),
    "classify": (
        "cctv_sentinel.cli.verdicts",
        "verdicts for saved scans (--format json --raw) and nmap XML",
    ),
    "report": ("cctv_sentinel.cli.verdicts", "inventory report for an auditor (HTML or CSV)"),
    "explain": ("cctv_sentinel.cli.verdicts", "the evidence chain for one device (IP or MAC)"),
    "isolate": ("cctv_sentinel.cli.isolation", "cut cameras off the network"),
    "release": ("cctv_sentinel.cli.isolation", "undo the isolation of cameras"),
    "isolation": ("cctv_sentinel.cli.isolation", "list, audit, reset or re-apply isolations"),
}
"""Sub-commands other modules define (each module has ``register(subparsers)``).

Only the module of the command being run is imported (the documented lazy
loading of this package): the service and the isolation backends pull in paho
and aiohttp, which a one-shot scan should not pay for at start-up. The other
commands appear in ``--help`` from this table.
"""


def _command_word(argv: Sequence[str]) -> str | None:
    """The sub-command in argv (global options take no values)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser: every command listed, the one in ``argv`` in full."""
    parser = Parser(
        prog=PROG,
        description="Find the cameras on your networks and who really made them.",
    )
    parser.add_argument("--version", action="store_true", help="show versions and exit")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output on stderr"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    scan.register(sub)
    chosen = COMMANDS.get(_command_word(argv) or "")
    if chosen is not None:
        importlib.import_module(chosen[0]).register(sub)
    for name, (module, summary) in COMMANDS.items():
        if chosen is None or module != chosen[0]:
            sub.add_parser(name, help=summary)  # listed in --help; loaded when chosen
    return parser


def version_text() -> str:
    """``--version``: agent and catalogue versions."""
    try:
        cat = scan.load_judging().load_catalogue().version
    except SentinelError as err:
        cat = f"unavailable ({err})"
    return f"{PROG} {__version__}\ncatalogue {cat}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
    setup_logging(args.verbose)
    with handle_errors(args.debug):
        if args.version:
            sys.stdout.write(version_text())
            return EXIT_OK
        func = getattr(args, "func", None)
        if func is not None:
            code: int = func(args)
            return code
        parser.print_help(sys.stderr)
    return EXIT_USAGE


def entrypoint() -> None:
    """Console-script entry point."""
    try:
        code = main()
    except SystemExit as exc:
        code = (
            EXIT_OK if exc.code is None else exc.code if isinstance(exc.code, int) else EXIT_USAGE
        )
    sys.stdout.flush()
    raise SystemExit(code)
