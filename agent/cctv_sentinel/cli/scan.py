"""``cctv-sentinel scan``: scan networks once, print what was found and who really made it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO

from cctv_sentinel._util.permissions import warning_if_exposed
from cctv_sentinel.cli.errors import EXIT_OK, EXIT_RESTRICTED, say
from cctv_sentinel.cli.options import (
    add_output_option,
    add_policy_options,
    add_scan_options,
    write_output,
)
from cctv_sentinel.discovery.credentials import Credentials, load_credentials
from cctv_sentinel.discovery.scanner import Scanner, ScanOptions, ScanRun, parse_networks
from cctv_sentinel.errors import UsageError

if TYPE_CHECKING:
    from cctv_sentinel.identify import Catalogue
    from cctv_sentinel.model import ScanResult

PREPARE_DELAY = 0.35
"""Seconds into a scan when verdict data starts loading (see :func:`_scan`)."""


def load_judging() -> ModuleType:
    """:mod:`cctv_sentinel.cli.judging`, imported on first use.

    Lazy on purpose: the identify package, its catalogue and the report formats
    cost about 40 ms to import, which the scan pays in a thread while its probes
    wait on the network instead of before its first packet.
    """
    from cctv_sentinel.cli import judging  # noqa: PLC0415  (lazy, see above)

    return judging


def register(sub: Any) -> None:
    """Add ``scan`` to the command line."""
    scan = sub.add_parser("scan", help="scan networks once and list the cameras found")
    scan.add_argument("--format", choices=("table", "json", "csv"), default="table")
    scan.add_argument(
        "--raw", action="store_true", help="JSON: keep every raw observation (for classify)"
    )
    scan.add_argument(
        "--explain", action="store_true", help="print the evidence chain of every camera"
    )
    add_output_option(scan)
    add_scan_options(scan)
    add_policy_options(scan)
    scan.set_defaults(func=cmd_scan)


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
    # Judging (identify, the catalogue, the OUI registry) loads in a thread while
    # the probes wait on the network: it is needed only once the scan is over.
    # The thread starts once the sweep's burst of connections is out, so it does
    # not compete with it for the interpreter.
    async def prepare() -> Catalogue:
        await asyncio.sleep(PREPARE_DELAY)
        catalogue: Catalogue = await asyncio.to_thread(lambda: load_judging().prepare())
        return catalogue

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


def _load_credentials(path: Path | None) -> Credentials:
    if path is None:
        return Credentials()
    creds = load_credentials(path)
    warning = warning_if_exposed(path)
    if warning:
        say(f"warning: {warning}")
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
    result: ScanResult = load_judging().judge_run(run, args, catalogue)
    for line in result.info.errors:
        say(f"note: {line}")
    return result, catalogue


def cmd_scan(args: argparse.Namespace) -> int:
    """Scan once, print the report, exit 1 when something restricted was found."""
    if args.raw and args.format != "json":
        raise UsageError("--raw needs --format json")
    if args.policy is not None or args.regimes:
        judging = load_judging()
        # A bad policy fails before the scan, not after.
        judging.policy_from_args(args, judging.load_catalogue())
    result, catalogue = live_result(args)
    write_output(args, load_judging().render(args, result, catalogue))
    return EXIT_RESTRICTED if result.any_restricted else EXIT_OK
