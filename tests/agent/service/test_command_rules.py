"""The rules every command passes, one by one, on the real router and a settable clock.

Signature, age and replay (:class:`CommandAuthority`), rescans rate-limited and
coalesced, releases rate-limited like isolations (on the MikroTik REST stub), and the
parsing of the signing fields. The same rules with a real broker are in
test_command_authority.py; retained commands over MQTT 5 are at the end here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cctv_sentinel._util.secret import Secret
from cctv_sentinel._util.timefmt import iso
from cctv_sentinel.errors import ConfigError
from cctv_sentinel.inventory.store import Inventory
from cctv_sentinel.mqtt.contract import (
    CommandError,
    canonical_json,
    command_signature,
    parse_command,
)
from cctv_sentinel.service.commands import (
    CommandAuthority,
    CommandRouter,
    IsolationPort,
    Rescan,
)
from cctv_sentinel.service.config import config_from_mapping
from cctv_sentinel.service.daemon import Service
from tests.agent.service import support
from tests.agent.service.test_service import ScriptedNetwork, scans_finished
from tests.lab.broker import Broker, Subscriber, publish
from tests.lab.router_stub.mikrotik import MikrotikStub, Packet, serve

TOPIC = "cctv_sentinel/site-a/command"
KEY = "0123456789abcdef0123456789abcdef"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def make(name: str = "rescan", command_id: str = "c-1", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schema_version": 1, "command_id": command_id, "command": name}
    if name != "rescan":
        body["camera_id"] = "bcad28000021"
    body.update(fields)
    return body


def sign(body: dict[str, Any], *, at: float = NOW, nonce: str | None = None) -> bytes:
    body = {**body, "sent_at": iso(at), "nonce": nonce or ("n" + body["command_id"]).ljust(16, "0")}
    body["signature"] = command_signature(canonical_json(body), topic=TOPIC, secret=KEY.encode())
    return json.dumps(body).encode()


def authority(clock: Clock, *, secret: str | None = KEY, **kw: Any) -> CommandAuthority:
    return CommandAuthority(
        topic=TOPIC, secret=Secret(secret) if secret else None, max_age=60, clock=clock, **kw
    )


# --- the signature, the window, the nonces ---------------------------------------------------


def test_a_signed_command_is_accepted_once_within_its_window() -> None:
    clock = Clock()
    rules = authority(clock)
    command = parse_command(sign(make(command_id="a-1")))
    assert rules.check(command).refusal is None
    assert rules.check(command).verified is False  # the same nonce again
    assert rules.check(command).refusal == "replayed command: its nonce was used already"
    # A second command with its own nonce is fine; the first's nonce is kept until its
    # sent_at leaves the window, then forgotten (it could not pass the window any more).
    assert rules.check(parse_command(sign(make(command_id="a-2")))).verified
    clock.now += 121
    assert rules.check(command).refusal == "stale command: sent 121 s ago (accepted within 60 s)"
    assert len(rules._nonces) == 2
    rules.check(parse_command(sign(make(command_id="a-3"), at=clock.now)))
    assert len(rules._nonces) == 1


def test_what_a_signature_covers() -> None:
    rules = authority(Clock())
    body = json.loads(sign(make("isolate", "b-1", mode="internet")))
    for key, value in (
        ("mode", "quarantine"),
        ("camera_id", "bcad28000022"),
        ("sent_at", iso(NOW + 1)),
        ("nonce", "x" * 16),
        ("requested_by", {"source": "home_assistant", "user_name": "Administrator"}),
        ("extra", "a field the agent does not know is signed too"),
    ):
        tampered = {**body, key: value}
        found = rules.check(parse_command(json.dumps(tampered).encode()))
        assert found.refusal == "bad signature: not signed with this agent's secret", key
    other_topic = CommandAuthority(
        topic="cctv_sentinel/site-b/command", secret=Secret(KEY), max_age=60, clock=Clock()
    )
    assert other_topic.check(parse_command(json.dumps(body).encode())).refusal is not None
    # Key order and white space are not part of what is signed (canonical JSON).
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
    assert rules.check(parse_command(reordered)).verified


def test_commands_from_the_future_beyond_the_window_are_refused() -> None:
    rules = authority(Clock())
    found = rules.check(parse_command(sign(make(command_id="f-1"), at=NOW + 90)))
    assert found.refusal == "stale command: sent 90 s in the future (accepted within 60 s)"
    assert rules.check(parse_command(sign(make(command_id="f-2"), at=NOW + 59))).verified


def test_the_nonce_memory_is_bounded_and_never_forgets_a_live_nonce() -> None:
    clock = Clock()
    rules = authority(clock, max_nonces=3)
    for i in range(3):
        assert rules.check(parse_command(sign(make(command_id=f"n-{i}")))).verified
    full = rules.check(parse_command(sign(make(command_id="n-3"))))
    assert full.refusal == "more than 3 signed commands within 60 s; try again shortly"
    # The first three are still refused as replays, not forgotten to make room.
    assert rules.check(parse_command(sign(make(command_id="n-0")))).refusal.startswith("replayed")
    clock.now += 121
    assert rules.check(parse_command(sign(make(command_id="n-4"), at=clock.now))).verified


def test_without_a_secret_signatures_prove_nothing_but_old_commands_are_still_refused() -> None:
    rules = authority(Clock(), secret=None)
    unsigned = rules.check(parse_command(json.dumps(make()).encode()))
    assert (unsigned.refusal, unsigned.verified) == (None, False)
    with_time = make(command_id="o-1", sent_at=iso(NOW - 61))
    assert rules.check(parse_command(json.dumps(with_time).encode())).refusal.startswith("stale")
    assert rules.check(parse_command(sign(make(command_id="o-2")))).verified is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sent_at", "yesterday", "sent_at: expected an ISO 8601 time with its offset"),
        (
            "sent_at",
            "2026-12-02T10:00:00",
            "sent_at: expected an ISO 8601 time with its offset (e.g. +00:00)",
        ),
        ("sent_at", 1800000000, "sent_at: expected an ISO 8601 time with its offset"),
        ("nonce", "short", "nonce: expected 16 to 64 of A-Z, a-z, 0-9, _ and -"),
        ("nonce", "n" * 65, "nonce: expected 16 to 64 of A-Z, a-z, 0-9, _ and -"),
        ("signature", "ABCD", "signature: expected an HMAC-SHA256 in lower-case hex"),
    ],
)
def test_malformed_signing_fields_are_errors(field: str, value: Any, message: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(json.dumps(make(**{field: value})).encode())
    assert caught.value.message == message
    assert caught.value.command_id == "c-1"


def test_nan_is_not_json() -> None:
    with pytest.raises(CommandError, match="not valid JSON"):
        parse_command(b'{"schema_version": 1, "command_id": "x", "command": "rescan", "a": NaN}')


# --- the router: rescans and releases -----------------------------------------------------------


@pytest.fixture
async def stub(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MikrotikStub]:
    monkeypatch.setenv("MT_PW", "pw")
    async with serve(password="pw") as running:
        yield running


@pytest.fixture
def records(tmp_path: Path) -> dict[str, Any]:
    inventory = Inventory(tmp_path / "inventory.sqlite3")
    inventory.open()
    try:
        inventory.observe(support.facts(support.hikvision()), at=NOW, full_scan=True)
        return {r.camera_id: r for r in inventory.records()}
    finally:
        inventory.close()


async def test_rescans_are_rate_limited_and_coalesced(tmp_path: Path) -> None:
    clock = Clock()
    port = IsolationPort.create(None, state_dir=tmp_path, broker_host=None)
    asked: list[float] = []
    due = False

    def rescan(wait: float) -> Rescan:
        asked.append(wait)
        if due:
            return Rescan("accepted", "a rescan is already due", started=False)
        if wait > 0:
            return Rescan("refused", f"wait {wait:.0f} s", started=False)
        return Rescan("accepted", "rescan started")

    router = CommandRouter(
        port=port, camera=lambda _: None, rescan=rescan, clock=clock, rescan_min_interval=60
    )
    statuses = []
    for i in range(5):
        answer = await router.handle(json.dumps(make(command_id=f"r-{i}")).encode())
        statuses.append((answer["status"], answer["message"]))
        clock.now += 1
    assert statuses == [("accepted", "rescan started")] + [
        ("refused", f"wait {w} s") for w in (59, 58, 57, 56)
    ]
    due = True  # joined, not counted as a new start
    clock.now = NOW + 61
    assert (await router.handle(json.dumps(make(command_id="r-5")).encode()))["status"] == (
        "accepted"
    )
    due = False
    assert (await router.handle(json.dumps(make(command_id="r-6")).encode()))["message"] == (
        "rescan started"
    )
    await port.close()


async def test_releases_are_rate_limited_like_isolations(
    tmp_path: Path, stub: MikrotikStub, records: dict[str, Any]
) -> None:
    clock = Clock()
    config = {
        "default_backend": "mikrotik",
        "local_networks": ["198.18.0.0/24"],
        "rate_limit": {"max": 2, "period": 600},
        "backends": {
            "mikrotik": {"url": stub.url, "username": "sentinel", "password_env": "MT_PW"}
        },
    }
    port = await asyncio.to_thread(
        IsolationPort.create, config, state_dir=tmp_path / "iso", broker_host=None
    )
    port.manager.clock = clock
    await port.start()
    router = CommandRouter(
        port=port, camera=records.get, rescan=lambda _: Rescan("accepted", ""), clock=clock
    )
    camera_out = Packet("198.18.0.21", "198.51.100.7")
    answers = []
    for i in range(3):
        clock.now += 1
        answers.append(await router.handle(json.dumps(make("isolate", f"i-{i}")).encode()))
        clock.now += 1
        answers.append(await router.handle(json.dumps(make("release", f"r-{i}")).encode()))
    await port.close()
    assert [(a["command"], a["status"]) for a in answers] == [
        ("isolate", "ok"),
        ("release", "ok"),
        ("isolate", "ok"),
        ("release", "ok"),
        ("isolate", "refused"),
        ("release", "refused"),
    ]
    assert answers[5]["message"] == "rate limit: at most 2 releases per 600 s (try again in 596 s)"
    assert stub.state.forwards(camera_out)


# --- configuration --------------------------------------------------------------------------


def base_config(**commands: Any) -> dict[str, Any]:
    return {"mqtt": {"broker": "mqtt://127.0.0.1:1883"}, "commands": commands}


def test_the_secret_comes_from_a_private_file_or_the_environment(tmp_path: Path) -> None:
    key = tmp_path / "command.key"
    key.write_text(KEY + "\n")
    config = config_from_mapping(base_config(secret_file=str(key), max_age="2m"), env={})
    assert config.commands.secret == Secret(KEY)
    assert config.commands.max_age == 120
    assert config.commands.secret_file == key
    assert KEY not in repr(config)
    from_env = config_from_mapping(base_config(secret_env="K"), env={"K": KEY})
    assert from_env.commands.secret == Secret(KEY)
    assert config_from_mapping(base_config(), env={}).commands.secret is None


@pytest.mark.parametrize(
    ("commands", "env", "message"),
    [
        ({"secret": KEY}, {}, "commands.secret: not allowed here: give commands.secret_file"),
        ({"secret_env": "K"}, {}, "commands.secret_env: environment variable K is not set"),
        (
            {"secret_env": "K"},
            {"K": "short"},
            "commands.secret_env: the secret is shorter than 16 characters",
        ),
        ({"secret_env": "K", "secret_file": "/x"}, {"K": KEY}, "give secret_file or secret_env"),
        ({"max_age": "2s"}, {}, "commands.max_age: must be at least 5 s"),
        ({"rescan_min_interval": "soon"}, {}, "commands.rescan_min_interval: 'soon' is not a"),
    ],
)
def test_bad_command_settings_are_one_line_each(
    commands: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(base_config(**commands), env=env)
    assert message in str(caught.value)
    assert KEY not in str(caught.value)


# --- retained commands over MQTT 5 ----------------------------------------------------------------


@pytest.mark.broker
async def test_a_command_retained_while_the_agent_listens_is_refused_over_mqtt5(
    broker: Broker, tmp_path: Path
) -> None:
    """MQTT 3.1.1 brokers clear the retain flag on live delivery; MQTT 5 keeps it (Retain
    As Published), so the agent sees the flag and refuses, instead of running it once now
    and again at every reconnect."""
    config = config_from_mapping(
        {
            "agent": {"id": "site-a", "name": "Site A", "state_dir": str(tmp_path / "state")},
            "mqtt": {
                "broker": f"mqtt://{broker.host}:{broker.port}",
                "protocol": "5",
                "reconnect_min": 0.05,
                "reconnect_max": 0.2,
            },
            "scan": {"networks": ["198.18.0.0/24"], "interval": 600, "passive": False},
        },
        env={},
    )
    network = ScriptedNetwork(support.hikvision())
    service = await asyncio.to_thread(Service, config, scan=network, interfaces=list, passive=False)
    task = asyncio.create_task(service.run())
    try:
        with Subscriber(broker, topics=["cctv_sentinel/#"]) as sub:
            await service.client.wait_connected(10)
            await asyncio.to_thread(sub.wait_for, lambda s: scans_finished(s) >= 1, 15)
            raw = json.dumps(make(command_id="kept")).encode()
            await asyncio.to_thread(publish, broker, TOPIC, raw, retain=True)
            found = await asyncio.to_thread(
                sub.wait_for_message, "cctv_sentinel/site-a/command/result", None, timeout=10
            )
            await asyncio.to_thread(publish, broker, TOPIC, b"", retain=True)
        answer = found.json()
        assert answer["command_id"] == "kept"
        assert answer["status"] == "error"
        assert "retained" in answer["message"]
        assert len(network.jobs) == 1  # no rescan ran
    finally:
        service.stop()
        await asyncio.wait_for(task, 20)
