"""``cctv-sentinel recover-state``: save what can be read from a damaged inventory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cctv_sentinel.cli.errors import EXIT_OK, EXIT_USAGE, say
from cctv_sentinel.inventory.recovery import recover
from cctv_sentinel.service.config import load_config


def register(subparsers: Any) -> None:
    """Add ``recover-state`` to the CLI's sub-parsers."""
    cmd = subparsers.add_parser(
        "recover-state",
        help="save what can be read from a damaged inventory",
        description=(
            "Check the inventory (inventory.sqlite3) in the state directory. A healthy one is "
            "left alone. A damaged one is kept, renamed to inventory.sqlite3.damaged-<time>, and "
            "every row SQLite can still read is copied into a fresh inventory. Stop the agent "
            "first. Nothing is deleted."
        ),
    )
    where = cmd.add_mutually_exclusive_group()
    where.add_argument("--state-dir", type=Path, metavar="DIR", help="the agent's state directory")
    where.add_argument("--config", "-c", type=Path, metavar="FILE", help="the agent's config file")
    cmd.set_defaults(func=cmd_recover_state)


def cmd_recover_state(args: argparse.Namespace) -> int:
    """Check, and if damaged recover, the inventory; one line on stdout."""
    if args.state_dir is not None:
        state_dir = args.state_dir
    elif args.config is not None:
        state_dir = load_config(args.config).agent.state_dir
    else:
        say("error: give --state-dir DIR or --config FILE")
        return EXIT_USAGE
    result = recover(state_dir)
    sys.stdout.write(result.summary() + "\n")
    return EXIT_OK
