"""The nftables backend: the exact transaction, and the real nft inside a namespace."""

from __future__ import annotations

import ipaddress
import time

import pytest

from cctv_sentinel.errors import IsolationError
from cctv_sentinel.isolation import Isolation, Requester
from cctv_sentinel.isolation.base import NetworkScope, Plan
from cctv_sentinel.isolation.config import NftablesSettings
from cctv_sentinel.isolation.nftables import (
    NftablesBackend,
    build_transaction,
    subprocess_runner,
)
from tests.lab import netlab

SCOPE = NetworkScope(
    local=(ipaddress.ip_network("198.18.0.0/24"), ipaddress.ip_network("2001:2:0:1::/64")),
    allow=(ipaddress.ip_network("198.18.2.20/32"), ipaddress.ip_network("198.18.2.21/32")),
)


def entry(key: str, mode: str, ips: tuple[str, ...], mac: str | None = None) -> Isolation:
    return Isolation(
        key=key,
        camera_id=key,
        ips=ips,
        mac=mac,
        mode=mode,  # type: ignore[arg-type]
        backend="nftables",
        state="isolated",
        since=1.0,
        updated=1.0,
        requested_by=Requester("cli"),
    )


CAM = entry("025e00000010", "internet", ("198.18.0.10", "2001:2:0:1::10"), "02:5e:00:00:00:10")
QUARANTINED = entry("ip-198-18-0-11", "quarantine", ("198.18.0.11",))

EXPECTED = """\
# cctv-sentinel: 2 isolation(s); the table is rewritten whole each time
table inet cctv_sentinel {}
delete table inet cctv_sentinel
table inet cctv_sentinel {
\tset internet_mac {
\t\ttype ether_addr
\t\telements = { 02:5e:00:00:00:10 }
\t}
\tset internet_v4 {
\t\ttype ipv4_addr
\t\telements = { 198.18.0.10 }
\t}
\tset internet_v6 {
\t\ttype ipv6_addr
\t\telements = { 2001:2:0:1::10 }
\t}
\tset quarantine_mac {
\t\ttype ether_addr
\t}
\tset quarantine_v4 {
\t\ttype ipv4_addr
\t\telements = { 198.18.0.11 }
\t}
\tset quarantine_v6 {
\t\ttype ipv6_addr
\t}
\tset local_v4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 198.18.0.0/24 }
\t}
\tset local_v6 {
\t\ttype ipv6_addr
\t\tflags interval
\t\telements = { 2001:2:0:1::/64 }
\t}
\tset allow_v4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 198.18.2.20/31 }
\t}
\tset allow_v6 {
\t\ttype ipv6_addr
\t\tflags interval
\t}
\tchain forward {
\t\ttype filter hook forward priority filter - 10; policy accept;
\t\tip saddr @quarantine_v4 ip daddr != @allow_v4 counter drop comment "quarantine: from camera (IPv4)"
\t\tip daddr @quarantine_v4 ip saddr != @allow_v4 counter drop comment "quarantine: to camera (IPv4)"
\t\tether saddr @quarantine_mac ip daddr != @allow_v4 counter drop comment "quarantine: from camera MAC (IPv4)"
\t\tip6 saddr @quarantine_v6 ip6 daddr != @allow_v6 counter drop comment "quarantine: from camera (IPv6)"
\t\tip6 daddr @quarantine_v6 ip6 saddr != @allow_v6 counter drop comment "quarantine: to camera (IPv6)"
\t\tether saddr @quarantine_mac ip6 daddr != @allow_v6 counter drop comment "quarantine: from camera MAC (IPv6)"
\t\tip saddr @internet_v4 ip daddr != @local_v4 ip daddr != @allow_v4 counter drop comment "internet: from camera (IPv4)"
\t\tip daddr @internet_v4 ip saddr != @local_v4 ip saddr != @allow_v4 counter drop comment "internet: to camera (IPv4)"
\t\tether saddr @internet_mac ip daddr != @local_v4 ip daddr != @allow_v4 counter drop comment "internet: from camera MAC (IPv4)"
\t\tip6 saddr @internet_v6 ip6 daddr != @local_v6 ip6 daddr != @allow_v6 counter drop comment "internet: from camera (IPv6)"
\t\tip6 daddr @internet_v6 ip6 saddr != @local_v6 ip6 saddr != @allow_v6 counter drop comment "internet: to camera (IPv6)"
\t\tether saddr @internet_mac ip6 daddr != @local_v6 ip6 daddr != @allow_v6 counter drop comment "internet: from camera MAC (IPv6)"
\t}
}
"""  # noqa: E501  (nft's own line lengths)


def test_the_transaction_text_is_exact() -> None:
    assert build_transaction(NftablesSettings(), [CAM, QUARANTINED], SCOPE) == EXPECTED


def test_with_nothing_isolated_the_transaction_only_deletes_our_table() -> None:
    text = build_transaction(NftablesSettings(table="site_iso", family="bridge"), [], SCOPE)
    assert text.splitlines()[1:] == ["table bridge site_iso {}", "delete table bridge site_iso"]


def test_bridge_family_uses_the_same_rules() -> None:
    text = build_transaction(NftablesSettings(family="bridge"), [CAM], SCOPE)
    assert "table bridge cctv_sentinel {\n" in text
    assert text.replace("bridge", "inet").count("counter drop") == 12


@pytest.fixture
def backend(lab: netlab.Lab) -> tuple[NftablesBackend, netlab.Host]:
    host = lab.add_host("gw", "198.18.0.1/24")
    runner = subprocess_runner([netlab._IP_BIN, "netns", "exec", host.ns, "nft"])
    return NftablesBackend(NftablesSettings(), runner), host


async def test_real_nft_applies_reads_back_and_removes(
    backend: tuple[NftablesBackend, netlab.Host],
) -> None:
    be, host = backend
    site = "table ip site {\n chain screen {\n  type filter hook forward priority 0;\n }\n}\n"
    host.run(["nft", "-f", "-"], input=site, check=True)
    before = host.run(["nft", "list", "ruleset"], check=True).stdout

    empty = await be.observe()
    assert not empty.present
    plan = await be.plan([CAM, QUARANTINED], SCOPE)
    assert plan.changes
    assert plan.text == EXPECTED
    await be.apply(plan)
    seen = await be.observe()
    assert seen.present
    assert seen.rules_ok
    assert seen.in_force(CAM, with_mac=True)
    assert seen.in_force(QUARANTINED, with_mac=True)
    assert not seen.in_force(entry("x", "internet", ("198.18.0.99",)), with_mac=True)

    # The same desired state again: nothing to do, the table is left alone.
    again = await be.plan([CAM, QUARANTINED], SCOPE)
    assert not again.changes
    assert "nothing to change" in again.text
    # A different allowlist is a change.
    wider = NetworkScope(local=SCOPE.local, allow=(ipaddress.ip_network("198.18.2.0/24"),))
    assert (await be.plan([CAM, QUARANTINED], wider)).changes

    await be.apply(await be.plan([], SCOPE))
    assert not (await be.observe()).present
    assert host.run(["nft", "list", "ruleset"], check=True).stdout == before
    assert not (await be.plan([], SCOPE)).changes


async def test_a_tampered_table_is_not_in_force(
    backend: tuple[NftablesBackend, netlab.Host],
) -> None:
    be, host = backend
    await be.apply(await be.plan([CAM], SCOPE))
    host.run(["nft", "flush", "set", "inet", "cctv_sentinel", "internet_v4"], check=True)
    seen = await be.observe()
    assert seen.rules_ok
    assert not seen.in_force(CAM, with_mac=True)
    assert (await be.plan([CAM], SCOPE)).changes
    await be.apply(await be.plan([CAM], SCOPE))
    host.run(["nft", "flush", "chain", "inet", "cctv_sentinel", "forward"], check=True)
    seen = await be.observe()
    assert not seen.rules_ok
    assert not seen.in_force(CAM, with_mac=True)
    assert (await be.plan([CAM], SCOPE)).changes


async def test_nft_errors_are_isolation_errors(
    backend: tuple[NftablesBackend, netlab.Host],
) -> None:
    be, _ = backend
    # "fwd" is an nft keyword, so a table of that name is a syntax error.
    settings = NftablesSettings(table="fwd")
    bad = NftablesBackend(settings, be._run)
    text = build_transaction(settings, [CAM], SCOPE)
    with pytest.raises(IsolationError, match=r"nft refused the transaction: .*syntax error"):
        await bad.apply(Plan("nftables", text, (text,)))
    with pytest.raises(IsolationError, match=r"nft cannot list inet fwd: .*syntax error"):
        await bad.observe()
    missing = NftablesBackend(
        NftablesSettings(nft="/nonexistent/nft-binary"),
        subprocess_runner(["/nonexistent/nft-binary"]),
    )
    with pytest.raises(IsolationError, match="/nonexistent/nft-binary not found"):
        await missing.observe()


async def test_a_hung_nft_is_killed_at_the_timeout() -> None:
    # Not nft: a child that never answers stands in for a wedged one.
    run = subprocess_runner(["sleep", "30"])
    start = time.monotonic()
    with pytest.raises(IsolationError, match=r"did not finish within 0\.3 s"):
        await run([], None, 0.3)
    assert time.monotonic() - start < 5
