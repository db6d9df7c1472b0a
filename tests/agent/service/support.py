"""Helpers shared by the service tests and the service end-to-end tests.

- the JSON Schema of docs/mqtt.schema.json, the same file the docs point at;
- real camera records built from real observations through the real identify;
- switching one thread into a lab network namespace (so a subscriber, a
  passive listener or a whole event loop can live on the lab LAN while the
  test process stays in the root namespace);
- how to start the real agent command.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import jsonschema

from cctv_sentinel.discovery.hosts import group_hosts
from cctv_sentinel.identify.verdicts import cameras_among, load_identity
from cctv_sentinel.inventory.records import CameraFacts, facts_from_camera
from cctv_sentinel.model import Camera, Observation

REPO = Path(__file__).resolve().parents[3]
SCHEMA_PATH = REPO / "docs" / "mqtt.schema.json"
PAYLOADS = REPO / "tests" / "fixtures" / "payloads"
AGENT_BIN = Path(sys.executable).with_name("cctv-sentinel")

T = TypeVar("T")


@functools.cache
def schema() -> dict[str, Any]:
    """docs/mqtt.schema.json."""
    return json.loads(SCHEMA_PATH.read_text("utf-8"))


@functools.cache
def validator(kind: str) -> jsonschema.protocols.Validator:
    """A validator for one message definition (``camera``, ``info``, ``event``...)."""
    full = schema()
    sub = {"$schema": full["$schema"], "$defs": full["$defs"], "$ref": f"#/$defs/{kind}"}
    cls = jsonschema.validators.validator_for(full)
    cls.check_schema(sub)
    return cls(sub, format_checker=cls.FORMAT_CHECKER)


def check(kind: str, payload: Any) -> None:
    """Raise with every schema error when ``payload`` is not a valid ``kind`` message."""
    errors = sorted(validator(kind).iter_errors(payload), key=lambda e: list(e.path))
    if errors:
        lines = [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors]
        raise AssertionError(f"{kind} payload breaks the contract:\n" + "\n".join(lines))


def fixture_payload(name: str) -> Any:
    """One example payload from tests/fixtures/payloads/."""
    return json.loads((PAYLOADS / f"{name}.json").read_text("utf-8"))


# --- real cameras from real observations -------------------------------------------------


def obs(probe: str, ip: str, fields: dict[str, str] | None = None, **kw: Any) -> Observation:
    """An observation as a probe would emit it."""
    return Observation(probe=probe, ip=ip, fields=fields or {}, **kw)


def hikvision(
    ip: str = "198.18.0.21", mac: str = "bc:ad:28:00:00:21", **extra: str
) -> list[Observation]:
    """What a scan sees of a Hikvision camera sold as Annke (ARP, SADP, WS-Discovery, HTTP port)."""
    fields = {
        "model": "DS-2CD2143G2-I",
        "serial": "DS-2CD2143G2-I20220101AAWRJ12345678",
        "firmware": "V5.7.3build 220112",
        "mac": mac.replace(":", "-"),
        "oem": "Annke",
        **extra,
    }
    return [
        obs("arp", ip, mac=mac),
        obs("sadp", ip, fields, mac=mac, port=37020),
        obs(
            "wsd",
            ip,
            {
                "endpoint": f"urn:uuid:55cfe3d7-0000-1000-8000-{mac.replace(':', '')}",
                "types": "NetworkVideoTransmitter Device",
                "video": "yes",
            },
            port=3702,
        ),
        obs("sweep", ip, port=80),
        obs("sweep", ip, port=554),
    ]


def axis(ip: str = "198.18.0.30", mac: str = "ac:cc:8e:0a:0b:0c") -> list[Observation]:
    """An Axis camera (low risk) seen over ARP, mDNS and WS-Discovery."""
    return [
        obs("arp", ip, mac=mac),
        obs(
            "mdns",
            ip,
            {"service": "_axis-video._tcp.local", "instance": "AXIS P3245-LVE - ACCC8E0A0B0C"},
            port=5353,
        ),
        obs(
            "wsd",
            ip,
            {
                "types": "NetworkVideoTransmitter",
                "video": "yes",
                "name": "AXIS P3245-LVE",
                "hardware": "P3245-LVE",
            },
            port=3702,
        ),
        obs("sweep", ip, port=80),
    ]


def dahua_routed(ip: str = "198.18.1.10") -> list[Observation]:
    """A Dahua camera behind a router: no MAC, only its RTSP banner."""
    return [
        obs("sweep", ip, port=554),
        obs("rtsp", ip, {"status": "200", "server": "Dahua Rtsp Server"}, port=554),
    ]


@functools.cache
def _identity() -> Any:
    return load_identity()


def cameras(observations: Sequence[Observation]) -> list[Camera]:
    """Cameras the real identify finds in these observations."""
    catalogue, policy = _identity()
    return cameras_among(group_hosts(observations), catalogue, policy)


def facts(observations: Sequence[Observation]) -> list[CameraFacts]:
    """Inventory input for these observations."""
    return [facts_from_camera(c) for c in cameras(observations)]


# --- network namespaces per thread --------------------------------------------------------


@contextmanager
def netns(name: str) -> Iterator[None]:
    """Move the *calling thread* into a named network namespace until the block ends.

    Sockets opened meanwhile, and threads started meanwhile, live in that
    namespace. Linux keeps the namespace per thread, so the rest of the test
    process stays where it was.
    """
    setns = getattr(os, "setns", None)
    if setns is None:  # Python < 3.12
        raise RuntimeError("os.setns needs Python 3.12 or newer")
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        setns(target, os.CLONE_NEWNET)
        try:
            yield
        finally:
            setns(home, os.CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(home)


def in_netns(name: str, func: Callable[[], T], timeout: float = 120.0) -> T:
    """Run ``func`` to completion in a fresh thread inside a namespace; return its result."""
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            with netns(name):
                box["value"] = func()
        except BaseException as err:
            box["error"] = err

    thread = threading.Thread(target=body, name=f"netns-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"work in namespace {name} did not finish in {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def run_in_netns(
    name: str, coro: Callable[[], Coroutine[Any, Any, T]], timeout: float = 120.0
) -> T:
    """Run an async function on its own event loop inside a namespace."""
    return in_netns(name, lambda: asyncio.run(coro()), timeout)


# --- the agent command -------------------------------------------------------------------


def agent_command() -> tuple[str, ...]:
    """The ``cctv-sentinel`` console script of this environment."""
    return (str(AGENT_BIN),)
