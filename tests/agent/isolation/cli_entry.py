"""Run ``cctv-sentinel`` with the isolation commands registered.

The lead wires ``commands.register`` into cli.py's ``_COMMAND_MODULES``; until
then (and harmlessly after) tests run the real command line through this:
``python -m tests.agent.isolation.cli_entry isolate ...``.
"""

from __future__ import annotations

from cctv_sentinel import cli
from cctv_sentinel.isolation import commands


def ensure_registered() -> None:
    """Add the isolation commands to the CLI once."""
    if commands.register not in cli._COMMAND_MODULES:
        cli._COMMAND_MODULES.append(commands.register)


if __name__ == "__main__":
    ensure_registered()
    cli.entrypoint()
