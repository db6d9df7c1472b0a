"""Run a command and report its peak resident memory, honestly.

``python -m tests.lab.peakrss OUT.json -- CMD ARGS...`` forks, execs CMD and
writes ``{"exit": code, "peak_rss_kb": n, "wall_s": s}`` to OUT.json (wall time
from the fork to the command's exit, so this helper's own start-up is not
counted); CMD's stdout and stderr pass through.

Why a helper: Linux keeps a process's ``maxrss`` across ``execve``, so a
command spawned straight from a large parent (pytest at 200 MB) reports the
parent's memory as its own. Forked from this small process instead, the
figure is the command's.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    """Fork, exec, wait, report."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m tests.lab.peakrss OUT.json -- CMD ARGS...", file=sys.stderr)
        return 2
    out, command = Path(argv[0]), argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: become the command
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    report = {"exit": code, "peak_rss_kb": usage.ru_maxrss, "wall_s": round(wall, 4)}
    out.write_text(json.dumps(report), encoding="utf-8")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
