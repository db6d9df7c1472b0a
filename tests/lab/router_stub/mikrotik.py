"""A faithful stand-in for the MikroTik RouterOS v7 REST API (firewall part), on real HTTP.

It implements what the documentation says the REST API does
(https://help.mikrotik.com/docs/spaces/ROS/pages/47579162/REST+API), for the
menus an isolation backend needs: ``/ip/firewall/address-list``,
``/ipv6/firewall/address-list``, ``/ip/firewall/filter``,
``/ipv6/firewall/filter`` and ``/system/resource``:

- HTTP Basic authentication; a wrong or missing password gets 401.
- GET = print: a JSON array of records; ``?prop=value`` keeps records whose
  property equals value; ``.proplist=a,b`` keeps only those properties;
  ``GET menu/*ID`` returns one record or 404.
- PUT = add: a JSON object of properties; returns the new record.
  PATCH menu/*ID = set; DELETE menu/*ID = remove (204, no body).
- Every value in a reply is a string (numbers and booleans too); ids look like ``*1A``.
- Errors are JSON objects ``{"error": <status>, "message": <reason>, "detail": <text>}``;
  the detail texts mimic the console's (``failure: already have such entry``).
- Filter rules accept ``place-before`` on add; dynamic entries (RouterOS shows a
  dynamic "special dummy rule to show fasttrack counters" at the top of the
  forward chain) cannot be changed or used as an anchor.

It starts from RouterOS's default configuration ("defconf") firewall rules and
one user address list, so tests can check that a client changes nothing that is
not its own. :meth:`RouterState.forwards` evaluates the forward chain for one
packet (address and address-list matchers), so tests can check what the rules
mean, not only that they exist. Nothing here imports the agent.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import ipaddress
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MENUS = (
    "ip/firewall/address-list",
    "ipv6/firewall/address-list",
    "ip/firewall/filter",
    "ipv6/firewall/filter",
)
_ADDRESS_LIST_PARAMS = frozenset({"list", "address", "comment", "disabled", "timeout"})
_FILTER_PARAMS = frozenset(
    {
        "chain",
        "action",
        "comment",
        "disabled",
        "src-address",
        "dst-address",
        "src-address-list",
        "dst-address-list",
        "protocol",
        "connection-state",
        "connection-nat-state",
        "in-interface",
        "out-interface",
        "in-interface-list",
        "out-interface-list",
        "ipsec-policy",
        "hw-offload",
        "log",
        "log-prefix",
        "place-before",
    }
)
_ACTIONS = frozenset(
    {
        "accept",
        "drop",
        "reject",
        "jump",
        "return",
        "passthrough",
        "log",
        "fasttrack-connection",
        "add-src-to-address-list",
        "add-dst-to-address-list",
        "tarpit",
    }
)
_BOOL = {"true": "true", "yes": "true", "false": "false", "no": "false"}


class ApiError(Exception):
    """An error reply: HTTP status, message and console-like detail."""

    def __init__(self, status: int, message: str, detail: str | None = None) -> None:
        super().__init__(detail or message)
        self.status = status
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, Any]:
        """The JSON error object."""
        out: dict[str, Any] = {"error": self.status, "message": self.message}
        if self.detail:
            out["detail"] = self.detail
        return out


def _bad(detail: str) -> ApiError:
    return ApiError(400, "Bad Request", detail)


DEFCONF_FILTER_V4: tuple[dict[str, str], ...] = (
    {
        "chain": "forward",
        "action": "passthrough",
        "comment": "special dummy rule to show fasttrack counters",
        "dynamic": "true",
    },
    {
        "chain": "input",
        "action": "accept",
        "connection-state": "established,related,untracked",
        "comment": "defconf: accept established,related,untracked",
    },
    {
        "chain": "input",
        "action": "drop",
        "connection-state": "invalid",
        "comment": "defconf: drop invalid",
    },
    {"chain": "input", "action": "accept", "protocol": "icmp", "comment": "defconf: accept ICMP"},
    {
        "chain": "input",
        "action": "drop",
        "in-interface-list": "!LAN",
        "comment": "defconf: drop all not coming from LAN",
    },
    {
        "chain": "forward",
        "action": "accept",
        "ipsec-policy": "in,ipsec",
        "comment": "defconf: accept in ipsec policy",
    },
    {
        "chain": "forward",
        "action": "accept",
        "ipsec-policy": "out,ipsec",
        "comment": "defconf: accept out ipsec policy",
    },
    {
        "chain": "forward",
        "action": "fasttrack-connection",
        "connection-state": "established,related",
        "hw-offload": "true",
        "comment": "defconf: fasttrack",
    },
    {
        "chain": "forward",
        "action": "accept",
        "connection-state": "established,related,untracked",
        "comment": "defconf: accept established,related, untracked",
    },
    {
        "chain": "forward",
        "action": "drop",
        "connection-state": "invalid",
        "comment": "defconf: drop invalid",
    },
    {
        "chain": "forward",
        "action": "drop",
        "connection-state": "new",
        "connection-nat-state": "!dstnat",
        "in-interface-list": "WAN",
        "comment": "defconf: drop all from WAN not DSTNATed",
    },
)
DEFCONF_FILTER_V6: tuple[dict[str, str], ...] = (
    {
        "chain": "forward",
        "action": "accept",
        "connection-state": "established,related,untracked",
        "comment": "defconf: accept established,related,untracked",
    },
    {
        "chain": "forward",
        "action": "drop",
        "connection-state": "invalid",
        "comment": "defconf: drop invalid packets",
    },
)
USER_LISTS_V4: tuple[dict[str, str], ...] = (
    {"list": "blocklist", "address": "203.0.113.0/24", "comment": "set by the site admin"},
    {"list": "trusted", "address": "198.18.0.2"},
)


@dataclass
class Packet:
    """What :meth:`RouterState.forwards` evaluates: a new connection's first packet."""

    src: str
    dst: str
    state: str = "new"
    in_interface_list: str = "LAN"


@dataclass
class RouterState:
    """The router's tables, keyed by menu, each an ordered list of records."""

    tables: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)

    @classmethod
    def defconf(cls) -> RouterState:
        """A router with the default firewall and one user address list."""
        state = cls(tables={menu: [] for menu in MENUS})
        for rule in DEFCONF_FILTER_V4:
            state._insert("ip/firewall/filter", _filter_record(rule))
        for rule in DEFCONF_FILTER_V6:
            state._insert("ipv6/firewall/filter", _filter_record(rule))
        for item in USER_LISTS_V4:
            state._insert("ip/firewall/address-list", _list_record(item, 4))
        # The first dynamic rule gets RouterOS's high dynamic id range.
        state.tables["ip/firewall/filter"][0][".id"] = "*8000000"
        return state

    def snapshot(self) -> dict[str, list[dict[str, str]]]:
        """A deep copy of every table, for before/after comparisons."""
        return copy.deepcopy(self.tables)

    def _insert(
        self, menu: str, record: dict[str, str], before: str | None = None
    ) -> dict[str, str]:
        self.counters[menu] = self.counters.get(menu, 0) + 1
        record[".id"] = f"*{self.counters[menu]:X}"
        table = self.tables[menu]
        if before is None:
            table.append(record)
        else:
            index = next(i for i, r in enumerate(table) if r[".id"] == before)
            table.insert(index, record)
        return record

    def find(self, menu: str, item_id: str) -> dict[str, str]:
        """One record by id, or a 404 ApiError."""
        for record in self.tables[menu]:
            if record[".id"] == item_id:
                return record
        raise ApiError(404, "Not Found")

    # the API ------------------------------------------------------------------------------

    def get(self, menu: str, query: Mapping[str, str]) -> list[dict[str, str]]:
        """print, with ``prop=value`` filters and ``.proplist``."""
        filters = {k: v for k, v in query.items() if k != ".proplist"}
        rows = [r for r in self.tables[menu] if all(r.get(k, "") == v for k, v in filters.items())]
        if ".proplist" in query:
            keep = query[".proplist"].split(",")
            rows = [{k: v for k, v in r.items() if k in keep} for r in rows]
        return copy.deepcopy(rows)

    def add(self, menu: str, body: Mapping[str, Any]) -> dict[str, str]:
        """add: validate, then insert (honouring ``place-before`` for filter rules)."""
        values = _strings(body)
        version = 6 if menu.startswith("ipv6/") else 4
        if menu.endswith("address-list"):
            _check_params(values, _ADDRESS_LIST_PARAMS)
            record = _list_record(values, version)
            for other in self.tables[menu]:
                if other["list"] == record["list"] and other["address"] == record["address"]:
                    raise _bad("failure: already have such entry")
            return copy.deepcopy(self._insert(menu, record))
        _check_params(values, _FILTER_PARAMS)
        before = values.pop("place-before", None)
        record = _filter_record(values)
        if before is not None:
            anchor = next((r for r in self.tables[menu] if r[".id"] == before), None)
            if anchor is None:
                raise _bad("no such item")
            if anchor.get("dynamic") == "true":
                raise _bad("failure: cannot move builtin or dynamic rules")
        return copy.deepcopy(self._insert(menu, record, before))

    def set(self, menu: str, item_id: str, body: Mapping[str, Any]) -> dict[str, str]:
        """set: change properties of one record."""
        record = self.find(menu, item_id)
        if record.get("dynamic") == "true":
            raise _bad("failure: cannot change dynamic entry")
        values = _strings(body)
        allowed = _ADDRESS_LIST_PARAMS if menu.endswith("address-list") else _FILTER_PARAMS
        _check_params(values, allowed - {"place-before"})
        for key, value in values.items():
            record[key] = _BOOL.get(value, value) if key == "disabled" else value
        return copy.deepcopy(record)

    def remove(self, menu: str, item_id: str) -> None:
        """remove one record."""
        record = self.find(menu, item_id)
        if record.get("dynamic") == "true":
            raise _bad("failure: cannot remove dynamic entry")
        self.tables[menu].remove(record)

    # what the rules mean ---------------------------------------------------------------------

    def _in_list(self, version: int, name: str, address: str) -> bool:
        menu = "ipv6/firewall/address-list" if version == 6 else "ip/firewall/address-list"
        addr = ipaddress.ip_address(address)
        for item in self.tables[menu]:
            if item["list"] != name or item.get("disabled") == "true":
                continue
            with contextlib.suppress(ValueError):
                if addr in ipaddress.ip_network(item["address"], strict=False):
                    return True
        return False

    def _matches(self, rule: Mapping[str, str], packet: Packet, version: int) -> bool:
        for key, raw in rule.items():
            negate = raw.startswith("!")
            want = raw[1:] if negate else raw
            if key in ("src-address-list", "dst-address-list"):
                address = packet.src if key.startswith("src") else packet.dst
                hit = self._in_list(version, want, address)
            elif key in ("src-address", "dst-address"):
                address = packet.src if key.startswith("src") else packet.dst
                hit = ipaddress.ip_address(address) in ipaddress.ip_network(want, strict=False)
            elif key == "connection-state":
                hit = packet.state in want.split(",")
            elif key == "in-interface-list":
                hit = packet.in_interface_list == want
            elif key in ("ipsec-policy", "connection-nat-state", "protocol"):
                return False  # not modelled: such rules never match our packets
            else:
                continue
            if hit == negate:
                return False
        return True

    def forwards(self, packet: Packet) -> bool:
        """Would the forward chain pass this packet? (policy accept at the end)."""
        version = ipaddress.ip_address(packet.src).version
        menu = "ipv6/firewall/filter" if version == 6 else "ip/firewall/filter"
        for rule in self.tables[menu]:
            if rule["chain"] != "forward" or rule.get("disabled") == "true":
                continue
            if rule.get("dynamic") == "true" or not self._matches(rule, packet, version):
                continue
            if rule["action"] in ("accept",):
                return True
            if rule["action"] in ("drop", "reject", "tarpit"):
                return False
        return True


def _strings(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise _bad("expected a JSON object")
    out: dict[str, str] = {}
    for key, value in body.items():
        if isinstance(value, bool):
            out[str(key)] = "true" if value else "false"
        elif isinstance(value, (str, int)):
            out[str(key)] = str(value)
        else:
            raise _bad(f"invalid value for argument {key}")
    return out


def _check_params(values: Mapping[str, str], allowed: frozenset[str]) -> None:
    for key in values:
        if key not in allowed:
            raise _bad(f"unknown parameter {key}")


def _list_record(values: Mapping[str, str], version: int) -> dict[str, str]:
    if not values.get("list"):
        raise _bad("missing value(s) of argument(s) list")
    raw = values.get("address", "")
    if not raw:
        raise _bad("missing value(s) of argument(s) address")
    try:
        net = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise _bad(f"invalid value for argument address: {raw}") from None
    if net.version != version:
        raise _bad(f"invalid value for argument address: {raw}")
    # RouterOS prints a single IPv4 host without a prefix and IPv6 entries with one.
    address = (
        str(net.network_address) if version == 4 and net.prefixlen == 32 else net.with_prefixlen
    )
    record = {
        "list": values["list"],
        "address": address,
        "creation-time": time.strftime("%Y-%m-%d %H:%M:%S"),
        "dynamic": "false",
        "disabled": _BOOL.get(values.get("disabled", "false"), "false"),
    }
    if "comment" in values:
        record["comment"] = values["comment"]
    return record


def _filter_record(values: Mapping[str, str]) -> dict[str, str]:
    if not values.get("chain"):
        raise _bad("missing value(s) of argument(s) chain")
    action = values.get("action", "accept")
    if action not in _ACTIONS:
        raise _bad(f"invalid value for argument action: {action}")
    record = {
        "chain": values["chain"],
        "action": action,
        "bytes": "0",
        "packets": "0",
        "disabled": "false",
        "dynamic": "false",
        "invalid": "false",
        "log": "false",
        "log-prefix": "",
    }
    for key, value in values.items():
        if key in ("chain", "action"):
            continue
        record[key] = (
            _BOOL.get(value, value)
            if key in ("disabled", "log", "dynamic", "hw-offload")
            else value
        )
    return record


def _authorised(request: web.Request, username: str, password: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return user == username and secret == password


def make_app(state: RouterState, *, username: str, password: str) -> web.Application:
    """The aiohttp application serving ``/rest/...`` from ``state``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"].strip("/")
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                body = "<invalid json>"
        state.requests.append((request.method, "/" + tail, dict(request.query), body))
        if not _authorised(request, username, password):
            return web.json_response(
                {"error": 401, "message": "Unauthorized"},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="REST API"'},
            )
        try:
            return _dispatch(request.method, tail, dict(request.query), body)
        except ApiError as err:
            return web.json_response(err.body(), status=err.status)

    def _dispatch(method: str, tail: str, query: dict[str, str], body: Any) -> web.StreamResponse:
        if tail == "system/resource" and method == "GET":
            return web.json_response(
                [{"board-name": "CHR", "platform": "MikroTik", "version": "7.16 (stable)"}]
            )
        menu, _, item_id = (
            tail.rpartition("/") if tail.rsplit("/", 1)[-1].startswith("*") else (tail, "", "")
        )
        if menu not in state.tables:
            raise _bad(f"no such command or directory ({menu.replace('/', ' ')})")
        if body == "<invalid json>":
            raise _bad("JSON parse error")
        if method == "GET":
            if item_id:
                return web.json_response(copy.deepcopy(state.find(menu, item_id)))
            return web.json_response(state.get(menu, query))
        if method == "PUT" and not item_id:
            return web.json_response(state.add(menu, body))
        if method == "PATCH" and item_id:
            return web.json_response(state.set(menu, item_id, body))
        if method == "DELETE" and item_id:
            state.remove(menu, item_id)
            return web.Response(status=204)
        raise _bad("no such command")

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_route("*", "/rest/{tail:.*}", handle)
    return app


@dataclass
class MikrotikStub:
    """A running stub: ``url`` to give the backend, ``state`` to inspect."""

    url: str
    state: RouterState
    runner: web.AppRunner

    @property
    def writes(self) -> list[tuple[str, str, Any]]:
        """Every PUT, PATCH and DELETE received, in order: (method, path, body)."""
        return [(m, p, b) for m, p, _, b in self.state.requests if m in ("PUT", "PATCH", "DELETE")]


@contextlib.asynccontextmanager
async def serve(
    *,
    username: str = "sentinel",
    password: str = "stub-password",
    state: RouterState | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[MikrotikStub]:
    """Run the stub on host:port (0 = any free port) until the block ends."""
    state = state or RouterState.defconf()
    runner = web.AppRunner(make_app(state, username=username, password=password), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        bound = runner.addresses[0]
        yield MikrotikStub(url=f"http://{host}:{bound[1]}", state=state, runner=runner)
    finally:
        await runner.cleanup()


def dump(state: RouterState) -> str:
    """The tables as JSON (for debugging a failing test)."""
    return json.dumps(state.tables, indent=1)
