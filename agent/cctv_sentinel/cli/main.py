"""The ``cctv-sentinel`` command line.

Exit codes: 0 nothing restricted found, 1 a restricted camera found, 2 bad
usage, configuration or environment (one clear line on stderr, no traceback),
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from cctv_sentinel import __version__
from cctv_sentinel.discovery.credentials import Credentials, load_credentials, world_readable
from cctv_sentinel.discovery.scanner import (
    ALL_PROBES,
    Scanner,
    ScanOptions,
    ScanRun,
    parse_networks,
)
from cctv_sentinel.errors import SentinelError, UsageError
from cctv_sentinel.logs import setup_logging

if TYPE_CHECKING:
    from cctv_sentinel.identify.catalogue import Catalogue
    from cctv_sentinel.model import ScanResult

PROG = "cctv-sentinel"
EXIT_OK = 0
EXIT_RESTRICTED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PREPARE_DELAY = 0.35
"""Seconds into a scan when verdict data starts loading (see _scan)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            EXIT_USAGE,
            f"{PROG}: error: {message} (see {PROG} {self._sub_hint()}--help)\n",
        )

    def _sub_hint(self) -> str:
        parts = self.prog.split()
        return (" ".join(parts[1:]) + " ") if len(parts) > 1 else ""


def _ports(value: str) -> tuple[int, ...]:
    ports: list[int] = []
    for item in value.split(","):
        item = item.strip()  # noqa: PLW2901
        if not item:
            continue
        if "-" in item:
            lo_text, _, hi_text = item.partition("-")
            lo, hi = _port(lo_text), _port(hi_text)
            if hi < lo or hi - lo > 1024:
                raise argparse.ArgumentTypeError(f"bad port range {item!r}")
            ports.extend(range(lo, hi + 1))
        else:
            ports.append(_port(item))
    if not ports:
        raise argparse.ArgumentTypeError("no ports given")
    return tuple(dict.fromkeys(ports))


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range 1-65535")
    return port


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.5 <= value <= 3600:
        raise argparse.ArgumentTypeError("timeout must be between 0.5 and 3600 seconds")
    return value


def _probes(text: str) -> frozenset[str]:
    names = frozenset(p.strip() for p in text.split(",") if p.strip())
    unknown = sorted(names - ALL_PROBES)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown probe {unknown[0]!r}; choose from {', '.join(sorted(ALL_PROBES))}"
        )
    return names


COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("cctv_sentinel.cli.service", "keep watching the network and publish over MQTT"),
    "check-config": ("cctv_sentinel.cli.service", "validate a configuration file"),
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

Only the module of the command being run is imported: the service and the
isolation backends pull in paho and aiohttp, which a one-shot scan should not
pay for at start-up. The other commands appear in ``--help`` from this table.
"""


def _command_word(argv: Sequence[str]) -> str | None:
    """The sub-command in argv (global options take no values)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def add_scan_options(parser: argparse.ArgumentParser) -> None:
    """What to scan and how: shared by scan, report and explain."""
    parser.add_argument(
        "--network",
        "-n",
        action="append",
        default=[],
        metavar="CIDR",
        help="network to scan (repeatable); default: this host's IPv4 networks",
    )
    parser.add_argument(
        "--ports",
        type=_ports,
        default=None,
        metavar="LIST",
        help="TCP ports to sweep, e.g. 80,443,554,8000-8010 (default: camera ports)",
    )
    parser.add_argument(
        "--credentials", type=Path, metavar="FILE", help="camera credentials file (YAML)"
    )
    parser.add_argument(
        "--timeout",
        type=_timeout,
        default=None,
        metavar="S",
        help="deadline of the whole scan in seconds (default 8)",
    )
    parser.add_argument(
        "--probes", type=_probes, default=None, metavar="LIST", help="only these probes"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress indicator on stderr"
    )


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser: every command listed, the one in ``argv`` in full."""
    parser = _Parser(
        prog=PROG,
        description="Find the cameras on your networks and who really made them.",
    )
    parser.add_argument("--version", action="store_true", help="show versions and exit")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output on stderr"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    scan = sub.add_parser("scan", help="scan networks once and list the cameras found")
    scan.add_argument("--format", choices=("table", "json", "csv"), default="table")
    scan.add_argument(
        "--raw", action="store_true", help="JSON: keep every raw observation (for classify)"
    )
    scan.add_argument(
        "--explain", action="store_true", help="print the evidence chain of every camera"
    )
    scan.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report to FILE")
    add_scan_options(scan)
    from cctv_sentinel.cli.verdicts import add_policy_options  # noqa: PLC0415

    add_policy_options(scan)
    scan.set_defaults(func=cmd_scan)
    chosen = COMMANDS.get(_command_word(argv) or "")
    if chosen is not None:
        importlib.import_module(chosen[0]).register(sub)
    for name, (module, summary) in COMMANDS.items():
        if chosen is None or module != chosen[0]:
            sub.add_parser(name, help=summary)  # listed in --help; loaded when chosen
    return parser


@contextlib.contextmanager
def handle_errors(debug: bool) -> Iterator[None]:
    """Turn every failure into one line on stderr and an exit code."""
    try:
        yield
    except SentinelError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        raise SystemExit(err.exit_code) from None
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except (SystemExit, GeneratorExit):
        raise
    except Exception as err:
        if debug:
            raise
        print(
            f"{PROG}: internal error: {type(err).__name__}: {err} (run with --debug for details)",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_USAGE) from None


class _ProgressLine:
    """A one-line progress indicator on a terminal's stderr."""

    FRAMES = "|/-\\"

    def __init__(self, stream: TextIO, networks: str) -> None:
        self.stream = stream
        self.networks = networks
        self.frame = 0

    async def run(self, scanner: Scanner) -> None:
        start = time.monotonic()
        while True:
            p = scanner.progress
            self.frame = (self.frame + 1) % len(self.FRAMES)
            line = (
                f"{self.FRAMES[self.frame]} scanning {self.networks}: {p.hosts} hosts, "
                f"{p.observations} replies, {p.pending} probes running, "
                f"{time.monotonic() - start:.1f} s"
            )
            self.stream.write("\r" + line[:120].ljust(120))
            self.stream.flush()
            await asyncio.sleep(0.1)

    def clear(self) -> None:
        self.stream.write("\r" + " " * 120 + "\r")
        self.stream.flush()


async def _scan(scanner: Scanner, show_progress: bool) -> tuple[ScanRun, Catalogue]:
    # The identify package and its catalogue load in a thread while the probes
    # wait on the network: they are needed only once the scan is over. The
    # thread starts once the sweep's burst of connections is out, so it does
    # not compete with it for the interpreter.
    async def prepare() -> Catalogue:
        await asyncio.sleep(PREPARE_DELAY)
        return await asyncio.to_thread(_prepare_verdicts)

    catalogue = asyncio.create_task(prepare())
    progress = (
        _ProgressLine(sys.stderr, ", ".join(map(str, scanner.networks))) if show_progress else None
    )
    task = asyncio.create_task(progress.run(scanner)) if progress else None
    try:
        run = await scanner.run()
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if progress is not None:
            progress.clear()
    return run, await catalogue


def _load_catalogue() -> Catalogue:
    from cctv_sentinel.identify import load_catalogue  # noqa: PLC0415  (see _scan)

    return load_catalogue()


def _prepare_verdicts() -> Catalogue:
    """Load what judging needs while the scan waits on the network (in a thread).

    The catalogue, the results module and the IEEE registry index behind OUI
    lookups each take tens of milliseconds the first time.
    """
    catalogue = _load_catalogue()
    import cctv_sentinel.identify.verdicts  # noqa: F401, PLC0415
    from cctv_sentinel.identify.oui import lookup  # noqa: PLC0415

    lookup("bc:ad:28:00:00:01")  # any registered MAC: loads netaddr's registry index
    return catalogue


def _load_credentials(path: Path | None) -> Credentials:
    if path is None:
        return Credentials()
    creds = load_credentials(path)
    if world_readable(path):
        print(
            f"{PROG}: warning: {path} is readable by other users; chmod 600 it",
            file=sys.stderr,
        )
    return creds


def live_result(args: argparse.Namespace) -> tuple[ScanResult, Catalogue]:
    """Scan as the options say and judge what was found."""
    options = ScanOptions(
        networks=parse_networks(args.network),
        credentials=_load_credentials(args.credentials),
        **({"ports": args.ports} if args.ports else {}),
        **({"timeout": args.timeout} if args.timeout else {}),
        **({"probes": args.probes} if args.probes else {}),
    )
    scanner = Scanner(options)
    show_progress = not args.no_progress and sys.stderr.isatty()
    run, catalogue = asyncio.run(_scan(scanner, show_progress))
    from cctv_sentinel.cli.verdicts import policy_from_args  # noqa: PLC0415
    from cctv_sentinel.identify.verdicts import result_for_hosts  # noqa: PLC0415  (loaded during the scan)

    result = result_for_hosts(run.info(), run.hosts(), catalogue, policy_from_args(args, catalogue))
    for line in result.info.errors:
        print(f"{PROG}: note: {line}", file=sys.stderr)
    return result, catalogue


def cmd_scan(args: argparse.Namespace) -> int:
    """Scan once, print the report, exit 1 when something restricted was found."""
    if args.raw and args.format != "json":
        raise UsageError("--raw needs --format json")
    if args.policy is not None or args.regimes:
        from cctv_sentinel.cli.verdicts import policy_from_args  # noqa: PLC0415
        from cctv_sentinel.identify import load_catalogue  # noqa: PLC0415

        policy_from_args(args, load_catalogue())  # a bad policy fails before the scan, not after
    result, catalogue = live_result(args)
    write_output(args, render(args, result, catalogue))
    return EXIT_RESTRICTED if result.any_restricted else EXIT_OK


def render(args: argparse.Namespace, result: ScanResult, catalogue: Catalogue) -> str:
    """The result in the format the options ask for."""
    from cctv_sentinel.report.formats import to_csv, to_json, to_table  # noqa: PLC0415

    if args.format == "json":
        return to_json(result, raw=args.raw, catalogue_version=catalogue.version)
    if args.format == "csv":
        return to_csv(result)
    text = to_table(result)
    if args.explain:
        from cctv_sentinel.identify.verdicts import explain_lines  # noqa: PLC0415

        text += "\n" + "\n".join(explain_lines(result, catalogue)) + "\n"
    return text


def write_output(args: argparse.Namespace, text: str) -> None:
    """Print ``text``, or write it atomically to ``--output``."""
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    tmp = args.output.with_name(args.output.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.output)
    except OSError as err:
        raise UsageError(f"cannot write {args.output}: {err.strerror}") from err


def version_text() -> str:
    """``--version``: agent and catalogue versions."""
    try:
        catalogue = _load_catalogue()
        cat = catalogue.version
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
