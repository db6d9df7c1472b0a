"""Reading the host's routes, addresses, resolvers and DHCP leases."""

from __future__ import annotations

import ipaddress
import json
import struct
import sys
from pathlib import Path

from cctv_sentinel.isolation import hostinfo
from tests.lab import netlab

# /proc/net/route of a router: default via 192.0.2.1 on the uplink (eth0), two LANs.
ROUTE_V4 = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth1\t000A12C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth2\t000212C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth2\t000312C6\t050212C6\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""
# /proc/net/ipv6_route: a LAN prefix, link-local, a default route, local and multicast entries.
ROUTE_V6 = """\
20010002000000010000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth1
00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010002000000090000000000000009 00000400 00000002 00000000 00000003     eth0
20010002000000010000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001     eth1
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000003 00000000 00000001     eth1
"""  # noqa: E501  (the kernel's own line lengths)
FIB_TRIE = """\
Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 192.0.2.0/24 2 0 2
        |-- 192.0.2.0
           /24 link UNICAST
        |-- 192.0.2.7
           /32 host LOCAL
     |-- 198.18.10.1
        /32 host LOCAL
Local:
  +-- 127.0.0.0/8 2 0 2
     |-- 127.0.0.1
        /32 host LOCAL
  |-- 192.0.2.7
     /32 host LOCAL
"""
IF_INET6 = """\
00000000000000000000000000000001 01 80 10 80       lo
20010002000000010000000000000001 03 40 00 80     eth1
fe80000000000000fc00fffe00000001 03 40 20 80     eth1
"""


def _proc(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def test_routes_gateways_and_local_networks(tmp_path: Path) -> None:
    root = _proc(tmp_path, {"proc/net/route": ROUTE_V4, "proc/net/ipv6_route": ROUTE_V6})
    routes = hostinfo.routes(root)
    assert [str(g) for g in hostinfo.default_gateways(routes)] == ["192.0.2.1", "2001:2:0:9::9"]
    # The uplink's ISP network (192.0.2.0/24 on eth0) is not local; the LANs and a
    # network routed behind one of them are (adjacent ones collapse).
    assert [str(n) for n in hostinfo.local_networks(routes)] == [
        "198.18.2.0/23",
        "198.18.10.0/24",
        "2001:2:0:1::/64",
    ]


def test_a_host_with_one_interface_counts_its_own_network_as_local() -> None:
    one = hostinfo.parse_route_v4(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"
        "br0\t00000000\t010012C6\t0003\t0\t0\t0\t00000000\n"
        "br0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"
    )
    assert [str(n) for n in hostinfo.local_networks(one)] == ["198.18.0.0/24"]


def test_own_addresses_from_fib_trie_and_if_inet6(tmp_path: Path) -> None:
    root = _proc(tmp_path, {"proc/net/fib_trie": FIB_TRIE, "proc/net/if_inet6": IF_INET6})
    assert [str(a) for a in hostinfo.own_addresses(root)] == [
        "192.0.2.7",
        "198.18.10.1",
        "2001:2:0:1::1",
        "fe80::fc00:fffe:0:1",
    ]


def test_dns_and_dhcp_servers_from_every_common_client(tmp_path: Path) -> None:
    bootp = bytearray(300)
    bootp[236:240] = b"\x63\x82\x53\x63"
    bootp[240:] = bytes([53, 1, 5, 54, 4, 198, 18, 0, 3, 255]) + bytes(50)
    root = _proc(
        tmp_path,
        {
            "etc/resolv.conf": "# generated\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\n"
            "options edns0\nnameserver not-an-ip\n",
            "run/systemd/resolve/resolv.conf": "nameserver 198.18.0.53\nnameserver 127.0.0.53\n",
            "var/lib/dhcp/dhclient.eth0.leases": 'lease {\n  interface "eth0";\n'
            "  option dhcp-server-identifier 198.18.0.1;\n}\n",
            "run/systemd/netif/leases/2": "ADDRESS=198.18.0.50\nSERVER_ADDRESS=198.18.0.2\n",
            "var/lib/dhcpcd/eth0.lease": bytes(bootp),
            "var/lib/NetworkManager/internal-x.lease": "SERVER_ADDRESS=198.18.0.2\n",
        },
    )
    assert [str(a) for a in hostinfo.dns_servers(root)] == ["127.0.0.53", "fe80::1", "198.18.0.53"]
    assert sorted(str(a) for a in hostinfo.dhcp_servers(root)) == [
        "198.18.0.1",
        "198.18.0.2",
        "198.18.0.3",
    ]


def test_hostile_files_are_bounded_and_never_crash(tmp_path: Path) -> None:
    huge = "nameserver 198.18.0.9\n" + "x" * (hostinfo.MAX_HOST_FILE * 2)
    truncated_bootp = b"\x00" * 236 + b"\x63\x82\x53\x63" + bytes([54, 40, 1])
    root = _proc(
        tmp_path,
        {
            "etc/resolv.conf": huge,
            "proc/net/route": "garbage\n\x00\x01\nIface\tzz\tzz\tzz\tzz\tzz\tzz\tzz\n",
            "proc/net/ipv6_route": "short line\n" + "z" * 40 + " 1 2 3 4 5 6 7 8 9\n",
            "var/lib/dhcpcd/x.lease": truncated_bootp,
        },
    )
    assert [str(a) for a in hostinfo.dns_servers(root)] == ["198.18.0.9"]
    assert hostinfo.routes(root) == []
    assert hostinfo.dhcp_servers(root) == []
    assert hostinfo.parse_lease_bootp(struct.pack("!B", 1) * 10) == []


def test_parsers_read_a_real_kernel(lab: netlab.Lab) -> None:
    lan, uplink = lab.add_switch("lan"), lab.add_switch("uplink")
    gw = lab.add_router("gw", (lan, "198.18.0.1/24"), (uplink, "198.18.9.1/24"))
    gw.run(["ip", "route", "add", "default", "via", "198.18.9.9"], check=True)
    gw.run(["ip", "addr", "add", "198.18.0.254/24", "dev", "eth0"], check=True)
    code = (
        "import json; from cctv_sentinel.isolation import hostinfo as h; r = h.routes();"
        "print(json.dumps({'gw': [str(a) for a in h.default_gateways(r)],"
        " 'local': [str(n) for n in h.local_networks(r)],"
        " 'own': [str(a) for a in h.own_addresses()], 'macs': h.own_macs()}))"
    )
    out = json.loads(gw.run([sys.executable, "-c", code], check=True).stdout)
    assert out["gw"] == ["198.18.9.9"]
    assert out["local"] == ["198.18.0.0/24"]
    own_v4 = [a for a in out["own"] if ipaddress.ip_address(a).version == 4]
    assert sorted(own_v4) == ["198.18.0.1", "198.18.0.254", "198.18.9.1"]
    assert len(out["macs"]) == 2
