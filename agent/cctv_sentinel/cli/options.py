"""Options several commands share: parser class, value types, scan and policy options, output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from cctv_sentinel.cli.errors import EXIT_USAGE, PROG
from cctv_sentinel.discovery.scanner import ALL_PROBES
from cctv_sentinel.errors import UsageError


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print one line and exit 2 (argparse's own message, plus where to get help)."""
        self.exit(
            EXIT_USAGE,
            f"{PROG}: error: {message} (see {PROG} {self._sub_hint()}--help)\n",
        )

    def _sub_hint(self) -> str:
        parts = self.prog.split()
        return (" ".join(parts[1:]) + " ") if len(parts) > 1 else ""


def ports(value: str) -> tuple[int, ...]:
    """``80,443,8000-8010`` as a tuple of ports (argparse type)."""
    found: list[int] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        if "-" in item:
            lo_text, _, hi_text = item.partition("-")
            lo, hi = port(lo_text), port(hi_text)
            if hi < lo or hi - lo > 1024:
                raise argparse.ArgumentTypeError(f"bad port range {item!r}")
            found.extend(range(lo, hi + 1))
        else:
            found.append(port(item))
    if not found:
        raise argparse.ArgumentTypeError("no ports given")
    return tuple(dict.fromkeys(found))


def port(text: str) -> int:
    """One TCP port (argparse type)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port {number} is out of range 1-65535")
    return number


def timeout(text: str) -> float:
    """A scan deadline in seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.5 <= value <= 3600:
        raise argparse.ArgumentTypeError("timeout must be between 0.5 and 3600 seconds")
    return value


def probes(text: str) -> frozenset[str]:
    """A comma-separated list of probe names (argparse type)."""
    names = frozenset(p.strip() for p in text.split(",") if p.strip())
    unknown = sorted(names - ALL_PROBES)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown probe {unknown[0]!r}; choose from {', '.join(sorted(ALL_PROBES))}"
        )
    return names


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
        type=ports,
        default=None,
        metavar="LIST",
        help="TCP ports to sweep, e.g. 80,443,554,8000-8010 (default: camera ports)",
    )
    parser.add_argument(
        "--credentials", type=Path, metavar="FILE", help="camera credentials file (YAML)"
    )
    parser.add_argument(
        "--timeout",
        type=timeout,
        default=None,
        metavar="S",
        help="deadline of the whole scan in seconds (default 8)",
    )
    parser.add_argument(
        "--probes", type=probes, default=None, metavar="LIST", help="only these probes"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress indicator on stderr"
    )


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    """``--policy FILE`` and ``--regimes LIST`` (default: every regime in the catalogue)."""
    parser.add_argument(
        "--policy",
        type=Path,
        metavar="FILE",
        help="policy file (YAML: regimes, min_confidence, allow, deny; see docs/catalogue.md)",
    )
    parser.add_argument(
        "--regimes",
        metavar="LIST",
        help="comma-separated regime ids that count as restricted (default: all)",
    )


def add_output_option(parser: argparse.ArgumentParser) -> None:
    """``--output FILE``."""
    parser.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="write the report to FILE"
    )


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
