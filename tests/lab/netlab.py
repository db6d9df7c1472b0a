"""A LAN of Linux network namespaces for tests: switches, hosts, routers, processes.

Everything a :class:`Lab` makes is named ``cst<pid>x<n>-<name>`` (the pid of the
owning process, a per-process counter) and tracked, so :meth:`Lab.close` removes
exactly that: it kills every process in the lab's namespaces, deletes the
namespaces (which destroys their veths) and any veth it put in the root
namespace. Namespaces of a process that died without cleaning up are found by
the pid in their name and removed by :func:`remove_stale`.

Safety: every address configured is checked to lie in 198.18.0.0/15 (RFC 2544
benchmarking range; IPv6 in 2001:2::/48, RFC 5180, or link-local), the bridges
live in namespaces with no uplink, and nothing in the root namespace is touched
except an explicit :meth:`Lab.attach_root` veth.

Run ``python -m tests.lab.netlab list|cleanup`` to inspect or remove leftovers.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Final, Protocol, Self

from tests.lab import procs

__all__ = [
    "LAB_NET",
    "LAB_NET6",
    "REPO_ROOT",
    "Emulator",
    "Host",
    "HostSpec",
    "Lab",
    "LabError",
    "LabProcess",
    "LanHandle",
    "RootLink",
    "Switch",
    "check_address",
    "close_all",
    "icmp_ping",
    "lab_unavailable_reason",
    "list_lab_namespaces",
    "own_namespaces",
    "owner_alive",
    "remove_stale",
    "root_lock",
]

LAB_NET: Final = ipaddress.IPv4Network("198.18.0.0/15")
"""Every IPv4 address the lab configures lies here (RFC 2544 benchmarking range)."""

LAB_NET6: Final = (
    ipaddress.IPv6Network("2001:2::/48"),  # RFC 5180 benchmarking range
    ipaddress.IPv6Network("fe80::/10"),  # link-local never leaves the link
)
"""IPv6 ranges the lab may configure (for profiles with ``network.ipv6``)."""

LAN_CIDR: Final = ipaddress.IPv4Network("198.18.0.0/24")
ROUTED_CIDR: Final = ipaddress.IPv4Network("198.18.1.0/24")
ROUTER_LAN_IP: Final = "198.18.0.1"
ROUTER_FAR_IP: Final = "198.18.1.1"

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
STATE_DIR: Final = Path("/run/cctv-sentinel-lab")
_OWNERS_DIR: Final = STATE_DIR / "owners"
_ROOT_LOCK_PATH: Final = STATE_DIR / "root-attach.lock"

_PREFIX_RE: Final = re.compile(r"^(?P<prefix>cst(?P<pid>\d+)x(?P<n>\d+))-")
_NAME_RE: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,22}[a-z0-9])?$")
_MAC_RE: Final = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
_PROFILE_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ALIAS_TAG: Final = "cctv-sentinel-lab:"
_IFNAMSIZ: Final = 15  # Linux IFNAMSIZ minus the NUL

_IP_BIN: Final = shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin") or "ip"
_IP_TIMEOUT: Final = 30.0
# Parallel `ip -n NS -batch` jobs while building: enough to hide process start-up
# latency on two cores without a fork storm.
_PARALLEL: Final = 24
_PING_SCRIPT: Final = r"""
import os, socket, struct, sys, time
dst, timeout = sys.argv[1], float(sys.argv[2])
def csum(b):
    b += b"\0" * (len(b) % 2)
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF
ident, body = os.getpid() & 0xFFFF, b"cctv-sentinel-lab"
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
end, seq = time.monotonic() + timeout, 0
while time.monotonic() < end:
    seq += 1
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    sock.sendto(struct.pack("!BBHHH", 8, 0, csum(head + body), ident, seq) + body, (dst, 0))
    resend = min(end, time.monotonic() + 0.25)
    while time.monotonic() < resend:
        sock.settimeout(max(0.005, resend - time.monotonic()))
        try:
            data, addr = sock.recvfrom(2048)
        except TimeoutError:
            break
        off = (data[0] & 0x0F) * 4
        kind, _, _, rid, _ = struct.unpack("!BBHHH", data[off:off + 8])
        if kind == 0 and rid == ident and addr[0] == dst:
            sys.exit(0)
sys.exit(1)
"""


class LabError(RuntimeError):
    """The lab could not build, run or remove something."""


class _ProfileLike(Protocol):
    """What build_lan needs from a tests.lab.profiles.Profile."""

    @property
    def id(self) -> str: ...

    @property
    def raw(self) -> dict[str, Any]: ...

    def write(self, directory: Path) -> Path: ...


# --- addresses -----------------------------------------------------------------


def check_address(value: str, what: str = "address") -> str:
    """Return value if it is an interface/network/address inside the lab ranges.

    Raises ValueError otherwise: the lab never configures anything that could
    route to a real network.
    """
    try:
        net = ipaddress.ip_interface(value).network
    except ValueError:
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError as err:
            raise ValueError(f"{what}: {value!r} is not an IP address") from err
    if isinstance(net, ipaddress.IPv4Network):
        ok = net.subnet_of(LAB_NET)
    else:
        ok = any(net.subnet_of(allowed) for allowed in LAB_NET6)
    if not ok:
        raise ValueError(
            f"{what}: {value!r} is outside the lab ranges"
            f" ({LAB_NET}, {', '.join(map(str, LAB_NET6))})"
        )
    return value


def _check_mac(mac: str | None) -> str | None:
    if mac is None:
        return None
    mac = mac.lower()
    if not _MAC_RE.match(mac) or int(mac[:2], 16) & 1:
        raise ValueError(f"mac: {mac!r} is not a unicast aa:bb:cc:dd:ee:ff address")
    return mac


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(f"name {name!r}: use 1-24 of [a-z0-9-]")
    return name


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if not number:
            return out


# --- running `ip` --------------------------------------------------------------


def _ip(
    args: Sequence[str], *, ns: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    argv = [_IP_BIN, *(["-n", ns] if ns else []), *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=_IP_TIMEOUT, check=False)
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {result.stderr.strip()}")
    return result


def _batch_argv(ns: str | None, *, force: bool = False) -> list[str]:
    return [
        _IP_BIN,
        *(["-n", ns] if ns else []),
        *(["-force"] if force else []),
        "-batch",
        "-",
    ]


def _run_batches(jobs: Sequence[tuple[str | None, Sequence[str]]]) -> None:
    """Run `ip [-n NS] -batch -` jobs in parallel; raise one LabError for all failures.

    Batching cuts a 40-host LAN from hundreds of `ip` processes to one per host.
    """
    failures: list[str] = []
    for start in range(0, len(jobs), _PARALLEL):
        running: list[tuple[str | None, Sequence[str], subprocess.Popen[str]]] = []
        for ns, lines in jobs[start : start + _PARALLEL]:
            proc = subprocess.Popen(
                _batch_argv(ns),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            running.append((ns, lines, proc))
        for ns, lines, proc in running:
            try:
                _, err = proc.communicate("\n".join(lines) + "\n", timeout=_IP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                failures.append(f"[{ns or 'root'}] ip -batch timed out")
                continue
            if proc.returncode != 0:
                failures.append(f"[{ns or 'root'}] {err.strip()}\n  batch: {lines}")
    if failures:
        raise LabError("ip failed:\n" + "\n".join(failures))


def _list_netns() -> list[str]:
    try:
        return sorted(entry.name for entry in procs.NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


# --- ownership, stale cleanup, process-wide safety nets -----------------------------


def _marker(pid: int) -> Path:
    return _OWNERS_DIR / str(pid)


def owner_alive(pid: int) -> bool:
    """Return True if pid is a live lab owner (same process that wrote its marker).

    A live owner always writes its marker before its first namespace, so a
    missing marker or a start time that differs (the pid was reused) means the
    namespaces are orphans.
    """
    if pid == os.getpid():
        return _setup_pid == pid
    try:
        recorded = int(_marker(pid).read_text().strip())
    except (OSError, ValueError):
        return False
    return procs.pid_alive(pid) and procs.process_start_time(pid) == recorded


def list_lab_namespaces() -> list[str]:
    """Every namespace named like a lab's (any owner)."""
    return [name for name in _list_netns() if _PREFIX_RE.match(name)]


def own_namespaces(pid: int | None = None) -> list[str]:
    """Namespaces whose name says they belong to `pid` (default: this process)."""
    pid = os.getpid() if pid is None else pid
    return [n for n in list_lab_namespaces() if n.startswith(f"cst{pid}x")]


def _owner_of(name: str) -> int | None:
    match = _PREFIX_RE.match(name)
    return int(match["pid"]) if match else None


def _root_lab_links() -> list[tuple[str, str]]:
    """Root-namespace links tagged by a lab: (ifname, lab prefix)."""
    result = _ip(["-j", "link", "show"], check=False)
    if result.returncode != 0:
        return []
    links: list[tuple[str, str]] = []
    for link in json.loads(result.stdout or "[]"):
        alias = str(link.get("ifalias", ""))
        if alias.startswith(_ALIAS_TAG):
            links.append((str(link["ifname"]), alias.removeprefix(_ALIAS_TAG)))
    return links


def _destroy_namespaces(names: Sequence[str], *, grace: float) -> list[str]:
    """Kill everything in the namespaces, delete them; return those still present."""
    if not names:
        return []
    found = procs.pids_in_netns(names)
    inodes = {name: procs.netns_inode(name) for name in names}
    targets = {pid: inodes[name] for name, pids in found.items() for pid in pids}
    procs.terminate(targets, grace=grace)
    # -force: keep going past a name that is already gone.
    subprocess.run(
        _batch_argv(None, force=True),
        input="".join(f"netns del {name}\n" for name in names),
        capture_output=True,
        text=True,
        timeout=_IP_TIMEOUT,
        check=False,
    )
    present = set(_list_netns())
    return [name for name in names if name in present]


def remove_stale(*, grace: float = 1.0, include_own: bool = False) -> list[str]:
    """Remove namespaces and root veths left by lab owners that are gone.

    `include_own` also removes namespaces named after this process's pid that
    no live Lab of this process owns (a previous process with the same pid).
    Returns the names removed.
    """
    me = os.getpid()
    with _LIVE_LOCK:
        live_own = {lab.prefix for lab in _LIVE if lab.owner_pid == me}

    def stale(name: str) -> bool:
        """Whether a namespace or tagged link named `cst<pid>x<n>-...` is orphaned."""
        match = _PREFIX_RE.match(name)
        if match is None:
            return False
        pid = int(match["pid"])
        if pid == me:
            return include_own and match["prefix"] not in live_own
        return not owner_alive(pid)

    victims = [name for name in list_lab_namespaces() if stale(name)]
    _destroy_namespaces(victims, grace=grace)
    removed = victims
    for ifname, prefix in _root_lab_links():
        if stale(f"{prefix}-") and _ip(["link", "del", ifname], check=False).returncode == 0:
            removed.append(ifname)
    # Markers of dead owners are litter once their namespaces are gone.
    with contextlib.suppress(OSError):
        for marker in _OWNERS_DIR.iterdir():
            pid = int(marker.name) if marker.name.isdigit() else me
            if pid != me and not owner_alive(pid):
                marker.unlink(missing_ok=True)
    return removed


_LIVE: list[Lab] = []
_LIVE_LOCK = threading.RLock()
_setup_pid: int | None = None
_COUNTER = iter(range(1, 1 << 62))


def close_all() -> None:
    """Close every Lab this process still has open (atexit and signal path)."""
    me = os.getpid()
    with _LIVE_LOCK:
        labs = [lab for lab in _LIVE if lab.owner_pid == me]
    for lab in reversed(labs):
        try:
            lab.close()
        except Exception as err:  # last-chance cleanup: report and go on
            print(f"netlab: closing {lab.prefix} failed: {err}", file=sys.stderr)


def _at_exit() -> None:
    close_all()
    if _setup_pid == os.getpid():
        _marker(os.getpid()).unlink(missing_ok=True)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """Clean up, then die of the same signal as if we had not caught it."""
    try:
        _at_exit()
    finally:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _process_setup() -> None:
    """Once per process: owner marker, own-pid leftovers, atexit and signal hooks."""
    global _setup_pid  # noqa: PLW0603  (process-wide, set once per pid)
    me = os.getpid()
    if _setup_pid == me:
        return
    _OWNERS_DIR.mkdir(parents=True, exist_ok=True)
    marker = _marker(me)
    marker.write_text(f"{procs.process_start_time(me)}\n")
    _setup_pid = me
    # Namespaces carrying our pid before we made any come from a dead process
    # that had the same pid.
    remove_stale(include_own=True)
    atexit.register(_at_exit)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) is signal.SIG_DFL:
                signal.signal(signum, _on_signal)


def icmp_ping(ip: str, *, timeout: float = 2.0, ns: str | None = None) -> bool:
    """Send ICMP echoes to a lab address (from namespace ns, or ours); True if answered."""
    check_address(ip, "ping target")
    prefix = [_IP_BIN, "netns", "exec", ns] if ns else []
    result = subprocess.run(
        [*prefix, sys.executable, "-c", _PING_SCRIPT, ip, str(timeout)],
        capture_output=True,
        timeout=timeout + 10.0,
        check=False,
    )
    return result.returncode == 0


def lab_unavailable_reason() -> str | None:
    """Why namespaces cannot be built here (None when they can)."""
    if os.environ.get("CCTV_LAB_DISABLE") == "1":
        return "the lab is switched off (CCTV_LAB_DISABLE=1)"
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, veths, bridges)"
    if shutil.which(_IP_BIN) is None:
        return "iproute2 `ip` is not installed"
    if not Path("/proc/self/ns/net").exists():
        return "the kernel has no network namespaces"
    return None


# --- root-namespace lock -------------------------------------------------------------

_root_lock_fd: int | None = None
_root_lock_depth = 0
_root_lock_guard = threading.Lock()


def _acquire_root_lock(timeout: float) -> None:
    global _root_lock_fd, _root_lock_depth  # noqa: PLW0603  (one lock per process)
    with _root_lock_guard:
        if _root_lock_depth:
            _root_lock_depth += 1
            return
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(_ROOT_LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise LabError(
                        f"another process holds {_ROOT_LOCK_PATH} (a root-namespace"
                        f" attach) for more than {timeout:.0f}s"
                    ) from None
                time.sleep(0.05)
        _root_lock_fd, _root_lock_depth = fd, 1


def _release_root_lock() -> None:
    global _root_lock_fd, _root_lock_depth  # noqa: PLW0603  (one lock per process)
    with _root_lock_guard:
        if not _root_lock_depth:
            return
        _root_lock_depth -= 1
        if not _root_lock_depth and _root_lock_fd is not None:
            os.close(_root_lock_fd)  # closing drops the flock
            _root_lock_fd = None


@contextlib.contextmanager
def root_lock(timeout: float = 120.0) -> Iterator[None]:
    """Hold the host-wide lock that serialises root-namespace attachments.

    Two labs (in any processes) must not both put 198.18.x.0/24 routes in the
    root namespace; attach_root takes this lock, and tests that inspect the
    root namespace hold it to see a quiet state. Re-entrant within a process.
    """
    _acquire_root_lock(timeout)
    try:
        yield
    finally:
        _release_root_lock()


# --- topology objects --------------------------------------------------------------


@dataclass(eq=False)
class Switch:
    """A namespace holding one Linux bridge (a dumb switch: multicast floods)."""

    name: str
    ns: str
    bridge: str = "br0"


@dataclass(eq=False)
class Host:
    """A namespace attached to switches; a router has several interfaces."""

    lab: Lab = field(repr=False)
    name: str
    ns: str
    interfaces: dict[str, str]
    """Interface name -> address with prefix, e.g. {"eth0": "198.18.0.2/24"}."""
    switches: dict[str, Switch]
    """Interface name -> the switch it plugs into."""
    mac: str | None = None
    label: str | None = None
    """Free text, e.g. the profile id of an emulated device."""
    ports: dict[str, str] = field(default_factory=dict, repr=False)
    """Interface name -> name of its veth peer in the switch namespace."""

    @property
    def cidr(self) -> str:
        """Address with prefix of the first interface."""
        return next(iter(self.interfaces.values()))

    @property
    def ip(self) -> str:
        """IPv4 address of the first interface, without prefix."""
        return self.cidr.split("/", 1)[0]

    @property
    def switch(self) -> Switch:
        """The switch of the first interface."""
        return next(iter(self.switches.values()))

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start argv in this host's namespace (tracked, killed on close)."""
        return self.lab.popen(self, argv, **kwargs)

    def run(
        self, argv: Sequence[str], *, timeout: float = 30.0, **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        """Run argv to completion in this host's namespace."""
        return self.lab.run(self, argv, timeout=timeout, **kwargs)

    def python(
        self, code: str, *args: str, timeout: float = 30.0, **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        """Run `python -c code args...` (this interpreter) in the namespace."""
        return self.run([sys.executable, "-c", code, *args], timeout=timeout, **kwargs)

    def ping(self, ip: str, *, timeout: float = 2.0) -> bool:
        """Return True if an ICMP echo to ip is answered within timeout."""
        return self.lab.ping(self, ip, timeout=timeout)


@dataclass(frozen=True)
class HostSpec:
    """One host to build: name, first-interface address, MAC, switch, gateway."""

    name: str
    cidr: str
    mac: str | None = None
    switch: Switch | None = None
    gateway: str | None = None
    """None: `default dev eth0` (multicast flows, nothing to reach); else via it."""
    ipv6: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class RootLink:
    """A veth end in the root namespace, plugged into a lab switch."""

    ifname: str
    cidr: str
    switch: Switch

    @property
    def ip(self) -> str:
        """Address without prefix."""
        return self.cidr.split("/", 1)[0]


@dataclass(eq=False)
class LabProcess:
    """A process started in a namespace, with stdout/stderr captured to files."""

    host: Host
    argv: tuple[str, ...]
    label: str
    proc: subprocess.Popen[bytes] = field(repr=False)
    stdout_path: Path
    stderr_path: Path
    ready_line: str | None = None

    @property
    def pid(self) -> int:
        """Process id."""
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """Exit code, or None while running."""
        return self.proc.poll()

    def stdout(self) -> str:
        """Everything the process wrote to stdout so far."""
        return self.stdout_path.read_text("utf-8", "replace")

    def stderr(self) -> str:
        """Everything the process wrote to stderr so far."""
        return self.stderr_path.read_text("utf-8", "replace")

    def stop(self, grace: float = 3.0) -> int | None:
        """SIGTERM (SIGKILL after grace) and return the exit code."""
        return procs.stop_popen(self.proc, grace=grace)


@dataclass(eq=False)
class Emulator(LabProcess):
    """An emulated camera (python -m tests.lab.emulator PROFILE)."""

    profile_id: str = ""
    profile_path: Path | None = None


@dataclass
class _NodeSpec:
    name: str
    legs: list[tuple[Switch, str, str | None]]  # switch, cidr, mac
    gateway: str | None = None
    default_dev: bool = True
    forward: bool = False
    ipv6: str | None = None
    label: str | None = None


# --- the lab ------------------------------------------------------------------------


class Lab:
    """Builds and owns namespaces, veths, bridges and processes; close() removes all."""

    def __init__(self, *, workdir: Path | None = None, grace: float = 3.0) -> None:
        reason = lab_unavailable_reason()
        if reason:
            raise LabError(reason)
        _process_setup()
        self.owner_pid = os.getpid()
        self.number = next(_COUNTER)
        self.prefix = f"cst{self.owner_pid}x{self.number}"
        self.grace = grace
        self._own_workdir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix=f"{self.prefix}-")) if workdir is None else workdir
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.switches: dict[str, Switch] = {}
        self.hosts: dict[str, Host] = {}
        self.root_links: list[RootLink] = []
        self._namespaces: list[str] = []
        self._root_ifnames: list[str] = []
        self._popens: list[subprocess.Popen[Any]] = []
        self._processes: list[LabProcess] = []
        self._port_counter = 0
        self._has_root_lock = False
        self._closed = False
        with _LIVE_LOCK:
            _LIVE.append(self)

    def __repr__(self) -> str:
        return f"<Lab {self.prefix} namespaces={len(self._namespaces)}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def namespaces(self) -> list[str]:
        """Names of the namespaces this lab made and has not removed."""
        return list(self._namespaces)

    @property
    def processes(self) -> list[LabProcess]:
        """Processes started with start_ready/start_emulator(s)."""
        return list(self._processes)

    def ns_name(self, name: str) -> str:
        """The namespace name for a lab-local name."""
        return f"{self.prefix}-{_check_name(name)}"

    def _check_open(self) -> None:
        if self._closed:
            raise LabError(f"{self.prefix} is closed")
        if os.getpid() != self.owner_pid:
            raise LabError("a Lab belongs to the process that made it")

    def _claim(self, name: str) -> str:
        ns = self.ns_name(name)
        if ns in self._namespaces:
            raise ValueError(f"{name!r} already exists in {self.prefix}")
        return ns

    def _create_namespaces(self, names: Sequence[str]) -> None:
        # Track before creating: a half-made batch is still cleaned up.
        self._namespaces.extend(names)
        _run_batches([(None, [f"netns add {ns}" for ns in names])])

    # topology -------------------------------------------------------------------

    def add_switch(self, name: str = "sw0") -> Switch:
        """Make a switch namespace with bridge br0 (multicast snooping off)."""
        self._check_open()
        ns = self._claim(name)
        self._create_namespaces([ns])
        switch = Switch(name, ns)
        self.switches[name] = switch
        # Snooping off: the bridge floods multicast to every port like an unmanaged
        # switch, so discovery works without IGMP queriers. No STP: ports forward
        # at once. addrgenmode none: the switch itself never speaks IPv6.
        _run_batches(
            [
                (
                    ns,
                    [
                        "link add br0 type bridge mcast_snooping 0 stp_state 0 forward_delay 0",
                        "link set br0 addrgenmode none",
                        "link set br0 up",
                    ],
                )
            ]
        )
        return switch

    def _default_switch(self) -> Switch:
        if self.switches:
            return next(iter(self.switches.values()))
        return self.add_switch()

    def add_host(
        self,
        name: str,
        ip_cidr: str,
        mac: str | None = None,
        switch: Switch | None = None,
        *,
        gateway: str | None = None,
        ipv6: str | None = None,
        label: str | None = None,
    ) -> Host:
        """Make a host: eth0 on `switch` with address, MAC, lo up, default route.

        Without `gateway` the default route is `dev eth0`, so multicast has a
        route and unicast to unknown addresses dies in ARP on the bridge.
        """
        spec = HostSpec(name, ip_cidr, mac, switch, gateway, ipv6, label)
        return self.add_hosts([spec])[0]

    def add_hosts(self, specs: Sequence[HostSpec]) -> list[Host]:
        """Make many hosts in one batched build (far faster than add_host in a loop)."""
        self._check_open()
        for s in specs:  # before the default switch is made on demand
            check_address(s.cidr, f"{s.name} address")
        nodes = [
            _NodeSpec(
                name=s.name,
                legs=[(s.switch or self._default_switch(), s.cidr, s.mac)],
                gateway=s.gateway,
                ipv6=s.ipv6,
                label=s.label,
            )
            for s in specs
        ]
        return self._build(nodes)

    def add_router(self, name: str, *legs: tuple[Switch, str]) -> Host:
        """Make a router with one interface (eth0, eth1, ...) per (switch, cidr) leg.

        ip_forward is on; it has only connected routes, so it forwards between its
        legs and nowhere else. Multicast is not routed.
        """
        self._check_open()
        if len(legs) < 2:
            raise ValueError("a router needs at least two legs")
        node = _NodeSpec(
            name=name,
            legs=[(sw, cidr, None) for sw, cidr in legs],
            default_dev=False,
            forward=True,
        )
        return self._build([node])[0]

    def _build(self, nodes: Sequence[_NodeSpec]) -> list[Host]:
        names = [self._claim(node.name) for node in nodes]
        if len(set(names)) != len(names):
            raise ValueError("duplicate host names")
        for node in nodes:
            for sw, cidr, mac in node.legs:
                check_address(cidr, f"{node.name} address")
                _check_mac(mac)
                if sw.ns not in self._namespaces:
                    raise ValueError(f"switch {sw.name!r} is not part of {self.prefix}")
            if node.gateway:
                check_address(node.gateway, f"{node.name} gateway")
            if node.ipv6:
                check_address(node.ipv6, f"{node.name} ipv6")
        self._create_namespaces(names)
        per_switch: dict[str, list[str]] = {}
        node_jobs: list[tuple[str | None, Sequence[str]]] = []
        hosts: list[Host] = []
        for node, ns in zip(nodes, names, strict=True):
            lines = ["link set lo up"]
            interfaces: dict[str, str] = {}
            switches: dict[str, Switch] = {}
            ports: dict[str, str] = {}
            for index, (sw, cidr, mac) in enumerate(node.legs):
                ifname = f"eth{index}"
                self._port_counter += 1
                port = f"p{self._port_counter}"
                address = f" address {mac.lower()}" if mac else ""
                per_switch.setdefault(sw.ns, []).extend(
                    [
                        f"link add {port} type veth peer name {ifname}{address} netns {ns}",
                        f"link set {port} addrgenmode none",
                        f"link set {port} master {sw.bridge}",
                        f"link set {port} up",
                    ]
                )
                lines += [f"addr add {cidr} dev {ifname}", f"link set {ifname} up"]
                interfaces[ifname] = cidr
                switches[ifname] = sw
                ports[ifname] = port
            if node.ipv6:
                # replace, not add: a link-local may equal the EUI-64 address the
                # kernel derives from the MAC when eth0 comes up.
                lines.append(f"addr replace {node.ipv6}/64 dev eth0 nodad")
            if node.gateway:
                lines.append(f"route add default via {node.gateway} dev eth0")
            elif node.default_dev:
                lines.append("route add default dev eth0")
            node_jobs.append((ns, lines))
            host = Host(
                lab=self,
                name=node.name,
                ns=ns,
                interfaces=interfaces,
                switches=switches,
                mac=node.legs[0][2],
                label=node.label,
                ports=ports,
            )
            hosts.append(host)
        # The switch side creates each veth with its peer inside the host, then
        # every host configures itself in parallel.
        _run_batches(list(per_switch.items()))
        _run_batches(node_jobs)
        for node, host in zip(nodes, hosts, strict=True):
            if node.forward:
                self._sysctl(host, "net.ipv4.ip_forward=1")
            self.hosts[host.name] = host
        return hosts

    def _sysctl(self, host: Host, setting: str) -> None:
        result = subprocess.run(
            [_IP_BIN, "netns", "exec", host.ns, "sysctl", "-qw", setting],
            capture_output=True,
            text=True,
            timeout=_IP_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise LabError(f"sysctl {setting} in {host.ns}: {result.stderr.strip()}")

    def add_route(self, host: Host, cidr: str, via: str) -> None:
        """Route cidr via a gateway inside host's namespace (both in the lab range)."""
        self._check_open()
        check_address(cidr, "route destination")
        check_address(via, "route gateway")
        _ip(["route", "add", cidr, "via", via], ns=host.ns)

    def attach_root(
        self, ip_cidr: str, switch: Switch | None = None, *, lock_timeout: float = 120.0
    ) -> RootLink:
        """Give the ROOT namespace a veth with ip_cidr on switch (removed on close).

        Only the switch's subnet becomes reachable from the root namespace. Root
        multicast still follows the root's own routes: bind it to this veth
        (IP_MULTICAST_IF = its address) so it never leaves on a real interface.
        Holds the host-wide root lock until close, so labs never overlap there.
        """
        self._check_open()
        check_address(ip_cidr, "root address")
        switch = switch or self._default_switch()
        if not self._has_root_lock:
            _acquire_root_lock(lock_timeout)
            self._has_root_lock = True
        # Root interface names must be unique host-wide and fit IFNAMSIZ: base 36
        # keeps pid and lab number short; the alias records the full prefix.
        ifname = f"cs{_b36(self.owner_pid)}x{_b36(self.number)}r{len(self._root_ifnames)}"
        if len(ifname) > _IFNAMSIZ:
            raise LabError(f"root interface name {ifname!r} is too long")
        self._port_counter += 1
        port = f"p{self._port_counter}"
        self._root_ifnames.append(ifname)
        _ip(["link", "add", ifname, "type", "veth", "peer", "name", port, "netns", switch.ns])
        _run_batches(
            [
                (
                    switch.ns,
                    [
                        f"link set {port} addrgenmode none",
                        f"link set {port} master {switch.bridge}",
                        f"link set {port} up",
                    ],
                ),
                (
                    None,
                    [
                        f"link set {ifname} alias {_ALIAS_TAG}{self.prefix}",
                        f"addr add {ip_cidr} dev {ifname}",
                        f"link set {ifname} up",
                    ],
                ),
            ]
        )
        link = RootLink(ifname, ip_cidr, switch)
        self.root_links.append(link)
        return link

    def remove_host(self, host: Host) -> None:
        """Kill the host's processes and delete its namespace (unplugs its veths)."""
        self._check_open()
        children = [p for p in self._popens if _popen_ns(p) == host.ns]
        procs.terminate(
            {p.pid: None for p in children if p.poll() is None},
            children,
            grace=self.grace,
        )
        # Pull the cables first: a deleted namespace is destroyed asynchronously and
        # would keep answering on its veths for a while; deleting the switch end
        # removes the pair at once.
        unplug: dict[str, list[str]] = {}
        for ifname, port in host.ports.items():
            unplug.setdefault(host.switches[ifname].ns, []).append(f"link del {port}")
        for ns, lines in unplug.items():
            subprocess.run(
                _batch_argv(ns, force=True),
                input="\n".join(lines) + "\n",
                capture_output=True,
                text=True,
                timeout=_IP_TIMEOUT,
                check=False,
            )
        leftover = _destroy_namespaces([host.ns], grace=self.grace)
        self._popens = [p for p in self._popens if p not in children]
        self._processes = [p for p in self._processes if p.host is not host]
        if host.ns in self._namespaces and not leftover:
            self._namespaces.remove(host.ns)
        self.hosts.pop(host.name, None)
        if leftover:
            raise LabError(f"could not delete {leftover}")

    # processes ------------------------------------------------------------------

    def popen(self, host: Host, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start argv in host's namespace (`ip netns exec`); killed on close.

        Runs in a new session by default, so a terminal's Ctrl-C reaches the test
        run, which then stops the lab's processes in order.
        """
        self._check_open()
        kwargs.setdefault("start_new_session", True)
        proc: subprocess.Popen[Any] = subprocess.Popen(
            [_IP_BIN, "netns", "exec", host.ns, *argv], **kwargs
        )
        self._popens.append(proc)
        return proc

    def run(
        self,
        host: Host,
        argv: Sequence[str],
        *,
        timeout: float = 30.0,
        check: bool = False,
        **kwargs: Any,
    ) -> subprocess.CompletedProcess[Any]:
        """Run argv to completion in host's namespace (captured text by default)."""
        self._check_open()
        if "stdout" not in kwargs and "stderr" not in kwargs:
            kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        return subprocess.run(
            [_IP_BIN, "netns", "exec", host.ns, *argv],
            timeout=timeout,
            check=check,
            **kwargs,
        )

    def ping(self, host: Host, ip: str, *, timeout: float = 2.0) -> bool:
        """Return True if an ICMP echo from host to ip is answered within timeout."""
        self._check_open()
        return icmp_ping(ip, timeout=timeout, ns=host.ns)

    def _launch(
        self,
        host: Host,
        argv: Sequence[str],
        label: str,
        *,
        cls: type[LabProcess] = LabProcess,
        env: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> LabProcess:
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        stem = f"{host.name}.{label}.{len(self._processes)}"
        out_path, err_path = logs / f"{stem}.out", logs / f"{stem}.err"
        # Files, not pipes: a chatty process can never block on a full pipe
        # that nobody reads.
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = self.popen(
                host,
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=REPO_ROOT,
                env={**os.environ, **(env or {})},
            )
        lp = cls(
            host=host,
            argv=tuple(argv),
            label=label,
            proc=proc,
            stdout_path=out_path,
            stderr_path=err_path,
            **extra,
        )
        self._processes.append(lp)
        return lp

    def launch(
        self,
        host: Host,
        argv: Sequence[str],
        *,
        label: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> LabProcess:
        """Start argv in host (cwd = repo root, output to log files) without waiting.

        For daemons whose readiness is checked by speaking their protocol
        (tests/lab/peers) rather than by a line they print.
        """
        self._check_open()
        return self._launch(host, argv, label or Path(argv[0]).name, env=env)

    def _await_ready(self, started: Sequence[LabProcess], ready: str, timeout: float) -> None:
        waits = [
            procs.ReadyWait(p.proc, p.stdout_path, p.stderr_path, ready, p.label) for p in started
        ]
        try:
            lines = procs.wait_ready(waits, timeout=timeout)
        except procs.ReadyError as err:
            raise LabError(str(err)) from None
        for p in started:
            p.ready_line = lines[p.label]

    def start_ready(
        self,
        host: Host,
        argv: Sequence[str],
        *,
        ready: str = "READY",
        timeout: float = 20.0,
        label: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> LabProcess:
        """Start argv in host (cwd = repo root) and wait for a stdout line `ready...`.

        Raises LabError with the process's stderr if it exits or times out first.
        """
        lp = self._launch(host, argv, label or Path(argv[0]).name, env=env)
        self._await_ready([lp], ready, timeout)
        return lp

    def start_emulator(
        self,
        host: Host,
        profile_path: Path,
        max_delay: float = 0.5,
        *,
        extra_args: Sequence[str] = (),
        timeout: float = 30.0,
    ) -> Emulator:
        """Start the camera emulator for profile_path in host; wait for READY."""
        return self.start_emulators(
            [(host, profile_path)],
            max_delay=max_delay,
            extra_args=extra_args,
            timeout=timeout,
        )[0]

    def start_emulators(
        self,
        pairs: Sequence[tuple[Host, Path]],
        *,
        max_delay: float = 0.5,
        extra_args: Sequence[str] = (),
        timeout: float | None = None,
    ) -> list[Emulator]:
        """Start one emulator per (host, profile file) all at once; wait for every READY.

        The default timeout grows with the count: ~40 interpreters start on two
        cores.
        """
        self._check_open()
        started: list[Emulator] = []
        for host, path in pairs:
            profile_id = str(json.loads(Path(path).read_text("utf-8")).get("id"))
            argv = [
                sys.executable,
                "-m",
                "tests.lab.emulator",
                str(path),
                "--max-delay",
                f"{max_delay:g}",
                *extra_args,
            ]
            emu = self._launch(
                host,
                argv,
                profile_id,
                cls=Emulator,
                env={"PYTHONDONTWRITEBYTECODE": "1"},
                profile_id=profile_id,
                profile_path=Path(path),
            )
            assert isinstance(emu, Emulator)
            started.append(emu)
        if timeout is None:
            timeout = 20.0 + 0.5 * len(started)
        self._await_ready(started, "READY", timeout)
        for emu in started:
            if emu.ready_line != f"READY {emu.profile_id}":
                raise LabError(f"{emu.label}: unexpected {emu.ready_line!r}")
        return started

    # the standard LAN -------------------------------------------------------------

    def build_lan(
        self,
        profiles: Iterable[_ProfileLike | Path | str],
        *,
        scanner_ip: str = "198.18.0.2/24",
        router: bool = True,
        max_delay: float = 0.5,
        ready_timeout: float | None = None,
        emulator_args: Sequence[str] = (),
    ) -> LanHandle:
        """Build the standard LAN and start one emulator per profile (in parallel).

        Switch `lan` with the scanner and every device at network.ip/24 with
        network.mac. With router=True: router `rtr` (198.18.0.1 on the LAN,
        198.18.1.1 on switch `far`), routed devices on `far` with a default
        route via 198.18.1.1, and a scanner route to 198.18.1.0/24 via
        198.18.0.1.
        """
        self._check_open()
        if "lan" in self.switches:
            raise LabError("build_lan was already called on this lab")
        check_address(scanner_ip, "scanner address")
        lan_net = ipaddress.IPv4Interface(scanner_ip).network
        infos = [_DeviceInfo.of(p, self.workdir / "profiles") for p in profiles]
        taken = {scanner_ip.split("/", maxsplit=1)[0]: "the scanner"}
        if router:
            taken.update({ROUTER_LAN_IP: "the router", ROUTER_FAR_IP: "the router"})
        _check_unique(infos, taken)
        lan = self.add_switch("lan")
        far = self.add_switch("far") if router else None
        handle = LanHandle(
            lab=self, switch=lan, far_switch=far, max_delay=max_delay, lan_net=lan_net
        )
        specs = [HostSpec("scan", scanner_ip, None, lan, label="scanner")]
        specs += [handle._spec_for(info) for info in infos]
        nodes = [
            _NodeSpec(
                s.name, [(s.switch or lan, s.cidr, s.mac)], s.gateway, ipv6=s.ipv6, label=s.label
            )
            for s in specs
        ]
        if far is not None:
            nodes.append(
                _NodeSpec(
                    "rtr",
                    [(lan, f"{ROUTER_LAN_IP}/24", None), (far, f"{ROUTER_FAR_IP}/24", None)],
                    default_dev=False,
                    forward=True,
                    label="router",
                )
            )
        hosts = self._build(nodes)
        handle.scanner = hosts[0]
        if far is not None:
            handle.router = hosts[-1]
            self.add_route(handle.scanner, str(ROUTED_CIDR), ROUTER_LAN_IP)
        for info, host in zip(infos, hosts[1 : 1 + len(infos)], strict=True):
            handle.devices[info.id] = host
            handle.profiles[info.id] = info
        emulators = self.start_emulators(
            [(handle.devices[i.id], i.path) for i in infos],
            max_delay=max_delay,
            extra_args=emulator_args,
            timeout=ready_timeout,
        )
        for info, emu in zip(infos, emulators, strict=True):
            handle.emulators[info.id] = emu
        return handle

    # teardown ---------------------------------------------------------------------

    def close(self) -> None:
        """Kill every process, delete every namespace and root veth; idempotent.

        Tries everything, then raises LabError if something would not go away.
        """
        if self._closed or os.getpid() != self.owner_pid:
            return
        problems: list[str] = []
        # One SIGTERM round for everything, so the grace period is paid once:
        # every process in our namespaces, plus our own children (one still
        # inside `ip netns exec` has not entered its namespace yet).
        inodes = {ns: procs.netns_inode(ns) for ns in self._namespaces}
        targets: dict[int, tuple[int, int] | None] = {
            pid: inodes[ns]
            for ns, pids in procs.pids_in_netns(self._namespaces).items()
            for pid in pids
        }
        targets.update({p.pid: None for p in self._popens if p.poll() is None})
        procs.terminate(targets, self._popens, grace=self.grace)
        for ifname in self._root_ifnames:
            result = _ip(["link", "del", ifname], check=False)
            if result.returncode != 0 and "Cannot find device" not in result.stderr:
                problems.append(f"root link {ifname}: {result.stderr.strip()}")
        leftover = _destroy_namespaces(self._namespaces, grace=self.grace)
        if leftover:
            leftover = _destroy_namespaces(leftover, grace=0.5)
        if leftover:
            problems.append(f"namespaces not deleted: {leftover}")
        for proc in self._popens:
            if proc.poll() is None:
                problems.append(f"pid {proc.pid} survived SIGKILL")
        self._namespaces = list(leftover)
        self._root_ifnames = []
        self._popens = [p for p in self._popens if p.poll() is None]
        if self._has_root_lock:
            _release_root_lock()
            self._has_root_lock = False
        self._closed = True
        with _LIVE_LOCK:
            if self in _LIVE:
                _LIVE.remove(self)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if problems:
            raise LabError("; ".join(problems))


def _popen_ns(proc: subprocess.Popen[Any]) -> str | None:
    """The namespace a popen() child was started in (its `ip netns exec NS`)."""
    args = proc.args
    if isinstance(args, (list, tuple)) and tuple(args[1:3]) == ("netns", "exec"):
        return str(args[3])
    return None


# --- the standard LAN ---------------------------------------------------------------


@dataclass(frozen=True)
class _DeviceInfo:
    id: str
    ip: str
    mac: str | None
    routed: bool
    ipv6: str | None
    path: Path

    @classmethod
    def of(cls, profile: _ProfileLike | Path | str, directory: Path) -> _DeviceInfo:
        """Read what the LAN needs from a Profile (written to a file) or a path."""
        if isinstance(profile, (str, Path)):
            path = Path(profile)
            raw = json.loads(path.read_text("utf-8"))
        else:
            raw = profile.raw
            # Clones live only in memory; the emulator needs a file.
            path = profile.write(directory)
        pid = str(raw.get("id", ""))
        if not _PROFILE_ID_RE.match(pid):
            raise ValueError(f"profile id {pid!r} is not [a-z0-9-]")
        net = raw.get("network") or {}
        ip = str(net.get("ip", ""))
        check_address(ip, f"{pid} network.ip")
        return cls(
            id=pid,
            ip=ip,
            mac=_check_mac(net.get("mac")),
            routed=bool(net.get("routed", False)),
            ipv6=net.get("ipv6"),
            path=path,
        )


def _check_unique(infos: Sequence[_DeviceInfo], taken: Mapping[str, str] | None = None) -> None:
    seen_ip: dict[str, str] = dict(taken or {})
    seen_id: set[str] = set()
    for info in infos:
        if info.id in seen_id:
            raise ValueError(f"profile {info.id!r} given twice")
        seen_id.add(info.id)
        if info.ip in seen_ip:
            raise ValueError(f"{info.id} and {seen_ip[info.ip]} share {info.ip}")
        seen_ip[info.ip] = info.id


@dataclass(eq=False)
class LanHandle:
    """The standard LAN: scanner, devices by profile id, their emulators."""

    lab: Lab
    switch: Switch
    far_switch: Switch | None
    max_delay: float
    lan_net: ipaddress.IPv4Network = LAN_CIDR
    scanner: Host = field(init=False)
    router: Host | None = None
    devices: dict[str, Host] = field(default_factory=dict)
    emulators: dict[str, Emulator] = field(default_factory=dict)
    profiles: dict[str, _DeviceInfo] = field(default_factory=dict, repr=False)
    _next: int = 0

    def _spec_for(self, info: _DeviceInfo) -> HostSpec:
        address = ipaddress.IPv4Address(info.ip)
        if info.routed:
            if self.far_switch is None:
                raise ValueError(f"{info.id} is routed but the LAN has no router (router=True)")
            if address not in ROUTED_CIDR:
                raise ValueError(f"{info.id}: routed devices live in {ROUTED_CIDR}")
        elif address not in self.lan_net:
            raise ValueError(f"{info.id}: {info.ip} is not on the LAN {self.lan_net}")
        self._next += 1
        return HostSpec(
            name=f"d{self._next}",
            cidr=f"{info.ip}/24",
            mac=info.mac,
            switch=self.far_switch if info.routed else self.switch,
            gateway=ROUTER_FAR_IP if info.routed else None,
            ipv6=info.ipv6,
            label=info.id,
        )

    def device(self, profile_id: str) -> Host:
        """The host of one device."""
        return self.devices[profile_id]

    def ip_of(self, profile_id: str) -> str:
        """The IPv4 address of one device."""
        return self.devices[profile_id].ip

    def exec_in_scanner(
        self, argv: Sequence[str], *, timeout: float = 60.0, **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        """Run argv to completion in the scanner namespace."""
        return self.lab.run(self.scanner, argv, timeout=timeout, **kwargs)

    def popen_in_scanner(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start argv in the scanner namespace (killed on lab close)."""
        return self.lab.popen(self.scanner, argv, **kwargs)

    def add_device(
        self,
        profile: _ProfileLike | Path | str,
        *,
        timeout: float = 30.0,
        emulator_args: Sequence[str] = (),
    ) -> Host:
        """Plug in one more device at runtime and wait for its emulator's READY."""
        info = _DeviceInfo.of(profile, self.lab.workdir / "profiles")
        if info.id in self.devices:
            raise ValueError(f"{info.id} is already on the LAN")
        taken = {h.ip: pid for pid, h in self.devices.items()}
        taken[self.scanner.ip] = "the scanner"
        if self.router is not None:
            taken.update(
                {ip.split("/", 1)[0]: "the router" for ip in self.router.interfaces.values()}
            )
        _check_unique([info], taken)
        spec = self._spec_for(info)
        host = self.lab._build(
            [
                _NodeSpec(
                    spec.name,
                    [(spec.switch or self.switch, spec.cidr, spec.mac)],
                    spec.gateway,
                    ipv6=spec.ipv6,
                    label=spec.label,
                )
            ]
        )[0]
        self.devices[info.id] = host
        self.profiles[info.id] = info
        self.emulators[info.id] = self.lab.start_emulator(
            host, info.path, self.max_delay, extra_args=emulator_args, timeout=timeout
        )
        return host

    def remove_device(self, profile_id: str) -> None:
        """Unplug a device: stop its emulator and delete its namespace."""
        host = self.devices.pop(profile_id)
        self.emulators.pop(profile_id, None)
        self.profiles.pop(profile_id, None)
        self.lab.remove_host(host)

    def flush_neigh(self) -> None:
        """Forget the scanner's ARP/neighbour cache (benchmarks do this between runs)."""
        _ip(["neigh", "flush", "all"], ns=self.scanner.ns)


# --- command line -------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """`list`: show lab namespaces and owners; `cleanup`: remove orphans."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "list"
    if command == "list":
        for name in list_lab_namespaces():
            pid = _owner_of(name) or 0
            state = "live" if owner_alive(pid) else "orphan"
            print(f"{name}\t{state}")
        for ifname, prefix in _root_lab_links():
            print(f"root:{ifname}\t{prefix}")
        return 0
    if command == "cleanup":
        for name in remove_stale():
            print(f"removed {name}")
        return 0
    print("usage: python -m tests.lab.netlab [list|cleanup]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
