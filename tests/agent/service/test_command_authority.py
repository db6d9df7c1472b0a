"""Who may command an agent, end to end: a real Mosquitto with the documented ACL
(docs/mosquitto/), the real service, and isolation on the MikroTik REST stub, whose
firewall decides packet by packet whether the camera still reaches the internet.

- Without a shared secret the broker's ACL is the authority: only Home Assistant's
  user can publish a command; anonymous clients cannot connect; another broker user's
  isolate and release never reach the agent and change nothing.
- With ``commands.secret_*`` the agent obeys only commands signed with it (HMAC over
  topic, payload, ``sent_at`` and nonce): unsigned, wrongly signed, stale and replayed
  commands are refused and change nothing; ``requested_by`` is trusted only then.
- Every command and its result is logged at INFO, never the secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cctv_sentinel._util.timefmt import iso
from cctv_sentinel.mqtt.contract import Topics, canonical_json, command_signature
from cctv_sentinel.service.config import config_from_mapping
from cctv_sentinel.service.daemon import Service
from tests.agent.service.support import REPO, hikvision
from tests.agent.service.test_service import ScriptedNetwork, scans_finished
from tests.lab.broker import Broker, BrokerError, Subscriber, publish
from tests.lab.router_stub.mikrotik import MikrotikStub, Packet, serve

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]

AGENT = "site-a"  # the agent of docs/mosquitto/acl
TOPICS = Topics("cctv_sentinel", AGENT)
CAMERA = "bcad28000021"  # hikvision(): MAC bc:ad:28:00:00:21 at 198.18.0.21
CAMERA_OUT = Packet("198.18.0.21", "198.51.100.7")  # the camera opening a connection outside
ACL = REPO / "docs" / "mosquitto" / "acl"
RECIPE = REPO / "docs" / "mosquitto" / "cctv-sentinel.conf"
SECRET = "correct-horse-battery-staple-0123456789"
PASSWORDS = {
    "homeassistant": "ha-" + secrets.token_hex(8),
    "agent-site-a": "agent-" + secrets.token_hex(8),
    "mallory": "mallory-" + secrets.token_hex(8),
}


def recipe_settings() -> list[str]:
    """The documented broker settings, without the paths and listeners of a real host."""
    keep = ("allow_anonymous", "max_packet_size", "per_listener_settings")
    lines = [line.strip() for line in RECIPE.read_text("utf-8").splitlines()]
    return [line for line in lines if line.startswith(keep)]


@pytest.fixture
def acl_broker(tmp_path: Path) -> AsyncIterator[Broker]:
    settings = recipe_settings()
    assert "allow_anonymous false" in settings
    with Broker(
        workdir=tmp_path / "broker",
        users=PASSWORDS,
        allow_anonymous=False,
        extra_config=[*settings, f"acl_file {ACL}"],
    ) as running:
        yield running


@pytest.fixture
async def stub(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MikrotikStub]:
    monkeypatch.setenv("MT_PW", "pw")
    async with serve(password="pw") as running:
        yield running


def agent_config(broker: Broker, stub: MikrotikStub, state_dir: Path, **commands: Any) -> Any:
    env = {"AGENT_PW": PASSWORDS["agent-site-a"], "CMD_SECRET": SECRET}
    data: dict[str, Any] = {
        "agent": {"id": AGENT, "name": "Site A", "state_dir": str(state_dir)},
        "mqtt": {
            "broker": f"mqtt://agent-site-a@{broker.host}:{broker.port}",
            "password_env": "AGENT_PW",
            "reconnect_min": 0.05,
            "reconnect_max": 0.2,
        },
        "scan": {"networks": ["198.18.0.0/24"], "interval": 600, "passive": False},
        "isolation": {
            "default_backend": "mikrotik",
            "local_networks": ["198.18.0.0/24"],
            "backends": {
                "mikrotik": {"url": stub.url, "username": "sentinel", "password_env": "MT_PW"}
            },
        },
        "commands": commands,
    }
    return config_from_mapping(data, env=env)


@contextlib.asynccontextmanager
async def running(config: Any) -> AsyncIterator[Service]:
    network = ScriptedNetwork(hikvision())
    service = await asyncio.to_thread(Service, config, scan=network, interfaces=list, passive=False)
    task = asyncio.create_task(service.run())
    try:
        await service.client.wait_connected(10)
        yield service
    finally:
        service.stop()
        await asyncio.wait_for(task, 20)


def command(name: str, command_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schema_version": 1, "command_id": command_id, "command": name}
    if name != "rescan":
        body["camera_id"] = CAMERA
    body.update(fields)
    return body


def signed(body: dict[str, Any], *, secret: str = SECRET, sent_at: float | None = None) -> bytes:
    """A command signed as docs/security.md says (what the integration's signing.py does)."""
    body = {
        **body,
        "sent_at": iso(time.time() if sent_at is None else sent_at),
        "nonce": secrets.token_hex(16),
    }
    body["signature"] = command_signature(
        canonical_json(body), topic=TOPICS.command, secret=secret.encode()
    )
    return json.dumps(body).encode()


async def send(broker: Broker, user: str, payload: bytes | dict[str, Any]) -> None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await asyncio.to_thread(
        publish, broker, TOPICS.command, raw, username=user, password=PASSWORDS[user]
    )


async def result(sub: Subscriber, command_id: str, timeout: float = 15.0) -> dict[str, Any]:
    def find(s: Subscriber) -> dict[str, Any] | None:
        for message in s.messages(TOPICS.command_result):
            body = message.json()
            if body["command_id"] == command_id:
                return body
        return None

    return await asyncio.to_thread(sub.wait_for, find, timeout)


def result_ids(sub: Subscriber) -> list[str | None]:
    return [m.json()["command_id"] for m in sub.messages(TOPICS.command_result)]


async def audit(service: Service) -> list[tuple[str, str, dict[str, Any]]]:
    assert service.port is not None
    records = await service.port.manager.audit_log()
    return [(r.action, r.status, r.requested_by.to_json()) for r in records]


def ha_subscriber(broker: Broker) -> Subscriber:
    return Subscriber(
        broker,
        topics=["cctv_sentinel/#"],
        username="homeassistant",
        password=PASSWORDS["homeassistant"],
    )


def test_anonymous_clients_are_refused(acl_broker: Broker) -> None:
    with pytest.raises(BrokerError, match="refused"):
        publish(acl_broker, TOPICS.command, json.dumps(command("rescan", "anon")).encode())
    with pytest.raises(BrokerError, match="refused"):
        Subscriber(acl_broker, topics=["#"]).start()


async def test_only_home_assistants_user_commands_under_the_documented_acl(
    acl_broker: Broker, stub: MikrotikStub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cctv_sentinel")
    with ha_subscriber(acl_broker) as sub:
        async with running(agent_config(acl_broker, stub, tmp_path / "state")) as service:
            await asyncio.to_thread(sub.wait_for, lambda s: scans_finished(s) >= 1, 15)
            before = stub.state.snapshot()
            # Another broker user: the ACL drops the command, the agent never sees it.
            await send(acl_broker, "mallory", command("isolate", "m-iso"))
            # An agent's user cannot command either (agents publish state only).
            await send(acl_broker, "agent-site-a", command("isolate", "a-iso"))
            forged = {"source": "home_assistant", "user_name": "Administrator"}
            await send(
                acl_broker, "homeassistant", command("isolate", "h-iso", requested_by=forged)
            )
            answer = await result(sub, "h-iso")
            assert answer["status"] == "ok", answer
            assert not stub.state.forwards(CAMERA_OUT)
            assert stub.state.snapshot() != before
            isolated = stub.state.snapshot()
            # mallory tries to undo it: still isolated, the router untouched.
            await send(acl_broker, "mallory", command("release", "m-rel"))
            await send(acl_broker, "homeassistant", command("rescan", "h-scan"))
            await result(sub, "h-scan")
            assert stub.state.snapshot() == isolated
            assert not stub.state.forwards(CAMERA_OUT)
            assert sorted(i for i in result_ids(sub) if i) == ["h-iso", "h-scan"]
            # Unsigned, so who asked is not proven: the audit log says so.
            assert await audit(service) == [
                (
                    "isolate",
                    "ok",
                    {"source": "mqtt", "user_id": None, "user_name": "Administrator (unverified)"},
                )
            ]
            await send(acl_broker, "homeassistant", command("release", "h-rel"))
            assert (await result(sub, "h-rel"))["status"] == "ok"
            assert stub.state.forwards(CAMERA_OUT)
    lines = [r.getMessage() for r in caplog.records if r.name == "cctv_sentinel.service.commands"]
    assert any(
        line.startswith("isolate bcad28000021 from mqtt Administrator (unverified) [h-iso]: ok")
        for line in lines
    ), lines
    assert any(line.startswith("release bcad28000021 from mqtt [h-rel]: ok") for line in lines)
    assert any(line.startswith("rescan from mqtt [h-scan]: accepted") for line in lines)
    assert not any("m-iso" in line or "m-rel" in line for line in lines)


async def test_with_a_secret_only_signed_fresh_unseen_commands_act(
    acl_broker: Broker, stub: MikrotikStub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cctv_sentinel")
    config = agent_config(acl_broker, stub, tmp_path / "state", secret_env="CMD_SECRET")
    with ha_subscriber(acl_broker) as sub:
        async with running(config) as service:
            await asyncio.to_thread(sub.wait_for, lambda s: scans_finished(s) >= 1, 15)
            before = stub.state.snapshot()
            refused = {
                "unsigned": (command("isolate", "u-1"), "unsigned command"),
                "wrong secret": (
                    signed(command("isolate", "w-1"), secret="not-the-secret-0123456789"),
                    "bad signature",
                ),
                "stale": (
                    signed(command("isolate", "s-1"), sent_at=time.time() - 300),
                    "stale command: sent 300 s ago",
                ),
                "no time or nonce": (
                    _signed_without_nonce(command("isolate", "n-1")),
                    "a signed command needs sent_at and nonce",
                ),
            }
            for payload, _ in refused.values():
                await send(acl_broker, "homeassistant", payload)
            for name, (payload, why) in refused.items():
                body = payload if isinstance(payload, dict) else json.loads(payload)
                answer = await result(sub, body["command_id"])
                assert answer["status"] == "refused", name
                assert answer["message"].startswith(why), (name, answer)
            assert stub.state.snapshot() == before
            assert await audit(service) == []

            who = {"source": "home_assistant", "user_id": "8d1c", "user_name": "Jo"}
            good = signed(command("isolate", "g-1", requested_by=who))
            await send(acl_broker, "homeassistant", good)
            assert (await result(sub, "g-1"))["status"] == "ok"
            assert not stub.state.forwards(CAMERA_OUT)
            # The same bytes again (a replay): refused, nothing changes.
            isolated = stub.state.snapshot()
            sub.clear()
            await send(acl_broker, "homeassistant", good)
            replay = await result(sub, "g-1")
            assert replay["status"] == "refused"
            assert replay["message"] == "replayed command: its nonce was used already"
            assert stub.state.snapshot() == isolated
            assert await audit(service) == [("isolate", "ok", who)]  # trusted: it was signed

            await send(acl_broker, "homeassistant", signed(command("release", "g-2")))
            assert (await result(sub, "g-2"))["status"] == "ok"
            assert stub.state.forwards(CAMERA_OUT)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in logged
    assert "isolate bcad28000021 from home_assistant Jo (signed) [g-1]: ok" in logged
    assert "[u-1]: refused: unsigned command" in logged


def _signed_without_nonce(body: dict[str, Any]) -> bytes:
    body = dict(body)
    body["signature"] = command_signature(
        canonical_json(body), topic=TOPICS.command, secret=SECRET.encode()
    )
    return json.dumps(body).encode()


async def test_a_signature_binds_the_command_to_one_agents_topic(
    acl_broker: Broker, stub: MikrotikStub, tmp_path: Path
) -> None:
    config = agent_config(acl_broker, stub, tmp_path / "state", secret_env="CMD_SECRET")
    body = {**command("isolate", "t-1"), "sent_at": iso(time.time()), "nonce": "n" * 32}
    body["signature"] = command_signature(
        canonical_json(body), topic="cctv_sentinel/site-b/command", secret=SECRET.encode()
    )
    with ha_subscriber(acl_broker) as sub:
        async with running(config):
            await asyncio.to_thread(sub.wait_for, lambda s: scans_finished(s) >= 1, 15)
            await send(acl_broker, "homeassistant", json.dumps(body).encode())
            answer = await result(sub, "t-1")
    assert answer["status"] == "refused"
    assert answer["message"].startswith("bad signature")
    assert stub.state.forwards(CAMERA_OUT)
