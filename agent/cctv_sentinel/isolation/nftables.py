"""The nftables backend: one table of our own, rewritten whole in one atomic transaction.

Layout of the table (``inet`` family by default, ``bridge`` for a bridge host)::

    table inet cctv_sentinel
      sets  internet_mac/_v4/_v6, quarantine_mac/_v4/_v6   cameras, by mode
            local_v4/_v6, allow_v4/_v6                     networks (interval sets)
      chain forward  (hook forward, priority filter - 10, policy accept)
            drop rules only: a camera in a set loses every forwarded packet
            except to local networks (internet) or allowed networks (both modes)

The chain only ever drops. In nftables an ``accept`` ends only the chain it is
in, and every other base chain on the hook still sees the packet, so our
table cannot open anything another table closes. Each change deletes and
re-creates the table inside one ``nft -f -`` transaction: the kernel applies
all of it or none, and packets see either the old rules or the new ones.
With nothing isolated the table is deleted, which leaves the ruleset exactly
as it was before the first isolation.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cctv_sentinel.errors import IsolationError
from cctv_sentinel.isolation.base import NetworkScope, Observed, Plan
from cctv_sentinel.isolation.config import NFTABLES, NftablesSettings
from cctv_sentinel.isolation.model import MODES, Isolation

MAX_NFT_OUTPUT: Final = 32 * 1024 * 1024
"""Most bytes accepted from ``nft -j list table``: 4096 isolations make well under 2 MiB."""


@dataclass(frozen=True, slots=True)
class NftResult:
    """Exit code and output of one nft run."""

    returncode: int
    stdout: str
    stderr: str


NftRunner = Callable[[Sequence[str], str | None, float], Awaitable[NftResult]]
"""Runs ``nft ARGS`` with optional stdin and a timeout. Injected in tests, which run the
real nft inside a network namespace (``ip netns exec NS nft``)."""


def subprocess_runner(argv0: Sequence[str]) -> NftRunner:
    """A runner that executes ``argv0 + args`` as a child process."""

    async def run(args: Sequence[str], stdin: str | None, timeout: float) -> NftResult:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv0,
                *args,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise IsolationError(f"{argv0[0]} not found (is nftables installed?)") from None
        except PermissionError:
            raise IsolationError(f"{argv0[0]} cannot be run (permission denied)") from None
        try:
            async with asyncio.timeout(timeout):
                out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise IsolationError(f"nft did not finish within {timeout:g} s") from None
        if len(out) > MAX_NFT_OUTPUT:
            raise IsolationError("nft printed more than we are prepared to read")
        assert proc.returncode is not None
        return NftResult(
            proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        )

    return run


_SET_TYPES: Final = {"mac": "ether_addr", "v4": "ipv4_addr", "v6": "ipv6_addr"}
_FAMILY_SETS: Final = ("mac", "v4", "v6")


def set_names() -> list[tuple[str, str, bool]]:
    """Every set of the table in order: (name, element type, interval?)."""
    names = [(f"{mode}_{kind}", _SET_TYPES[kind], False) for mode in MODES for kind in _FAMILY_SETS]
    names += [
        (f"{which}_{v}", _SET_TYPES[v], True) for which in ("local", "allow") for v in ("v4", "v6")
    ]
    return names


def desired_sets(entries: Sequence[Isolation], scope: NetworkScope) -> dict[str, list[str]]:
    """The elements each set must hold, in a stable order, in canonical text form."""
    sets: dict[str, list[str]] = {}
    for mode in MODES:
        chosen = [e for e in entries if e.mode == mode]
        sets[f"{mode}_mac"] = list(dict.fromkeys(e.mac for e in chosen if e.mac))
        sets[f"{mode}_v4"] = list(dict.fromkeys(ip for e in chosen for ip in e.addresses(4)))
        sets[f"{mode}_v6"] = list(dict.fromkeys(ip for e in chosen for ip in e.addresses(6)))
    for which in ("local", "allow"):
        for version in (4, 6):
            nets = scope.of_version(which, version)
            sets[f"{which}_v{version}"] = [n.with_prefixlen for n in nets]
    return sets


def _set(name: str, kind: str, values: Sequence[str], *, interval: bool) -> list[str]:
    body = [f"type {kind}"]
    if interval:
        body.append("flags interval")
    if values:
        body.append(f"elements = {{ {', '.join(values)} }}")
    return [f"\tset {name} {{", *(f"\t\t{line}" for line in body), "\t}"]


def _rules() -> list[tuple[str, str]]:
    """Every rule of the forward chain with its comment, quarantine first."""
    rules: list[tuple[str, str]] = []
    for v, ip in ((4, "ip"), (6, "ip6")):
        allow = f"@allow_v{v}"
        rules += [
            (
                f"{ip} saddr @quarantine_v{v} {ip} daddr != {allow}",
                f"quarantine: from camera (IPv{v})",
            ),
            (
                f"{ip} daddr @quarantine_v{v} {ip} saddr != {allow}",
                f"quarantine: to camera (IPv{v})",
            ),
            (
                f"ether saddr @quarantine_mac {ip} daddr != {allow}",
                f"quarantine: from camera MAC (IPv{v})",
            ),
        ]
    for v, ip in ((4, "ip"), (6, "ip6")):
        allow, local = f"@allow_v{v}", f"@local_v{v}"
        rules += [
            (
                f"{ip} saddr @internet_v{v} {ip} daddr != {local} {ip} daddr != {allow}",
                f"internet: from camera (IPv{v})",
            ),
            (
                f"{ip} daddr @internet_v{v} {ip} saddr != {local} {ip} saddr != {allow}",
                f"internet: to camera (IPv{v})",
            ),
            (
                f"ether saddr @internet_mac {ip} daddr != {local} {ip} daddr != {allow}",
                f"internet: from camera MAC (IPv{v})",
            ),
        ]
    return rules


RULE_COMMENTS: Final = tuple(comment for _, comment in _rules())


def build_transaction(
    settings: NftablesSettings, entries: Sequence[Isolation], scope: NetworkScope
) -> str:
    """The exact ``nft -f -`` input that makes the table hold ``entries`` and nothing else."""
    table = f"{settings.family} {settings.table}"
    lines = [
        f"# cctv-sentinel: {len(entries)} isolation(s); the table is rewritten whole each time",
        # Creating the table first makes the delete valid when it does not exist yet.
        f"table {table} {{}}",
        f"delete table {table}",
    ]
    if not entries:
        return "\n".join(lines) + "\n"
    elements = desired_sets(entries, scope)
    lines.append(f"table {table} {{")
    for name, kind, interval in set_names():
        lines += _set(name, kind, elements[name], interval=interval)
    lines += [
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter - 10; policy accept;",
        *(f'\t\t{rule} counter drop comment "{comment}"' for rule, comment in _rules()),
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Listing:
    """Our table as nft lists it: set contents (canonical) and the forward chain."""

    sets: dict[str, frozenset[str]]
    hooked: bool
    comments: tuple[str, ...]

    def holds(self, wanted: dict[str, list[str]]) -> bool:
        """True when the table is exactly what ``wanted`` (from :func:`desired_sets`) describes."""
        if not self.hooked or self.comments != RULE_COMMENTS:
            return False
        for name, kind, interval in set_names():
            want = {_canonical(v, kind, interval=interval) for v in wanted.get(name, [])}
            if self.sets.get(name) != frozenset(want):
                return False
        return True

    def observed(self) -> Observed:
        """What is in force, by mode."""
        members: dict[str, frozenset[str]] = {
            mode: frozenset().union(
                *(self.sets.get(f"{mode}_{k}", frozenset()) for k in _FAMILY_SETS)
            )
            for mode in MODES
        }
        rules_ok = self.hooked and self.comments == RULE_COMMENTS
        return Observed(present=True, rules_ok=rules_ok, members=members)


def _canonical(value: str, kind: str, *, interval: bool) -> str:
    if kind == "ether_addr":
        return value.lower()
    try:
        if interval:
            return ipaddress.ip_network(value, strict=False).with_prefixlen
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


def _elements(raw: Any, kind: str, *, interval: bool) -> set[str]:
    """Set elements from nft's JSON: plain values, prefixes, ranges, or wrapped elements."""
    found: set[str] = set()
    for item in raw if isinstance(raw, list) else [raw]:
        value = item
        if isinstance(value, dict) and isinstance(value.get("elem"), dict):
            value = value["elem"].get("val")  # elements with options are wrapped
        if isinstance(value, str):
            found.add(_canonical(value, kind, interval=interval))
        elif isinstance(value, dict) and isinstance(value.get("prefix"), dict):
            prefix = value["prefix"]
            found.add(_canonical(f"{prefix.get('addr')}/{prefix.get('len')}", kind, interval=True))
        elif isinstance(value, dict) and isinstance(value.get("range"), list):
            with contextlib.suppress(ValueError, TypeError):
                low, high = (ipaddress.ip_address(str(a)) for a in value["range"])
                found.update(n.with_prefixlen for n in ipaddress.summarize_address_range(low, high))
    return found


def parse_listing(payload: str, settings: NftablesSettings) -> Listing:
    """Read ``nft -j list table`` output."""
    try:
        data = json.loads(payload)
        items = data["nftables"]
    except (ValueError, KeyError, TypeError) as err:
        raise IsolationError(f"cannot read nft's JSON listing: {err}") from None
    sets: dict[str, frozenset[str]] = {}
    comments: list[str] = []
    hooked = False
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        if isinstance(found := item.get("set"), dict) and found.get("table") == settings.table:
            kind = str(found.get("type", ""))
            interval = "interval" in (found.get("flags") or [])
            sets[str(found.get("name"))] = frozenset(
                _elements(found.get("elem", []), kind, interval=interval)
            )
        elif isinstance(chain := item.get("chain"), dict) and chain.get("name") == "forward":
            hooked = (
                chain.get("hook") == "forward"
                and chain.get("type") == "filter"
                and chain.get("policy") == "accept"
            )
        elif isinstance(rule := item.get("rule"), dict) and rule.get("chain") == "forward":
            comments.append(str(rule.get("comment", "")))
    return Listing(sets=sets, hooked=hooked, comments=tuple(comments))


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    text = lines[0] if lines else "no message"
    return text[:300]


class NftablesBackend:
    """Isolation through an nftables table on this host (router, gateway or bridge)."""

    name = NFTABLES
    matches_mac = True

    def __init__(self, settings: NftablesSettings, runner: NftRunner | None = None) -> None:
        self.settings = settings
        self._run = runner or subprocess_runner([settings.nft])

    @property
    def table(self) -> str:
        """``family name`` of our table."""
        return f"{self.settings.family} {self.settings.table}"

    async def _listing(self) -> Listing | None:
        """Our table as it is now, or None when it does not exist."""
        result = await self._run(
            ["-j", "list", "table", *self.table.split()], None, self.settings.timeout
        )
        if result.returncode != 0:
            if "No such file or directory" in result.stderr or "does not exist" in result.stderr:
                return None
            raise IsolationError(f"nft cannot list {self.table}: {_first_error(result.stderr)}")
        return parse_listing(result.stdout, self.settings)

    async def plan(self, entries: Sequence[Isolation], scope: NetworkScope) -> Plan:
        """The transaction that rewrites our table; no change when it already holds exactly that."""
        text = build_transaction(self.settings, entries, scope)
        current = await self._listing()
        if (current is None and not entries) or (
            current is not None and entries and current.holds(desired_sets(entries, scope))
        ):
            note = f"# {self.table} already holds exactly this; nothing to change\n"
            return Plan(self.name, note, (text,), changes=False)
        return Plan(self.name, text, (text,))

    async def apply(self, plan: Plan) -> None:
        """Run the transaction with ``nft -f -``; all of it applies or none."""
        result = await self._run(["-f", "-"], plan.steps[0], self.settings.timeout)
        if result.returncode != 0:
            raise IsolationError(f"nft refused the transaction: {_first_error(result.stderr)}")

    async def observe(self) -> Observed:
        """List our table as JSON; a missing table means nothing is in force."""
        current = await self._listing()
        if current is None:
            return Observed(present=False, rules_ok=False)
        return current.observed()

    async def close(self) -> None:
        """Nothing to release: every nft run is its own process."""
