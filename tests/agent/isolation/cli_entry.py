"""Run ``cctv-sentinel`` from this interpreter: ``python -m tests.agent.isolation.cli_entry ...``.

Tests inside namespaces use it so the agent runs from the same environment as
the test, whatever PATH the namespace has.
"""

from __future__ import annotations

from cctv_sentinel.cli import main as cli

if __name__ == "__main__":
    cli.entrypoint()
