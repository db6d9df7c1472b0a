"""What every third-party peer shares: a host on the LAN, daemons, readiness by protocol.

A :class:`Peer` describes one real third-party implementation (avahi,
minidlna, GUPnP, gst-rtsp-server, lighttpd, ipycam, wsdd) running in its own
namespace of a lab LAN: how to start it (``launch``), how another host on the
link can tell it is ready (``checks``, run by :mod:`tests.lab.peers.check`),
and what a user should be told about it (``camera`` and ``evidence``).

:func:`start_peers` builds their hosts in one batch, writes their
configuration under the lab's work directory, launches everything at once
and then waits, in parallel, for each peer's ready lines and protocol checks.
Nothing is waited for by sleeping: on a loaded two-core machine a daemon may
take seconds to come up, and a check simply keeps asking until the deadline.
Every process runs inside the peer's namespace and configured for its eth0
only; the lab kills them all and removes the namespaces on close.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from tests.lab import netlab, procs

SYSTEM_PYTHON = "/usr/bin/python3"
"""Debian's interpreter: the GObject peers (GUPnP, GStreamer) import its python3-gi."""

CHECKER_IP = "198.18.0.3"
"""The LAN host that runs the readiness checks (never the scanner: its caches stay cold)."""


class PeerUnavailableError(RuntimeError):
    """A program or module a peer needs is not installed here."""


@dataclass(frozen=True)
class ReadyLine:
    """A launched process must print a stdout line starting with ``prefix``."""

    process: netlab.LabProcess
    prefix: str


@dataclass(eq=False)
class Peer:
    """One third-party peer on the LAN (subclasses fill in launch and checks)."""

    kind: ClassVar[str] = "peer"
    needs: ClassVar[tuple[str, ...]] = ()
    """Programs that must exist (checked before anything is built)."""

    name: str
    ip: str
    mac: str | None = None
    camera: ClassVar[bool] = False
    """Whether a person would call this device a camera (what the scan must say)."""
    evidence: ClassVar[str] = ""
    """The evidence the scan can honestly use for that verdict."""
    host: netlab.Host = field(init=False, repr=False)
    workdir: Path = field(init=False, repr=False)
    processes: list[netlab.LabProcess] = field(default_factory=list, repr=False)

    def missing(self) -> list[str]:
        """Programs or modules this peer needs that are absent."""
        return [p for p in self.needs if not Path(p).exists() and shutil.which(p) is None]

    def launch(self, lab: netlab.Lab) -> list[ReadyLine]:
        """Start the peer's processes in ``self.host``; return lines to wait for."""
        raise NotImplementedError

    def checks(self) -> list[list[str]]:
        """Arguments of :mod:`tests.lab.peers.check` that pass once the peer is ready."""
        raise NotImplementedError

    def start(self, lab: netlab.Lab, argv: Sequence[str], label: str) -> netlab.LabProcess:
        """Launch one process of this peer (its output goes to the lab's log files)."""
        process = lab.launch(self.host, argv, label=f"{self.name}-{self.kind}-{label}")
        self.processes.append(process)
        return process

    def logs(self) -> str:
        """The tail of every process's output, for failure messages."""
        parts = []
        for p in self.processes:
            parts.append(f"--- {p.label} (exit {p.returncode}) stdout:\n{p.stdout()[-1500:]}")
            parts.append(f"--- {p.label} stderr:\n{p.stderr()[-1500:]}")
        return "\n".join(parts)


def _wait_checks(
    lab: netlab.Lab, checker: netlab.Host, peers: Sequence[Peer], timeout: float
) -> None:
    """Run every peer's checks in parallel in the checker host; raise on the first failure."""
    running: list[tuple[Peer, list[str], subprocess.Popen[str]]] = []
    for peer in peers:
        for args in peer.checks():
            argv = [
                sys.executable,
                "-m",
                "tests.lab.peers.check",
                *args,
                "--timeout",
                f"{timeout:g}",
            ]
            proc = lab.popen(
                checker,
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=netlab.REPO_ROOT,
            )
            running.append((peer, args, proc))
    deadline = time.monotonic() + timeout + 15.0
    pending = list(running)
    while pending:
        for peer in peers:
            dead = [p for p in peer.processes if p.returncode is not None]
            if dead:
                raise netlab.LabError(
                    f"{peer.kind} {peer.name}: {dead[0].label} exited\n{peer.logs()}"
                )
        for item in list(pending):
            peer, args, proc = item
            if proc.poll() is None:
                if time.monotonic() > deadline:
                    proc.kill()
                else:
                    continue
            _, err = proc.communicate()
            pending.remove(item)
            if proc.returncode != 0:
                raise netlab.LabError(
                    f"{peer.kind} {peer.name} ({peer.ip}) not ready: {' '.join(args)}: "
                    f"{err.strip()}\n{peer.logs()}"
                )
        time.sleep(0.05)  # polling processes, not waiting for a peer: the checks do that


def start_peers(
    lab: netlab.Lab,
    switch: netlab.Switch,
    peers: Sequence[Peer],
    *,
    timeout: float = 90.0,
) -> netlab.Host:
    """Put every peer on ``switch`` in its own namespace, start it, wait until it answers.

    Returns the checker host (198.18.0.3) the checks ran from. Raises
    PeerUnavailableError before building anything when a peer's programs are
    missing, and LabError (with the peer's logs) when one does not come up
    within ``timeout`` seconds.
    """
    missing = {p.kind: p.missing() for p in peers if p.missing()}
    if missing:
        raise PeerUnavailableError(
            "; ".join(f"{kind} needs {', '.join(m)}" for kind, m in missing.items())
        )
    specs = [netlab.HostSpec("chk", f"{CHECKER_IP}/24", None, switch, label="checker")]
    specs += [
        netlab.HostSpec(p.name, f"{p.ip}/24", p.mac, switch, label=f"peer:{p.kind}") for p in peers
    ]
    hosts = lab.add_hosts(specs)
    checker = hosts[0]
    waits: list[procs.ReadyWait] = []
    for peer, host in zip(peers, hosts[1:], strict=True):
        peer.host = host
        peer.workdir = lab.workdir / "peers" / peer.name
        peer.workdir.mkdir(parents=True, exist_ok=True)
        for line in peer.launch(lab):
            p = line.process
            waits.append(
                procs.ReadyWait(p.proc, p.stdout_path, p.stderr_path, line.prefix, p.label)
            )
    if waits:
        try:
            procs.wait_ready(waits, timeout=timeout)
        except procs.ReadyError as err:
            raise netlab.LabError(str(err)) from None
    _wait_checks(lab, checker, peers, timeout)
    return checker
