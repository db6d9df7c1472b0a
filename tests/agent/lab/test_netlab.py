"""The namespace LAN bench: real veths, a real bridge, multicast, routing, cleanup."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lab import netlab, procs, profiles

pytestmark = pytest.mark.lab

REPO = netlab.REPO_ROOT

# Listens until a datagram arrives, or until `grace` seconds after the marker
# file appears (the test writes it once the sender has finished): the window
# is measured from the send, not from when this listener became ready, so a
# slow start of the other processes cannot close it early.
MCAST_RECV = """
import os, socket, struct, sys, time
group, port, grace, marker = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", port))
mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("0.0.0.0"))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
print("READY", flush=True)
s.settimeout(0.1)
sent_at = None
give_up = time.monotonic() + 120
while True:
    try:
        data, addr = s.recvfrom(2048)
        print("GOT", addr[0], data.decode(), flush=True)
        break
    except TimeoutError:
        pass
    now = time.monotonic()
    if sent_at is None and os.path.exists(marker):
        sent_at = now
    if (sent_at is not None and now - sent_at > grace) or now > give_up:
        print("NONE", flush=True)
        break
"""

MCAST_SEND = """
import socket, sys
group, port, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
for _ in range(3):
    s.sendto(text.encode(), (group, port))
"""

TCP_SERVER = """
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 18080))
s.listen()
print("READY", flush=True)
while True:
    c, addr = s.accept()
    c.sendall(("hello " + addr[0]).encode())
    c.close()
"""

# Pokes every address so the kernel ARPs for it, then prints the neighbour table.
ARP_SWEEP = """
import json, socket, sys, time
ips = sys.argv[1:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for ip in ips:
    s.sendto(b"", (ip, 9))
deadline = time.monotonic() + 5
table = {}
while time.monotonic() < deadline:
    table = {}
    for line in open("/proc/net/arp").read().splitlines()[1:]:
        f = line.split()
        if f[2] == "0x2":
            table[f[0]] = f[3]
    if set(ips) <= set(table):
        break
    time.sleep(0.05)
print(json.dumps(table))
"""


def receive_multicast(
    lab: netlab.Lab,
    sender: netlab.Host,
    receivers: list[netlab.Host],
    marker: Path,
    *,
    port: int = 3702,
    grace: float = 1.5,
) -> dict[str, str]:
    """Start listeners, send one multicast from sender; return host name -> result.

    Each listener waits `grace` seconds after the send (marked by creating the
    file `marker`) before it reports that nothing arrived.
    """
    group = "239.255.255.250"
    listeners = [
        lab.start_ready(
            host, [sys.executable, "-c", MCAST_RECV, group, str(port), str(grace), str(marker)]
        )
        for host in receivers
    ]
    sent = sender.python(MCAST_SEND, group, str(port), f"from-{sender.name}")
    assert sent.returncode == 0, sent.stderr
    marker.touch()
    results = {}
    for listener in listeners:
        listener.proc.wait(timeout=grace + 30)
        results[listener.host.name] = listener.stdout().splitlines()[-1]
    return results


def test_two_hosts_ping_each_other(lab: netlab.Lab) -> None:
    a = lab.add_host("a", "198.18.0.10/24", mac="bc:ad:28:00:00:10")
    b = lab.add_host("b", "198.18.0.11/24")

    assert a.ping(b.ip)
    assert b.ping(a.ip)
    # An address nobody holds gets no answer: the check can fail.
    assert not a.ping("198.18.0.99", timeout=0.5)
    link = json.loads(a.run(["ip", "-j", "link", "show", "eth0"]).stdout)[0]
    assert link["address"] == "bc:ad:28:00:00:10"
    routes = a.run(["ip", "route", "show", "default"]).stdout
    assert routes.strip() == "default dev eth0 scope link"


def test_multicast_floods_to_every_host_on_the_bridge(lab: netlab.Lab, tmp_path: Path) -> None:
    a, b, c = lab.add_hosts(
        [netlab.HostSpec(name, f"198.18.0.{n}/24") for n, name in ((20, "a"), (21, "b"), (22, "c"))]
    )

    results = receive_multicast(lab, a, [b, c], tmp_path / "sent")

    assert results == {"b": "GOT 198.18.0.20 from-a", "c": "GOT 198.18.0.20 from-a"}


def test_host_behind_router_gets_unicast_but_not_multicast(lab: netlab.Lab, tmp_path: Path) -> None:
    lan, far = lab.add_switch("lan"), lab.add_switch("far")
    scanner = lab.add_host("scan", "198.18.0.2/24", switch=lan)
    near = lab.add_host("near", "198.18.0.30/24", switch=lan)
    remote = lab.add_host("remote", "198.18.1.30/24", switch=far, gateway="198.18.1.1")
    router = lab.add_router("rtr", (lan, "198.18.0.1/24"), (far, "198.18.1.1/24"))
    lab.add_route(scanner, "198.18.1.0/24", "198.18.0.1")

    assert router.interfaces == {"eth0": "198.18.0.1/24", "eth1": "198.18.1.1/24"}
    assert scanner.ping(remote.ip)
    assert remote.ping(scanner.ip)
    server = lab.start_ready(remote, [sys.executable, "-c", TCP_SERVER])
    fetched = scanner.python(
        "import socket;"
        " print(socket.create_connection(('198.18.1.30', 18080), 3).recv(64).decode())"
    )
    assert fetched.stdout.strip() == "hello 198.18.0.2"
    server.stop()
    # The near host proves the datagram was sent; the remote one must not hear it.
    results = receive_multicast(lab, scanner, [near, remote], tmp_path / "sent")
    assert results == {"near": "GOT 198.18.0.2 from-scan", "remote": "NONE"}


def _root_snapshot() -> dict[str, object]:
    def ip_json(*args: str) -> list[dict[str, object]]:
        out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True)
        return json.loads(out.stdout or "[]")

    def stable(route: dict[str, object]) -> str:
        # Router-advertised routes count down their lifetime; that is not a change.
        return json.dumps({k: v for k, v in route.items() if k != "expires"}, sort_keys=True)

    return {
        "links": sorted(
            (str(link["ifname"]), str(link.get("ifalias", ""))) for link in ip_json("link", "show")
        ),
        "addrs": sorted(
            (str(a["ifname"]), str(i["local"]), int(i["prefixlen"]))
            for a in ip_json("addr", "show")
            for i in a.get("addr_info", [])
        ),
        "routes4": sorted(stable(r) for r in ip_json("route", "show")),
        "routes6": sorted(stable(r) for r in ip_json("-6", "route", "show")),
        "forwarding": Path("/proc/sys/net/ipv4/ip_forward").read_text(),
    }


def test_root_namespace_is_untouched_after_close(tmp_path: Path) -> None:
    with netlab.root_lock():
        before = _root_snapshot()
        with netlab.Lab(workdir=tmp_path) as lab:
            sw = lab.add_switch()
            host = lab.add_host("h", "198.18.0.40/24", switch=sw)
            lab.add_router("r", (sw, "198.18.0.1/24"), (lab.add_switch("sw1"), "198.18.1.1/24"))
            # Building namespaces adds nothing to the root namespace...
            assert _root_snapshot() == before
            # ...until a root veth is asked for; then the root really reaches the LAN.
            link = lab.attach_root("198.18.0.250/24", sw)
            assert len(link.ifname) <= 15
            during = _root_snapshot()
            assert (link.ifname, f"cctv-sentinel-lab:{lab.prefix}") in during["links"]
            assert (link.ifname, "198.18.0.250", 24) in during["addrs"]
            lab.start_ready(host, [sys.executable, "-c", TCP_SERVER])
            with socket.create_connection((host.ip, 18080), timeout=3) as conn:
                assert conn.recv(64) == b"hello 198.18.0.250"
        assert _root_snapshot() == before


def test_processes_in_namespaces_die_on_close(tmp_path: Path) -> None:
    with netlab.Lab(workdir=tmp_path, grace=0.5) as lab:
        host = lab.add_host("h", "198.18.0.50/24")
        child = host.popen(["sleep", "1000"])
        # A grandchild left behind by a shell that already exited, and a process
        # that ignores SIGTERM: neither is a direct child we could wait for.
        orphan = int(host.run(["sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo $!"]).stdout)
        stubborn = lab.start_ready(
            host,
            [
                sys.executable,
                "-c",
                (
                    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
                    " print('READY', flush=True); time.sleep(1000)"
                ),
            ],
        )
        pids = [child.pid, orphan, stubborn.pid]
        assert all(procs.pid_alive(pid) for pid in pids)
        assert procs.pids_in_netns([host.ns])[host.ns] >= {orphan, stubborn.pid}
    assert not any(procs.pid_alive(pid) for pid in pids)
    assert child.returncode == -signal.SIGTERM
    assert stubborn.returncode == -signal.SIGKILL
    assert host.ns not in netlab.list_lab_namespaces()


def test_unsafe_addresses_are_refused_before_anything_is_built(lab: netlab.Lab) -> None:
    sw = lab.add_switch()
    host = lab.add_host("ok", "198.19.255.1/24", switch=sw)  # top of 198.18.0.0/15
    before = lab.namespaces
    for bad in ("10.0.0.5/24", "192.168.1.5/24", "198.20.0.1/24", "8.8.8.8/32"):
        with pytest.raises(ValueError, match="outside the lab ranges"):
            lab.add_host("bad", bad, switch=sw)
    with pytest.raises(ValueError, match="outside"):
        lab.add_host("bad6", "198.18.0.9/24", switch=sw, ipv6="fd00::1")
    with pytest.raises(ValueError, match="outside"):
        lab.add_route(host, "0.0.0.0/0", "198.18.0.1")
    with pytest.raises(ValueError, match="outside"):
        lab.add_route(host, "198.18.1.0/24", "192.168.0.1")
    with pytest.raises(ValueError, match="outside"):
        lab.attach_root("172.16.0.1/24", sw)
    with pytest.raises(ValueError, match="unicast"):
        lab.add_host("mc", "198.18.0.9/24", mac="01:00:5e:00:00:01", switch=sw)
    assert lab.namespaces == before
    assert netlab.own_namespaces() == sorted(before)


def test_forty_hosts_in_one_batch_are_all_reachable_with_their_macs(lab: netlab.Lab) -> None:
    sw = lab.add_switch()
    specs = [
        netlab.HostSpec(f"h{n}", f"198.18.0.{n}/24", mac=f"02:00:00:00:00:{n:02x}", switch=sw)
        for n in range(100, 140)
    ]
    hosts = lab.add_hosts(specs)
    scanner = lab.add_host("scan", "198.18.0.2/24", switch=sw)

    table = json.loads(scanner.python(ARP_SWEEP, *(h.ip for h in hosts)).stdout)

    assert table == {h.ip: h.mac for h in hosts}


def test_ipv6_benchmark_address_is_configured(lab: netlab.Lab) -> None:
    a = lab.add_host("a", "198.18.0.60/24", ipv6="2001:2::60")
    b = lab.add_host("b", "198.18.0.61/24", ipv6="2001:2::61")
    probe = b.python(
        "import socket; s = socket.socket(socket.AF_INET6); s.settimeout(3);"
        " print(s.connect_ex(('2001:2::60', 18080)))"
    )
    # Connection refused (111) means a's kernel answered over IPv6.
    assert probe.stdout.strip() == "111"
    assert "2001:2::60/64" in a.run(["ip", "-6", "addr", "show", "eth0"]).stdout


def test_remove_host_unplugs_it(lab: netlab.Lab) -> None:
    a = lab.add_host("a", "198.18.0.70/24")
    b = lab.add_host("b", "198.18.0.71/24")
    sleeper = b.popen(["sleep", "1000"])
    assert a.ping(b.ip)

    lab.remove_host(b)

    assert sleeper.poll() is not None
    assert b.ns not in netlab.list_lab_namespaces()
    assert "b" not in lab.hosts
    assert not a.ping("198.18.0.71", timeout=0.5)


def test_start_ready_reports_exit_and_timeout_with_stderr(lab: netlab.Lab) -> None:
    host = lab.add_host("h", "198.18.0.80/24")
    with pytest.raises(netlab.LabError, match=r"exited with code 3(.|\n)*bad profile"):
        lab.start_ready(
            host,
            [sys.executable, "-c", "import sys; sys.stderr.write('bad profile\\n'); sys.exit(3)"],
        )
    # A generous timeout: the child's start-up under a loaded CI machine must not race it.
    with pytest.raises(netlab.LabError, match=r"within 3.0s(.|\n)*still starting"):
        lab.start_ready(
            host,
            [
                sys.executable,
                "-c",
                (
                    "import sys, time; print('still starting', file=sys.stderr, flush=True);"
                    " time.sleep(60)"
                ),
            ],
            timeout=3.0,
        )
    ok = lab.start_ready(host, [sys.executable, "-c", "print('READY x', flush=True); input()"])
    assert ok.ready_line == "READY x"


# --- cleanup when the owner fails, dies or is killed ------------------------------------------

CHILD_LAB = """
import json, os, sys, time
from pathlib import Path
from tests.lab import netlab
lab = netlab.Lab()
a = lab.add_host("a", "198.18.0.90/24")
sleeper = a.popen(["sleep", "1000"])
Path(sys.argv[1]).write_text(json.dumps({"ns": lab.namespaces, "pid": sleeper.pid}))
time.sleep(1000)
"""


def _start_child_lab(tmp_path: Path) -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    report = tmp_path / "child.json"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_LAB, str(report)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not report.exists() or not report.read_text():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            _, err = child.communicate()
            pytest.fail(f"child lab did not start: {err.decode()}")
        time.sleep(0.02)
    return child, json.loads(report.read_text())


def test_sigkilled_run_leaves_orphans_that_remove_stale_removes(tmp_path: Path) -> None:
    child, info = _start_child_lab(tmp_path)
    namespaces, sleeper = info["ns"], info["pid"]
    assert isinstance(namespaces, list)
    assert isinstance(sleeper, int)
    try:
        # While the owner lives, its namespaces are not stale.
        assert netlab.owner_alive(child.pid)
        netlab.remove_stale()
        assert set(namespaces) <= set(netlab.list_lab_namespaces())
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        # SIGKILL runs no cleanup at all: everything is still there...
        assert set(namespaces) <= set(netlab.list_lab_namespaces())
        assert procs.pid_alive(sleeper)
        assert not netlab.owner_alive(child.pid)
        # ...until the next run's stale sweep (another xdist worker's sweep may
        # get there first, so the end state is what counts).
        removed = netlab.remove_stale()
        assert not set(removed) & set(netlab.list_lab_namespaces())
        assert not set(namespaces) & set(netlab.list_lab_namespaces())
        assert not procs.pid_alive(sleeper)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stderr is not None:
            child.stderr.close()
        netlab.remove_stale()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signalled_run_cleans_up_after_itself(tmp_path: Path, sig: signal.Signals) -> None:
    child, info = _start_child_lab(tmp_path)
    namespaces, sleeper = info["ns"], info["pid"]
    assert isinstance(namespaces, list)
    assert isinstance(sleeper, int)
    try:
        child.send_signal(sig)
        child.wait(timeout=30)
        assert not set(namespaces) & set(netlab.list_lab_namespaces())
        assert not procs.pid_alive(sleeper)
        assert not netlab.owner_alive(child.pid)
        assert not (netlab.STATE_DIR / "owners" / str(child.pid)).exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stderr is not None:
            child.stderr.close()
        netlab.remove_stale()


FAILING_TEST = """
import json, os
from pathlib import Path

def test_fails_with_a_busy_lab(lab):
    a = lab.add_host("a", "198.18.0.91/24")
    b = lab.add_host("b", "198.18.0.92/24")
    sleeper = a.popen(["sleep", "1000"])
    Path(os.environ["CHILD_REPORT"]).write_text(
        json.dumps({"ns": lab.namespaces, "pid": sleeper.pid, "owner": os.getpid()})
    )
    assert a.ping(b.ip)
    assert False, "this test fails on purpose"
"""


def run_child_pytest(tmp_path: Path, source: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run pytest with our conftest as a plugin on one generated test file."""
    test_file = tmp_path / "test_child.py"
    test_file.write_text(source)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:homeassistant",
            "-p",
            "no:sugar",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            f"--config-file={REPO / 'pyproject.toml'}",
            f"--rootdir={REPO}",
            f"--basetemp={tmp_path / 'basetemp'}",
            "-q",
            "-rsfE",
            str(test_file),
        ],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_failing_test_still_removes_everything(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = run_child_pytest(
        tmp_path, FAILING_TEST, CHILD_REPORT=str(report), CCTV_REQUIRE_LAB="1"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    # Exactly one failure and no teardown error: the session-end check found no
    # namespace of the child left over.
    summary = result.stdout.splitlines()[-1]
    assert re.match(r"=* ?1 failed", summary), result.stdout
    assert "error" not in summary, result.stdout
    assert "this test fails on purpose" in result.stdout
    info = json.loads(report.read_text())
    assert len(info["ns"]) == 3
    assert not set(info["ns"]) & set(netlab.list_lab_namespaces())
    assert not procs.pid_alive(info["pid"])


def test_owner_alive_sees_through_pid_reuse(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "1000"])
    marker = netlab.STATE_DIR / "owners" / str(sleeper.pid)
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        assert not netlab.owner_alive(sleeper.pid)  # alive, but never wrote a marker
        marker.write_text(f"{procs.process_start_time(sleeper.pid)}\n")
        assert netlab.owner_alive(sleeper.pid)
        marker.write_text("1\n")  # a different process once had this pid
        assert not netlab.owner_alive(sleeper.pid)
    finally:
        marker.unlink(missing_ok=True)
        sleeper.kill()
        sleeper.wait()


def test_remove_stale_removes_a_namespace_of_a_dead_pid() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert not procs.pid_alive(dead.pid)
    name = f"cst{dead.pid}x1-manual"
    subprocess.run(["ip", "netns", "add", name], check=True)
    sleeper = subprocess.Popen(
        ["ip", "netns", "exec", name, "sleep", "1000"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 5
        while not procs.pids_in_netns([name])[name] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert procs.pids_in_netns([name])[name] == {sleeper.pid}

        netlab.remove_stale()

        assert name not in netlab.list_lab_namespaces()
        assert sleeper.wait(timeout=5) == -signal.SIGTERM
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def test_cli_lists_live_lab_namespaces(lab: netlab.Lab) -> None:
    lab.add_switch("sw9")
    listed = subprocess.run(
        [sys.executable, "-m", "tests.lab.netlab", "list"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"{lab.prefix}-sw9\tlive" in listed.stdout
    assert listed.stderr == ""


# --- the standard LAN with emulated cameras ----------------------------------------------------

DEVICES = REPO / "tests" / "fixtures" / "devices"
HIK, DAHUA, AXIS = "hikvision-ds-2cd2143g2-i", "dahua-ipc-hdw2431t-as-s2", "axis-p3245-lve"

# An ONVIF Device Manager-shaped Probe (PROTOCOLS.md 2.1), sent multicast or unicast
# from the scanner; prints one JSON object per ProbeMatches received.
WSD_PROBE = """
import json, re, socket, sys, time, uuid
window, targets = float(sys.argv[1]), sys.argv[2:] or ["239.255.255.250"]
mid = "urn:uuid:" + str(uuid.uuid4())
probe = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
    ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"'
    ' xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
    '<s:Header><a:MessageID>' + mid + '</a:MessageID>'
    '<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous'
    '</a:Address></a:ReplyTo>'
    '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
    '<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe'
    '</a:Action></s:Header>'
    '<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>'
    '</s:Envelope>'
).encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
s.bind(("0.0.0.0", 0))
for target in targets:
    s.sendto(probe, (target, 3702))
end = time.monotonic() + window
while (left := end - time.monotonic()) > 0:
    s.settimeout(left)
    try:
        data, addr = s.recvfrom(65535)
    except TimeoutError:
        break
    text = data.decode("utf-8", "replace")
    relates = re.search(r"RelatesTo[^>]*>\\s*([^<\\s]+)", text)
    print(json.dumps({
        "from": addr[0],
        "relates_ok": bool(relates and relates.group(1) == mid),
        "probe_matches": "ProbeMatches" in text,
    }), flush=True)
"""


def seed(profile_id: str) -> Path:
    path = DEVICES / f"{profile_id}.json"
    if not (REPO / "tests" / "lab" / "emulator" / "__main__.py").exists() or not path.exists():
        pytest.skip(f"emulator or seed profile {profile_id} not written yet")
    return path


def wsd_probe(lan: netlab.LanHandle, *targets: str, window: float = 1.0) -> list[dict[str, object]]:
    result = lan.exec_in_scanner([sys.executable, "-c", WSD_PROBE, str(window), *targets])
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_build_lan_gets_ready_and_two_wsd_answers(lab: netlab.Lab) -> None:
    lan = lab.build_lan([seed(HIK), seed(DAHUA)], max_delay=0)

    assert {pid: emu.ready_line for pid, emu in lan.emulators.items()} == {
        HIK: f"READY {HIK}",
        DAHUA: f"READY {DAHUA}",
    }
    answers = wsd_probe(lan)
    assert sorted(a["from"] for a in answers) == sorted(h.ip for h in lan.devices.values())
    assert all(a["relates_ok"] and a["probe_matches"] for a in answers)
    assert lan.scanner.ip == "198.18.0.2"
    assert lan.router is not None
    assert lan.scanner.ping(netlab.ROUTER_LAN_IP)


def test_lan_devices_plug_in_and_out_at_runtime(lab: netlab.Lab) -> None:
    lan = lab.build_lan([seed(HIK)], max_delay=0)
    lan.add_device(seed(AXIS))
    template = json.loads(seed(DAHUA).read_text())
    template["id"] = "dahua-routed"
    template["network"] = {**template["network"], "ip": "198.18.1.40", "routed": True}
    routed = profiles.from_raw(template, placement=False)
    far = lan.add_device(routed)

    assert far.switch is lan.far_switch
    assert lan.emulators["dahua-routed"].ready_line == "READY dahua-routed"
    # Multicast stays on the LAN; a unicast probe crosses the router.
    assert sorted(a["from"] for a in wsd_probe(lan)) == sorted([lan.ip_of(HIK), lan.ip_of(AXIS)])
    assert [a["from"] for a in wsd_probe(lan, "198.18.1.40")] == ["198.18.1.40"]

    lan.remove_device(AXIS)
    assert [a["from"] for a in wsd_probe(lan)] == [lan.ip_of(HIK)]
    assert AXIS not in lan.devices

    lan.flush_neigh()
    assert lan.exec_in_scanner(["ip", "neigh", "show"]).stdout.strip() == ""


BENCH_USERS = """
def test_uses_lab(lab):
    pass

def test_uses_broker(broker):
    pass
"""


def test_bench_fixtures_skip_or_fail_when_the_bench_is_missing(tmp_path: Path) -> None:
    missing = {"CCTV_LAB_DISABLE": "1", "CCTV_MOSQUITTO": str(tmp_path / "no-mosquitto")}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    lenient = run_child_pytest(tmp_path / "a", BENCH_USERS, **missing, CCTV_REQUIRE_LAB="0")
    strict = run_child_pytest(tmp_path / "b", BENCH_USERS, **missing, CCTV_REQUIRE_LAB="1")

    assert lenient.returncode == 0, lenient.stdout
    assert "2 skipped" in lenient.stdout
    assert "CCTV_LAB_DISABLE=1" in lenient.stdout
    assert "mosquitto binary is missing" in lenient.stdout
    assert strict.returncode == 1, strict.stdout
    assert "2 errors" in strict.stdout
    assert "and CCTV_REQUIRE_LAB=1" in strict.stdout


def test_two_labs_with_the_same_addresses_do_not_see_each_other(lab_factory) -> None:
    first, second = lab_factory(), lab_factory()
    a1 = first.add_host("a", "198.18.0.10/24")
    first.add_host("b", "198.18.0.11/24")
    second.add_host("a", "198.18.0.10/24")
    second.add_host("c", "198.18.0.12/24")

    assert first.prefix != second.prefix
    assert a1.ping("198.18.0.11")
    assert not a1.ping("198.18.0.12", timeout=0.5)
