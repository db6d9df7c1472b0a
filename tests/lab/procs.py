"""Process helpers for the lab: find, signal, reap and wait for processes."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

NETNS_DIR = Path("/run/netns")

# Ready lines are short; reading more of a chatty process's stdout is pointless.
_READY_SCAN_BYTES = 64 * 1024


def netns_inode(name: str) -> tuple[int, int] | None:
    """Return (st_dev, st_ino) of a named network namespace, or None if absent."""
    try:
        st = (NETNS_DIR / name).stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _proc_netns(pid: int) -> tuple[int, int] | None:
    try:
        st = Path(f"/proc/{pid}/ns/net").stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def pids_in_netns(names: Iterable[str]) -> dict[str, set[int]]:
    """Map each named namespace to the pids running in it (one /proc scan)."""
    wanted: dict[tuple[int, int], str] = {}
    result: dict[str, set[int]] = {}
    for name in names:
        result[name] = set()
        ino = netns_inode(name)
        if ino is not None:
            wanted[ino] = name
    if not wanted:
        return result
    own = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == own:
            continue
        ns = _proc_netns(pid)
        if ns is not None and ns in wanted:
            result[wanted[ns]].add(pid)
    return result


def process_state(pid: int) -> str | None:
    """Return the one-letter state of a process from /proc, or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after
    # the last ')'.
    rest = raw[raw.rfind(b")") + 2 :].split()
    return rest[0].decode() if rest else None


def pid_alive(pid: int) -> bool:
    """Return True if the pid exists and is not a zombie."""
    return process_state(pid) not in (None, "Z", "X")


def process_start_time(pid: int) -> int | None:
    """Return a process's start time in clock ticks since boot (proc(5) field 22)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    rest = raw[raw.rfind(b")") + 2 :].split()
    try:
        return int(rest[19])
    except (IndexError, ValueError):
        return None


@dataclass
class _Target:
    pid: int
    fd: int


def _pin(pid: int, expect_ns: tuple[int, int] | None) -> _Target | None:
    """Open a pidfd and, when asked, confirm the process is still in expect_ns.

    The pidfd pins the process identity, so a pid reused after the check can
    never receive our signal.
    """
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return None
    if expect_ns is not None and _proc_netns(pid) != expect_ns:
        os.close(fd)
        return None
    return _Target(pid, fd)


def _send(targets: Iterable[_Target], sig: int) -> None:
    for target in targets:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(target.fd, sig)


def _wait_exit(targets: list[_Target], deadline: float) -> list[_Target]:
    """Wait until every target has exited or the deadline passes; return the rest."""
    remaining = list(targets)
    while remaining:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            break
        poller = select.poll()
        for target in remaining:
            poller.register(target.fd, select.POLLIN)
        # A pidfd turns readable when its process exits (zombie or reaped), and
        # unlike the pid it can never refer to a newer process.
        ready = {fd for fd, _ in poller.poll(max(1, int(timeout * 1000)))}
        remaining = [t for t in remaining if t.fd not in ready]
    return remaining


def terminate(
    pids: Mapping[int, tuple[int, int] | None],
    popens: Sequence[subprocess.Popen[bytes] | subprocess.Popen[str]] = (),
    *,
    grace: float = 3.0,
) -> set[int]:
    """SIGTERM the pids, SIGKILL those alive after `grace` seconds, reap popens.

    `pids` maps each pid to the namespace inode it must still be in (or None
    to skip the check). Returns the pids that needed SIGKILL.
    """
    targets = [t for pid, ns in pids.items() if (t := _pin(pid, ns)) is not None]
    killed: set[int] = set()
    try:
        _send(targets, signal.SIGTERM)
        stubborn = _wait_exit(targets, time.monotonic() + grace)
        if stubborn:
            killed = {t.pid for t in stubborn}
            _send(stubborn, signal.SIGKILL)
            _wait_exit(stubborn, time.monotonic() + 5.0)
    finally:
        for target in targets:
            os.close(target.fd)
    for proc in popens:
        if proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1.0)
    return killed


def stop_popen(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str], *, grace: float = 3.0
) -> int | None:
    """Stop one child process (SIGTERM, then SIGKILL after grace); return its code."""
    if proc.poll() is None:
        terminate({proc.pid: None}, [proc], grace=grace)
    return proc.poll()


class ReadyError(RuntimeError):
    """A process did not print its ready line."""


@dataclass
class ReadyWait:
    """One process whose stdout file must show a line starting with `ready`."""

    proc: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    ready: str
    label: str


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


def _ready_line(path: Path, prefix: str) -> str | None:
    try:
        with path.open("rb") as fh:
            data = fh.read(_READY_SCAN_BYTES)
    except OSError:
        return None
    for line in data.splitlines(keepends=True):
        # Only complete lines count: the writer may be half-way through one.
        if line.endswith(b"\n") and line.decode("utf-8", "replace").startswith(prefix):
            return line.decode("utf-8", "replace").rstrip("\r\n")
    return None


def wait_ready(waits: Sequence[ReadyWait], *, timeout: float) -> dict[str, str]:
    """Wait until every process printed its ready line; return label -> line.

    Raises ReadyError naming each process that exited or timed out, with the
    tail of its stderr, as soon as one fails.
    """
    deadline = time.monotonic() + timeout
    pending = {w.label: w for w in waits}
    lines: dict[str, str] = {}
    while pending:
        for label, wait in list(pending.items()):
            line = _ready_line(wait.stdout_path, wait.ready)
            if line is not None:
                lines[label] = line
                del pending[label]
                continue
            code = wait.proc.poll()
            if code is not None:
                raise ReadyError(
                    f"{label}: exited with code {code} before printing"
                    f" {wait.ready!r}; stderr:\n{_tail(wait.stderr_path)}"
                )
        if not pending:
            break
        if time.monotonic() > deadline:
            details = "\n".join(
                f"--- {label} (pid {w.proc.pid}) stderr:\n{_tail(w.stderr_path)}"
                for label, w in pending.items()
            )
            raise ReadyError(
                f"no {sorted({w.ready for w in pending.values()})} line within"
                f" {timeout:.1f}s from {sorted(pending)}\n{details}"
            )
        time.sleep(0.01)
    return lines


def child_env(**extra: str) -> dict[str, str]:
    """The environment for an agent process a test starts.

    pytest-cov's subprocess hook (``COV_CORE_*``) is dropped: the agent runs
    from other working directories inside namespaces, where that hook would
    write line-only data files that cannot be combined with the suite's.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")}
    env.update(extra)
    return env
