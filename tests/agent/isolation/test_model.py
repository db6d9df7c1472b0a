"""Targets, requesters and ids: what the CLI and MQTT commands hand to the manager."""

from __future__ import annotations

import pytest

from cctv_sentinel.errors import UsageError
from cctv_sentinel.isolation import IsolationTarget, Requester, camera_id_for
from cctv_sentinel.isolation.model import MAX_ADDRESSES_PER_TARGET


@pytest.mark.parametrize(
    ("text", "ip", "mac", "key"),
    [
        ("198.18.0.10", "198.18.0.10", None, "ip-198-18-0-10"),
        (" 198.18.0.10 ", "198.18.0.10", None, "ip-198-18-0-10"),
        ("2001:2:0:1:0:0:0:10", "2001:2:0:1::10", None, "ip-2001-2-0-1--10"),
        ("BC:AD:28:00:10:21", None, "bc:ad:28:00:10:21", "bcad28001021"),
        ("bc-ad-28-00-10-21", None, "bc:ad:28:00:10:21", "bcad28001021"),
        ("bcad.2800.1021", None, "bc:ad:28:00:10:21", "bcad28001021"),
        ("bcad28001021", None, "bc:ad:28:00:10:21", "bcad28001021"),
        ("ip-198-18-0-10", "198.18.0.10", None, "ip-198-18-0-10"),
        ("ip-2001-2-0-1--10", "2001:2:0:1::10", None, "ip-2001-2-0-1--10"),
    ],
)
def test_cli_targets_are_ips_macs_or_camera_ids(
    text: str, ip: str | None, mac: str | None, key: str
) -> None:
    target = IsolationTarget.parse(text)
    assert (target.ip, target.mac, target.key) == (ip, mac, key)


@pytest.mark.parametrize(
    "text", ["", "camera-7", "198.18.0.0/24", "300.1.1.1", "ip-not-an-ip", "aa:bb:cc:dd:ee"]
)
def test_anything_else_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="not an IP address, a MAC address or a camera id"):
        IsolationTarget.parse(text)


def test_of_validates_and_deduplicates() -> None:
    target = IsolationTarget.of(
        camera_id="bcad28001021",
        ip="198.18.0.10",
        ips=["198.18.0.10", "2001:2::10"],
        mac="BC:AD:28:00:10:21",
    )
    assert target.ips == ("198.18.0.10", "2001:2::10")
    assert target.key == "bcad28001021"
    with pytest.raises(ValueError, match="needs an IP or a MAC"):
        IsolationTarget.of(camera_id="bcad28001021")
    with pytest.raises(ValueError, match="not a camera id"):
        IsolationTarget.of(camera_id="../../etc", ip="198.18.0.10")
    with pytest.raises(ValueError, match="network, not one address"):
        IsolationTarget.of(ip="198.18.0.0/24")
    many = [f"198.18.0.{i}" for i in range(MAX_ADDRESSES_PER_TARGET + 1)]
    with pytest.raises(ValueError, match="more than"):
        IsolationTarget.of(ips=many)


def test_a_target_matches_the_same_device_under_any_name() -> None:
    target = IsolationTarget.of(ip="198.18.0.10", mac="02:00:00:00:00:10")
    assert target.matches(None, ["198.18.0.10"], None)
    assert target.matches("other", [], "02:00:00:00:00:10")
    assert not target.matches("other", ["198.18.0.11"], "02:00:00:00:00:11")
    by_id = IsolationTarget.of(camera_id="bcad28001021", ip="198.18.0.99")
    assert by_id.matches("bcad28001021", ["198.18.0.10"], None)


def test_camera_ids_follow_the_mqtt_contract() -> None:
    assert camera_id_for("198.18.0.10", "bc:ad:28:00:10:21") == "bcad28001021"
    assert camera_id_for("198.18.0.10", None) == "ip-198-18-0-10"
    assert camera_id_for(None, None) is None


def test_requesters_are_bounded_and_described() -> None:
    who = Requester("home_assistant", "u1", "Alice\x1b[31m" + "x" * 500).sanitised()
    assert who.user_name is not None
    assert "\x1b" not in who.user_name
    assert len(who.user_name) <= 128
    assert Requester("home_assistant", None, "Alice").describe() == "Home Assistant user Alice"
    assert Requester("auto").describe() == "automatic isolation"
    assert Requester.from_json({"source": "bogus"}).source == "mqtt"
    with pytest.raises(ValueError, match="unknown requester source"):
        Requester("root")  # type: ignore[arg-type]
