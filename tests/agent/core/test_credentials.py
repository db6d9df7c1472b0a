"""Credentials files: matching per host, secrets never shown, bad files explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from cctv_sentinel._util.secret import Secret
from cctv_sentinel.discovery.credentials import credentials_from_mapping, load_credentials
from cctv_sentinel.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "creds.yaml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_most_specific_entry_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cam21.secret").write_text("from-file\n", encoding="utf-8")
    monkeypatch.setenv("CAM_DEFAULT", "from-env")
    creds = load_credentials(
        write(
            tmp_path,
            """
default: {username: admin, password_env: CAM_DEFAULT}
hosts:
  - {match: 198.18.0.0/16, username: wide, password: w}
  - {match: 198.18.0.0/24, username: narrow, password: n}
  - {match: 198.18.0.21, username: cam21, password_file: cam21.secret}
  - {match: "BC-AD-28-00-00-99", username: bymac, password: m}
""",
        )
    )
    cam21 = creds.for_host("198.18.0.21")
    assert cam21 is not None
    assert (cam21.username, cam21.password.reveal()) == ("cam21", "from-file")
    narrow = creds.for_host("198.18.0.22")
    assert narrow is not None
    assert narrow.username == "narrow"
    wide = creds.for_host("198.18.1.5")
    assert wide is not None
    assert wide.username == "wide"
    bymac = creds.for_host("198.18.0.21", "bc:ad:28:00:00:99")
    assert bymac is not None
    assert bymac.username == "bymac"
    default = creds.for_host("10.1.2.3")
    assert default is not None
    assert default.password.reveal() == "from-env"


def test_secrets_never_render() -> None:
    secret = Secret("hunter2")
    creds = credentials_from_mapping({"default": {"username": "admin", "password": "hunter2"}})
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in repr(creds)
    assert "hunter2" not in f"{creds.default}"


def test_empty_file_means_no_credentials(tmp_path: Path) -> None:
    creds = load_credentials(write(tmp_path, ""))
    assert creds.empty
    assert creds.for_host("198.18.0.1") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("default: {username: admin}", "exactly one of password"),
        ("default: {username: admin, password: a, password_env: B}", "exactly one of password"),
        ("default: {user: admin, password: a}", "unknown key 'user'"),
        ("hosts: [{username: a, password: b}]", "hosts[0].match"),
        ("hosts: [{match: not-an-ip, username: a, password: b}]", "not an IPv4 address"),
        ("hosts: {a: b}", "hosts: must be a list"),
        ("servers: []", "unknown key 'servers'"),
        ("- just\n- a list", "must hold a mapping"),
        (
            "default: {username: admin, password_env: SURELY_NOT_SET_XYZ}",
            "SURELY_NOT_SET_XYZ is not set",
        ),
        ("default: {username: admin, password_file: missing.txt}", "cannot read"),
        ("default: [unclosed", "is not valid YAML at line"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(
        ConfigError,
        match="(?s)" + message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)"),
    ):
        load_credentials(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read credentials file"):
        load_credentials(tmp_path / "nope.yaml")
