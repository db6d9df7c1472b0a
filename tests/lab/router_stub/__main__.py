"""Run the MikroTik REST stub: ``python -m tests.lab.router_stub [--host H] [--port P]``.

The password is read from the environment variable ``STUB_PASSWORD`` (never the
command line). Prints ``READY <host>:<port>`` once listening, then serves until
SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

from tests.lab.router_stub.mikrotik import serve


async def _main(host: str, port: int, username: str, password: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with serve(username=username, password=password, host=host, port=port) as stub:
        print(f"READY {stub.url.removeprefix('http://')}", flush=True)
        await stop.wait()


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m tests.lab.router_stub")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--username", default="sentinel")
    args = parser.parse_args()
    password = os.environ.get("STUB_PASSWORD", "stub-password")
    asyncio.run(_main(args.host, args.port, args.username, password))


if __name__ == "__main__":
    main()
