"""Run the agent as ``python -m cctv_sentinel``."""

from cctv_sentinel.cli.main import entrypoint

entrypoint()
