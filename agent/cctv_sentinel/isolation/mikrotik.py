"""The MikroTik backend: RouterOS v7 REST API, firewall address lists and four drop rules.

What it keeps on the router (``<p>`` is the configured prefix, ``cctv-sentinel``)::

    /ip/firewall/address-list   (and /ipv6/... for IPv6 cameras)
      <p>-internet, <p>-quarantine   one entry per isolated camera address,
                                     comment "<p>:<camera id>"
      <p>-local                      local networks and allowed networks
      <p>-allow                      allowed networks (recorder, this agent)
    /ip/firewall/filter   (and /ipv6/...), chain forward, at the top:
      drop  src <p>-quarantine  dst !<p>-allow
      drop  dst <p>-quarantine  src !<p>-allow
      drop  src <p>-internet    dst !<p>-local
      drop  dst <p>-internet    src !<p>-local

Only drop rules are added: no ``accept`` that could open what the user's own
rules close. REST has no transactions, so changes are ordered to be safe at
every step: support lists, then rules, then camera entries when adding;
the reverse when removing. An interrupted change is finished by the next one,
because every change re-reads the router and converges on the desired state.

API facts (https://help.mikrotik.com/docs/spaces/ROS/pages/47579162/REST+API):
HTTP Basic auth; GET = print (``?prop=value`` filters), PUT = add (returns the
new record), PATCH = set, DELETE = remove; record ids look like ``*1A``; every
value in replies is a string; errors are JSON ``{"error", "message", "detail"}``.
RouterOS matches MAC addresses per rule, not through address lists, so this
backend isolates by IP address only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from cctv_sentinel.errors import IsolationError
from cctv_sentinel.isolation.base import NetworkScope, Observed, Plan
from cctv_sentinel.isolation.config import MIKROTIK, MikrotikSettings
from cctv_sentinel.isolation.model import MODES, Isolation

MAX_REPLY: Final = 8 * 1024 * 1024
"""Most bytes read from one REST reply: our lists are small, but a forward chain
or a filtered list on a busy router is returned whole (no paging in the API)."""

FAMILIES: Final = (("ip", 4), ("ipv6", 6))
_RULE_KEYS: Final = ("chain", "action", "src-address-list", "dst-address-list")


@dataclass(frozen=True, slots=True)
class HttpCall:
    """One REST call of a plan."""

    method: str
    path: str
    body: Mapping[str, str] | None = None

    def render(self) -> str:
        """``PUT /rest/ip/firewall/address-list {"list": ...}``."""
        text = f"{self.method} /rest{self.path}"
        if self.body is not None:
            text += " " + json.dumps(dict(self.body), separators=(", ", ": "))
        return text


def _canonical(address: str) -> str:
    """An address-list value as we compare it: a host without prefix, a network with one."""
    try:
        net = ipaddress.ip_network(address, strict=False)
    except ValueError:
        return address
    return str(net.network_address) if net.num_addresses == 1 else net.with_prefixlen


async def _read_bounded(stream: aiohttp.StreamReader, limit: int) -> bytes | None:
    """The whole body, or None as soon as it exceeds ``limit`` bytes."""
    chunks: list[bytes] = []
    total = 0
    while chunk := await stream.read(64 * 1024):
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class RestClient:
    """A minimal RouterOS REST client: one session, Basic auth, timeouts, bounded replies."""

    def __init__(self, settings: MikrotikSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.settings.base_url.startswith("https:"):
            return True  # unused for http
        if self.settings.ca_file:
            return ssl.create_default_context(cafile=self.settings.ca_file)
        return self.settings.verify_tls

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                auth=aiohttp.BasicAuth(self.settings.username, self.settings.password.reveal()),
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                headers={"Accept": "application/json"},
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """Send one call; return the decoded JSON reply (None when empty)."""
        url = self.settings.base_url + path
        where = f"{method} /rest{path}"
        try:
            async with (
                asyncio.timeout(self.settings.timeout),
                self._session_now().request(
                    method,
                    url,
                    json=dict(body) if body is not None else None,
                    params=dict(params) if params else None,
                    ssl=self._ssl(),
                    # Never follow a redirect: it would carry our credentials elsewhere.
                    allow_redirects=False,
                ) as resp,
            ):
                status = resp.status
                data = await _read_bounded(resp.content, MAX_REPLY)
        except TimeoutError:
            raise IsolationError(
                f"the router did not answer {where} within {self.settings.timeout:g} s"
            ) from None
        except (aiohttp.ClientError, OSError, ssl.SSLError) as err:
            raise IsolationError(
                f"cannot reach the router for {where}: {type(err).__name__}: {err}"
            ) from None
        if data is None:
            raise IsolationError(f"the router's reply to {where} is larger than {MAX_REPLY} bytes")
        decoded: Any = None
        if data.strip():
            try:
                decoded = json.loads(data)
            except ValueError:
                raise IsolationError(
                    f"the router's reply to {where} is not JSON (HTTP {status})"
                ) from None
        if status == 401:
            raise IsolationError(f"the router refused our credentials for {where} (HTTP 401)")
        if status >= 300:
            message = detail = ""
            if isinstance(decoded, dict):
                message = str(decoded.get("message", ""))[:200]
                detail = str(decoded.get("detail", ""))[:300]
            text = f"the router refused {where}: HTTP {status}"
            text += f" {message}" if message else ""
            text += f" ({detail})" if detail else ""
            raise IsolationError(text)
        return decoded

    async def get_list(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, str]]:
        """GET a menu (print), as a list of records with string values."""
        reply = await self.request("GET", path, params=params)
        if not isinstance(reply, list):
            raise IsolationError(f"the router's reply to GET /rest{path} is not a list")
        return [
            {str(k): str(v) for k, v in item.items()} for item in reply if isinstance(item, dict)
        ]

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass(slots=True)
class _FamilyState:
    lists: dict[str, list[dict[str, str]]]
    forward: list[dict[str, str]]


class MikrotikBackend:
    """Isolation through a MikroTik router's firewall, over its REST API."""

    name = MIKROTIK
    matches_mac = False

    def __init__(self, settings: MikrotikSettings, client: RestClient | None = None) -> None:
        self.settings = settings
        self.client = client or RestClient(settings)
        p = settings.prefix
        self.lists = {
            "internet": f"{p}-internet",
            "quarantine": f"{p}-quarantine",
            "local": f"{p}-local",
            "allow": f"{p}-allow",
        }

    # the rules --------------------------------------------------------------------------

    def rules(self) -> list[dict[str, str]]:
        """The four drop rules, in order, as PUT bodies."""
        lists, p = self.lists, self.settings.prefix
        return [
            {
                "chain": "forward",
                "action": "drop",
                "src-address-list": lists["quarantine"],
                "dst-address-list": "!" + lists["allow"],
                "comment": f"{p}: quarantine, from camera",
            },
            {
                "chain": "forward",
                "action": "drop",
                "src-address-list": "!" + lists["allow"],
                "dst-address-list": lists["quarantine"],
                "comment": f"{p}: quarantine, to camera",
            },
            {
                "chain": "forward",
                "action": "drop",
                "src-address-list": lists["internet"],
                "dst-address-list": "!" + lists["local"],
                "comment": f"{p}: internet, from camera",
            },
            {
                "chain": "forward",
                "action": "drop",
                "src-address-list": "!" + lists["local"],
                "dst-address-list": lists["internet"],
                "comment": f"{p}: internet, to camera",
            },
        ]

    def _ours(self, rule: Mapping[str, str]) -> bool:
        return rule.get("comment", "").startswith(f"{self.settings.prefix}: ")

    def _rule_ok(self, have: Mapping[str, str], want: Mapping[str, str]) -> bool:
        if have.get("disabled", "false") == "true":
            return False
        return all(have.get(key, "") == want[key] for key in _RULE_KEYS)

    def _good_rules(self, forward: Sequence[dict[str, str]]) -> dict[str, dict[str, str]]:
        """Our rules that are correct and sit above every rule of the user's (by comment)."""
        good: dict[str, dict[str, str]] = {}
        wanted = {r["comment"]: r for r in self.rules()}
        seen_foreign = False
        for rule in forward:
            if rule.get("dynamic") == "true":
                continue  # e.g. RouterOS's fasttrack counter dummy: not a real rule
            if not self._ours(rule):
                seen_foreign = True
                continue
            want = wanted.get(rule.get("comment", ""))
            if want is not None and not seen_foreign and self._rule_ok(rule, want):
                good.setdefault(want["comment"], rule)
        return good

    # reading -------------------------------------------------------------------------------

    async def _read(self, family: str) -> _FamilyState:
        base = f"/{family}/firewall"
        lists = {
            name: await self.client.get_list(f"{base}/address-list", {"list": name})
            for name in self.lists.values()
        }
        forward = await self.client.get_list(f"{base}/filter", {"chain": "forward"})
        return _FamilyState(lists, forward)

    # planning --------------------------------------------------------------------------------

    def _desired_lists(
        self, entries: Sequence[Isolation], scope: NetworkScope, version: int
    ) -> dict[str, dict[str, str]]:
        p = self.settings.prefix
        desired: dict[str, dict[str, str]] = {name: {} for name in self.lists.values()}
        for mode in MODES:
            for entry in entries:
                if entry.mode != mode:
                    continue
                for ip in entry.addresses(version):
                    desired[self.lists[mode]].setdefault(_canonical(ip), f"{p}:{entry.key}")
        if any(desired[self.lists[m]] for m in MODES):
            allow = [n.with_prefixlen for n in scope.of_version("allow", version)]
            local = [n.with_prefixlen for n in scope.of_version("local", version)]
            for net in allow:
                desired[self.lists["allow"]][_canonical(net)] = f"{p}: allowed"
            for net in [*local, *allow]:
                desired[self.lists["local"]].setdefault(_canonical(net), f"{p}: local network")
        return desired

    def _plan_family(
        self, family: str, state: _FamilyState, desired: dict[str, dict[str, str]]
    ) -> tuple[list[HttpCall], list[HttpCall]]:
        """Calls that add (in safe order) and calls that remove (in safe order)."""
        base = f"/{family}/firewall"
        active = any(desired[self.lists[m]] for m in MODES)
        support = [self.lists["local"], self.lists["allow"]]
        cameras = [self.lists[m] for m in MODES]
        adds: dict[str, list[HttpCall]] = {"support": [], "rules": [], "cameras": []}
        removes: dict[str, list[HttpCall]] = {"support": [], "rules": [], "cameras": []}
        for name in [*support, *cameras]:
            kind = "support" if name in support else "cameras"
            have: dict[str, dict[str, str]] = {}
            for item in state.lists.get(name, []):
                addr = _canonical(item.get("address", ""))
                stale = item.get("disabled") == "true" or addr not in desired[name] or addr in have
                if stale:
                    removes[kind].append(HttpCall("DELETE", f"{base}/address-list/{item['.id']}"))
                else:
                    have[addr] = item
            for addr, comment in desired[name].items():
                if addr not in have:
                    body = {"list": name, "address": addr, "comment": comment}
                    adds[kind].append(HttpCall("PUT", f"{base}/address-list", body))
        good = self._good_rules(state.forward) if active else {}
        keep_ids = {rule[".id"] for rule in good.values()}
        for rule in state.forward:
            if self._ours(rule) and rule.get(".id") not in keep_ids:
                removes["rules"].append(HttpCall("DELETE", f"{base}/filter/{rule['.id']}"))
        if active:
            anchor = next(
                (
                    r[".id"]
                    for r in state.forward
                    if r.get("dynamic") != "true" and not self._ours(r)
                ),
                None,
            )
            for rule in self.rules():
                if rule["comment"] in good:
                    continue
                body = dict(rule)
                if anchor is not None:
                    body["place-before"] = anchor
                adds["rules"].append(HttpCall("PUT", f"{base}/filter", body))
        add_calls = adds["support"] + adds["rules"] + adds["cameras"]
        remove_calls = removes["cameras"] + removes["rules"] + removes["support"]
        return add_calls, remove_calls

    async def plan(self, entries: Sequence[Isolation], scope: NetworkScope) -> Plan:
        """Read the router, then list the calls that make it match ``entries`` exactly."""
        adds: list[HttpCall] = []
        removes: list[HttpCall] = []
        for family, version in FAMILIES:
            state = await self._read(family)
            desired = self._desired_lists(entries, scope, version)
            fam_adds, fam_removes = self._plan_family(family, state, desired)
            adds += fam_adds
            removes += fam_removes
        calls = adds + removes
        text = "\n".join(call.render() for call in calls) if calls else "(nothing to change)"
        return Plan(self.name, text + "\n", tuple(calls), changes=bool(calls))

    async def apply(self, plan: Plan) -> None:
        """Send the plan's calls in order; stop at the first refusal."""
        for call in plan.steps:
            assert isinstance(call, HttpCall)
            await self.client.request(call.method, call.path, call.body)

    async def observe(self) -> Observed:
        """Read the lists and rules back: which camera addresses are really isolated."""
        members: dict[str, set[str]] = {mode: set() for mode in MODES}
        present = False
        rules_ok = True
        for family, _ in FAMILIES:
            state = await self._read(family)
            if any(state.lists.values()) or any(self._ours(r) for r in state.forward):
                present = True
            in_lists = {
                mode: {
                    _canonical(item.get("address", ""))
                    for item in state.lists.get(self.lists[mode], [])
                    if item.get("disabled") != "true"
                }
                for mode in MODES
            }
            if not any(in_lists.values()):
                continue
            if len(self._good_rules(state.forward)) != len(self.rules()):
                rules_ok = False
                continue
            for mode in MODES:
                members[mode] |= in_lists[mode]
        return Observed(
            present=present,
            rules_ok=rules_ok,
            members={mode: frozenset(values) for mode, values in members.items()},
        )

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.client.close()
