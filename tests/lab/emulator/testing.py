"""Run an emulator as a subprocess on 127.0.0.1 with free high ports (for tests).

Usage::

    with EmulatorProcess(profile_path) as emu:
        sock.sendto(probe, ("127.0.0.1", emu.port(3702)))

The process is started with ``--bind 127.0.0.1`` (so it never sends multicast
from the host namespace), ``--max-delay 0`` by default, and a ``--port-map``
moving every profile port to a free ephemeral port.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Self

from tests.lab.profiles import load_profile

if TYPE_CHECKING:
    from types import TracebackType

ROOT = Path(__file__).resolve().parents[3]
READY_TIMEOUT = 20.0


def free_port() -> int:
    """A port number free for both TCP and UDP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port found")


class EmulatorProcess:
    """One emulator subprocess with its port map, stdout and stderr."""

    def __init__(
        self,
        profile: Path,
        *,
        max_delay: float = 0.0,
        extra_args: tuple[str, ...] = (),
        bind: str = "127.0.0.1",
    ) -> None:
        self.profile_path = profile
        self.profile = load_profile(profile, placement=False)
        ports = set(self.profile.tcp_ports) | set(self.profile.udp_ports)
        self.ports = {p: free_port() for p in sorted(ports)}
        self.max_delay = max_delay
        self.extra_args = extra_args
        self.bind = bind
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_line = ""
        self._stderr_path: Path | None = None
        self._stderr: IO[bytes] | None = None

    def port(self, profile_port: int) -> int:
        """Where a profile port really listens."""
        return self.ports[profile_port]

    @property
    def argv(self) -> list[str]:
        """The command line used."""
        mapping = ",".join(f"{k}={v}" for k, v in self.ports.items())
        argv = [
            sys.executable,
            "-m",
            "tests.lab.emulator",
            str(self.profile_path),
            "--bind",
            self.bind,
            "--max-delay",
            str(self.max_delay),
        ]
        if mapping:
            argv += ["--port-map", mapping]
        return argv + list(self.extra_args)

    def start(self) -> Self:
        """Start and wait for the READY line (raises with stderr on failure)."""
        import tempfile  # noqa: PLC0415

        handle, name = tempfile.mkstemp(prefix="emu-stderr-")
        os.close(handle)
        self._stderr_path = Path(name)
        self._stderr = self._stderr_path.open("wb")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + READY_TIMEOUT
        line = b""
        try:
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    break
                chunk = os.read(self.proc.stdout.fileno(), 1)
                if not chunk:
                    break
                line += chunk
        finally:
            selector.close()
        self.ready_line = line.decode(errors="replace").strip()
        if self.ready_line != f"READY {self.profile.id}":
            self.stop()
            raise RuntimeError(
                f"emulator did not get ready (got {self.ready_line!r}); stderr:\n{self.stderr()}"
            )
        return self

    def stderr(self) -> str:
        """Everything the emulator logged so far."""
        if self._stderr_path is None:
            return ""
        with contextlib.suppress(OSError):
            return self._stderr_path.read_text(errors="replace")
        return ""

    def stdout_rest(self) -> str:
        """Whatever the process wrote to stdout after READY (after it exited)."""
        if self.proc is None or self.proc.stdout is None:
            return ""
        return self.proc.stdout.read().decode(errors="replace")

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig`` and wait; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """Terminate (kill if needed) and release files."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def cleanup(self) -> None:
        """Stop and delete the stderr file."""
        self.stop()
        if self._stderr_path is not None:
            self._stderr_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
