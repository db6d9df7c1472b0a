"""Command line: ``python -m tests.lab.emulator PROFILE.json [options]``."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.lab.emulator.app import Emulator
from tests.lab.emulator.context import Options
from tests.lab.profiles import ProfileError, load_profile

EXIT_USAGE = 2
EXIT_BIND = 1


def parse_port_map(text: str) -> dict[int, int]:
    """``80=18080,554=18554`` -> {80: 18080, 554: 18554}."""
    mapping: dict[int, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        left, sep, right = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected PORT=PORT, got {item!r}")
        try:
            src, dst = int(left), int(right)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"not a port pair: {item!r}") from err
        if not (0 < src < 65536 and 0 <= dst < 65536):
            raise argparse.ArgumentTypeError(f"port out of range: {item!r}")
        mapping[src] = dst
    return mapping


def parse_delay(text: str) -> float:
    """A non-negative number of seconds."""
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from err
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError("--max-delay must be within 0-60 s")
    return value


def parse_bind(text: str) -> str:
    """An IPv4 address to listen on."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not an IPv4 address: {text!r}") from err


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.lab.emulator",
        description="Play one device profile on the wire (run inside its netns).",
    )
    parser.add_argument("profile", type=Path, help="device profile JSON file")
    parser.add_argument(
        "--max-delay",
        type=parse_delay,
        default=0.5,
        help="upper bound of the random reply delay in seconds (APP_MAX_DELAY)",
    )
    parser.add_argument(
        "--port-map",
        type=parse_port_map,
        default={},
        help="remap listening ports, e.g. 80=18080,3702=13702",
    )
    parser.add_argument("--bind", type=parse_bind, default="0.0.0.0", help="address")
    parser.add_argument("--hello", action="store_true", help="send WS-Discovery Hello/Bye")
    parser.add_argument(
        "--gsoap-envelope",
        action="store_true",
        help="declare a gSOAP server's whole namespace table in WS-Discovery answers (2.5-4 KiB)",
    )
    parser.add_argument(
        "--stall-signed",
        type=parse_delay,
        default=0.0,
        metavar="SECONDS",
        help="hold each signed (WS-Security) ONVIF request this long before answering",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGTERM/SIGINT; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        # Placement rules are for the corpus files; clones may sit anywhere in the lab range.
        profile = load_profile(args.profile, placement=False)
    except ProfileError as err:
        sys.stderr.write(f"emu: invalid profile {err.where}:\n")
        for line in err.errors:
            sys.stderr.write(f"  {line}\n")
        return EXIT_USAGE
    options = Options(
        max_delay=args.max_delay,
        port_map=args.port_map,
        bind=args.bind,
        hello=args.hello,
        gsoap_envelope=args.gsoap_envelope,
        stall_signed=args.stall_signed,
    )
    emulator = Emulator(profile, options)
    try:
        asyncio.run(emulator.run(hello=args.hello))
    except OSError as err:
        sys.stderr.write(f"emu {profile.id}: cannot start: {err}\n")
        return EXIT_BIND
    return 0


if __name__ == "__main__":
    sys.exit(main())
