"""The command line: ``isolate``, ``release``, ``isolation list|audit|reset|reapply``.

Run in-process through ``cli.main`` against the RouterOS REST stub (a separate
process on 127.0.0.1); nftables from the command line is covered in the
namespace tests (tests/e2e/test_isolation_netns.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cctv_sentinel.cli import isolation as commands
from cctv_sentinel.cli import main as cli
from tests.lab import netlab


@pytest.fixture
def router() -> Iterator[str]:
    """The REST stub in its own process; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.lab.router_stub", "--port", "0"],
        cwd=netlab.REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "STUB_PASSWORD": "pw-for-tests"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("READY "), line
        yield "http://" + line.split()[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture
def config(tmp_path: Path, router: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MT_PW", "pw-for-tests")
    path = tmp_path / "agent.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "agent": {"state_dir": str(tmp_path / "state")},
                "mqtt": {"broker": "mqtt://198.18.0.5:1883"},
                "isolation": {
                    "default_backend": "mikrotik",
                    "local_networks": ["198.18.0.0/24"],
                    "never_isolate": ["198.18.0.6"],
                    "backends": {
                        "mikrotik": {"url": router, "username": "sentinel", "password_env": "MT_PW"}
                    },
                },
            }
        ),
        encoding="utf-8",
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_isolate_list_release_and_audit(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    c = str(config)
    code, out, err = run(
        capsys, "isolate", "198.18.0.10", "--config", c, "--reason", "Hikvision OEM"
    )
    assert (code, err) == (0, "")
    assert out == "isolated 198.18.0.10 (internet mode) with mikrotik\n"

    code, out, _ = run(capsys, "isolation", "list", "--config", c)
    assert code == 0
    assert out.startswith("ip-198-18-0-10  198.18.0.10  internet  mikrotik  isolated  since ")
    assert "(Hikvision OEM)" in out

    code, out, _ = run(capsys, "isolation", "list", "--config", c, "--json", "--protected")
    listing = json.loads(out)
    assert [(e["camera_id"], e["state"]) for e in listing["isolations"]] == [
        ("ip-198-18-0-10", "isolated")
    ]
    assert "198.18.0.5: the MQTT broker" in listing["protected"]
    assert "198.18.0.6: on the never_isolate allowlist" in listing["protected"]

    code, out, err = run(capsys, "release", "198.18.0.10", "--config", c, "--json")
    assert code == 0, err
    [result] = json.loads(out)
    assert result["status"] == "ok"
    assert result["isolation"]["state"] == "none"

    code, out, _ = run(capsys, "isolation", "audit", "--config", c, "--json")
    audit = json.loads(out)
    assert [(a["action"], a["status"]) for a in audit] == [("isolate", "ok"), ("release", "ok")]
    assert audit[0]["requested_by"]["source"] == "cli"
    assert audit[0]["reason"] == "Hikvision OEM"


def test_refusals_exit_3_and_errors_exit_2(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    c = str(config)
    code, out, err = run(capsys, "isolate", "198.18.0.5", "--config", c)
    assert (code, out) == (3, "")
    assert err == (
        "cctv-sentinel: refused: 198.18.0.5 is the MQTT broker;"
        " isolating it could cut the network or this agent off\n"
    )
    code, _, err = run(capsys, "isolate", "198.18.0.10", "198.18.0.11", "--config", c)
    assert code == 3
    assert err.count("needs confirmation") == 1
    code, _, err = run(capsys, "isolate", "198.18.0.10", "198.18.0.11", "--config", c, "--yes")
    assert (code, err) == (0, "")
    code, _, err = run(capsys, "isolate", "camera-7", "--config", c)
    assert code == 2
    assert err == (
        "cctv-sentinel: error: 'camera-7' is not an IP address, a MAC address or a camera id\n"
    )
    code, _, err = run(capsys, "isolation", "reset", "--config", c)
    assert code == 2
    assert "add --yes" in err
    code, out, _ = run(capsys, "isolation", "reset", "--config", c, "--yes")
    assert code == 0
    assert "removed 2 isolation(s)" in out
    code, _, err = run(capsys, "isolation")
    assert code == 2
    assert "isolation needs an action: list, audit, reset or reapply" in err


def test_dry_run_prints_the_http_calls(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, _ = run(capsys, "isolate", "198.18.0.10", "--config", str(config), "--dry-run")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "dry-run: would isolate 198.18.0.10 (internet mode) with mikrotik; nothing was changed"
    )
    assert lines[1].startswith('PUT /rest/ip/firewall/address-list {"list": "cctv-sentinel-local"')
    code, out, _ = run(capsys, "isolation", "list", "--config", str(config))
    assert out == "nothing is isolated\n"


def test_mikrotik_without_settings_is_a_config_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(
        capsys, "isolate", "198.18.0.10", "--backend", "mikrotik", "--state-dir", str(tmp_path)
    )
    assert code == 2
    assert "the mikrotik backend needs its settings" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("isolation:\n  default_mode: sideways\n", encoding="utf-8")
    code, _, err = run(capsys, "isolation", "list", "--config", str(bad))
    assert code == 2
    assert err == "cctv-sentinel: error: isolation.default_mode: expected internet or quarantine\n"


def test_the_state_directory_comes_from_flag_config_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = cli.build_parser(["isolation", "list"])
    args = parser.parse_args(["isolation", "list"])
    monkeypatch.delenv(commands.STATE_DIR_ENV, raising=False)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    assert commands.state_dir_for(args, {}) == commands.DEFAULT_STATE_DIR
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/cctv-sentinel-unit:/other")
    assert commands.state_dir_for(args, {}) == Path("/var/lib/cctv-sentinel-unit")
    monkeypatch.setenv(commands.STATE_DIR_ENV, str(tmp_path / "env"))
    assert commands.state_dir_for(args, {}) == tmp_path / "env"
    assert commands.state_dir_for(args, {"agent": {"state_dir": "/srv/s"}}) == Path("/srv/s")
    relative = parser.parse_args(["isolation", "list", "--config", str(tmp_path / "agent.yaml")])
    assert commands.state_dir_for(relative, {"agent": {"state_dir": "state"}}) == tmp_path / "state"
    args = parser.parse_args(["isolation", "list", "--state-dir", str(tmp_path / "flag")])
    assert commands.state_dir_for(args, {"agent": {"state_dir": "/srv/s"}}) == tmp_path / "flag"
