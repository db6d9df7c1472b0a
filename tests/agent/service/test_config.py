"""The service configuration: every error names the key and the reason; secrets stay secret."""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path

import pytest
import voluptuous as vol

from cctv_sentinel.cli.main import main as cli_main
from cctv_sentinel.errors import ConfigError
from cctv_sentinel.service.config import load_config, parse_broker_url, parse_duration
from tests.agent.service.support import REPO

EXAMPLE = REPO / "docs" / "config.example.yaml"


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env=env or {})
    return str(caught.value).splitlines()


def test_minimal_config_takes_documented_defaults(tmp_path):
    config = load_config(write(tmp_path, "mqtt: {broker: 'mqtt://broker.lan'}\n"), env={})
    assert config.mqtt.host == "broker.lan"
    assert config.mqtt.port == 1883
    assert config.mqtt.tls is None
    assert config.mqtt.protocol == "3.1.1"
    assert config.mqtt.base_topic == "cctv_sentinel"
    assert config.mqtt.homeassistant_discovery is False
    assert config.mqtt.publish_serials is False
    assert config.mqtt.last_seen_interval == 900
    assert config.scan.interval == 900
    assert config.scan.passive is True
    assert config.inventory.missing_after_scans == 2
    assert config.inventory.retention == 7 * 86400
    assert config.agent.state_dir == Path("/var/lib/cctv-sentinel")
    assert config.isolation is None
    assert len(config.agent.id) <= 64


def test_systemd_state_directory_is_the_default_state_dir(tmp_path):
    config = load_config(
        write(tmp_path, "mqtt: {broker: 'mqtt://b'}\n"),
        env={"STATE_DIRECTORY": "/var/lib/cctv-sentinel-x:/other"},
    )
    assert config.agent.state_dir == Path("/var/lib/cctv-sentinel-x")


def test_the_documented_example_is_valid(tmp_path):
    assert EXAMPLE.exists(), "docs/config.example.yaml is missing"
    config = load_config(EXAMPLE, env={"CCTV_SENTINEL_MQTT_PASSWORD": "s3cret-example"})
    assert config.mqtt.password is not None
    assert config.mqtt.password.reveal() == "s3cret-example"
    assert config.scan.networks
    assert config.source == "config.example.yaml"


def test_flags_override_the_file(tmp_path):
    path = write(
        tmp_path,
        """
        agent: {id: from-file}
        mqtt: {broker: 'mqtt://file.lan:1883', base_topic: filebase}
        scan: {networks: [10.0.0.0/24], interval: 1h}
        """,
    )
    config = load_config(
        path,
        {
            "agent": {"id": "from-flag"},
            "mqtt": {"broker": "mqtts://flag.lan:8884"},
            "scan": {"networks": ["198.18.0.0/24"], "interval": "90s"},
        },
        env={},
    )
    assert config.agent.id == "from-flag"
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.tls is not None) == (
        "flag.lan",
        8884,
        True,
    )
    assert config.mqtt.base_topic == "filebase"
    assert config.scan.networks == (ipaddress.IPv4Network("198.18.0.0/24"),)
    assert config.scan.interval == 90


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mqtt: {host: b, port: abc}", "config.yaml: mqtt.port: expected an integer"),
        ("mqtt: {host: b, port: 70000}", "config.yaml: mqtt.port: must be within 1..65535"),
        ("mqtt: {host: b, prot: 5}", "config.yaml: mqtt.prot: unknown key"),
        (
            "mqtt: {host: b, protocol: 4.0}",
            "config.yaml: mqtt.protocol: 4.0 is not a protocol: use 3.1.1 or 5",
        ),
        ("mqtt: {host: b, keepalive: 1}", "config.yaml: mqtt.keepalive: must be within 5..3600"),
        (
            "mqtt: {host: b, password: hunter2}",
            (
                "config.yaml: mqtt.password: not allowed here: "
                "give mqtt.password_file or mqtt.password_env"
            ),
        ),
        (
            "mqtt: {broker: 'mqtt://u:pw@b:1883'}",
            (
                "config.yaml: mqtt.broker: the URL holds a password; give it with "
                "mqtt.password_file or mqtt.password_env (--password-file/--password-env) instead"
            ),
        ),
        (
            "mqtt: {broker: 'http://b'}",
            "config.yaml: mqtt.broker: expected mqtt://[user@]host:port or mqtts://[user@]host:port",
        ),
        (
            "agent: {id: x}",
            "config.yaml: mqtt.broker: missing (e.g. mqtt://broker.lan:1883, or --broker)",
        ),
        (
            "mqtt: {broker: 'mqtt://b', password_env: NOPE_NOT_SET}",
            "config.yaml: mqtt.password_env: environment variable NOPE_NOT_SET is not set",
        ),
        (
            "mqtt: {broker: 'mqtt://u@b', password_file: /nonexistent/pw}",
            (
                "config.yaml: mqtt.password_file: cannot read /nonexistent/pw: "
                "No such file or directory"
            ),
        ),
        (
            "mqtt: {broker: 'mqtt://b', tls: {ca: /etc/hostname}}",
            "config.yaml: mqtt.tls: TLS options given, but the broker URL is mqtt://; use mqtts://",
        ),
        (
            "mqtt: {broker: 'mqtts://b', tls: {keyfile: /etc/hostname}}",
            "config.yaml: mqtt.tls.keyfile: given without mqtt.tls.certfile",
        ),
        (
            "mqtt: {broker: 'mqtts://b', tls: {ca: /nonexistent/ca.pem}}",
            "config.yaml: mqtt.tls.ca: cannot read /nonexistent/ca.pem",
        ),
        (
            "mqtt: {broker: 'mqtt://b', base_topic: 'a/#'}",
            (
                "config.yaml: mqtt.base_topic: 'a/#' is not a usable base topic "
                "(no + or #, no leading or trailing /)"
            ),
        ),
        (
            "mqtt: {broker: 'mqtt://b'}\nagent: {id: 'Head Office'}",
            (
                "config.yaml: agent.id: 'Head Office' is not an agent id: "
                "use 1-64 of a-z, 0-9, _ and -"
            ),
        ),
        (
            "mqtt: {broker: 'mqtt://b'}\nscan: {networks: [198.18.0.0/24, 10.0.0.0/33]}",
            (
                "config.yaml: scan.networks[1]: '10.0.0.0/33' is not an IPv4 network "
                "(e.g. 192.168.1.0/24)"
            ),
        ),
        (
            "mqtt: {broker: 'mqtt://b'}\nscan: {networks: [127.0.0.0/8]}",
            (
                "config.yaml: scan.networks[0]: 127.0.0.0/8 is loopback, link-local or "
                "multicast; nothing to watch there"
            ),
        ),
        (
            "mqtt: {broker: 'mqtt://b'}\nscan: {interval: soon}",
            "config.yaml: scan.interval: 'soon' is not a duration (e.g. 90s, 15m, 2h, 7d)",
        ),
        (
            "mqtt: {broker: 'mqtt://b'}\nscan: {jitter: 2}",
            (
                "config.yaml: scan.jitter: expected a fraction of the interval within 0..0.5 "
                "(e.g. 0.1)"
            ),
        ),
        (
            "mqtt: {broker: 'mqtt://b'}\nscan: {probes: [wsd, telepathy]}",
            (
                "config.yaml: scan.probes: unknown probe 'telepathy'; choose from dhip, http, "
                "mdns, onvif, rtsp, sadp, ssdp, sweep, wsd"
            ),
        ),
        (
            "mqtt: {broker: 'mqtt://b'}\nscan: {ports: [80, 99999]}",
            "config.yaml: scan.ports: 99999 is not a port range within 1-65535",
        ),
        (
            "mqtt: {broker: 'mqtt://b'}\ninventory: {missing_after_scans: 0}",
            "config.yaml: inventory.missing_after_scans: must be within 1..1000",
        ),
        (
            "mqtt: {broker: 'mqtt://b'}\npolicy: {colour: red}",
            "config.yaml: policy: unknown key colour",
        ),
        ("mqtt: {broker: 'mqtt://b'}\nwhatever: 1", "config.yaml: whatever: unknown key"),
        ("mqtt: []", "config.yaml: mqtt: expected a mapping"),
    ],
)
def test_each_error_names_the_key_and_the_reason(tmp_path, text, expected):
    assert expected in errors_of(tmp_path, text)


def test_every_error_is_reported_at_once(tmp_path):
    lines = errors_of(
        tmp_path,
        """
        mqtt: {host: b, port: abc, keepalive: 1}
        scan: {interval: soon}
        """,
    )
    assert lines == [
        "config.yaml: mqtt.keepalive: must be within 5..3600",
        "config.yaml: mqtt.port: expected an integer",
        "config.yaml: scan.interval: 'soon' is not a duration (e.g. 90s, 15m, 2h, 7d)",
    ]


def test_yaml_syntax_errors_give_the_line(tmp_path):
    lines = errors_of(tmp_path, "mqtt:\n  broker: [unclosed\n")
    assert len(lines) == 1
    assert lines[0].startswith("config file ")
    assert "config.yaml is not valid YAML at line 3" in lines[0]


def test_top_level_must_be_a_mapping(tmp_path):
    (line,) = errors_of(tmp_path, "- a\n- b\n")
    assert line.endswith("config.yaml must hold a mapping, not a list")


def test_password_from_a_file_never_shows(tmp_path):
    secret_file = tmp_path / "mqtt.secret"
    secret_file.write_text("correct-horse\n")
    secret_file.chmod(0o600)
    config = load_config(
        write(
            tmp_path, f"mqtt: {{broker: 'mqtts://sentinel@b:8883', password_file: {secret_file}}}\n"
        ),
        env={},
    )
    assert config.mqtt.username == "sentinel"
    assert config.mqtt.password is not None
    assert config.mqtt.password.reveal() == "correct-horse"
    assert config.mqtt.password_file == secret_file
    assert "correct-horse" not in repr(config)
    assert "correct-horse" not in config.mqtt.url
    assert config.mqtt.url == "mqtts://sentinel@b:8883"


def test_password_from_the_environment(tmp_path):
    config = load_config(
        write(tmp_path, "mqtt: {broker: 'mqtt://b', username: u, password_env: MQTT_PW}\n"),
        env={"MQTT_PW": "from-env"},
    )
    assert config.mqtt.password is not None
    assert config.mqtt.password.reveal() == "from-env"


def test_a_password_needs_a_user(tmp_path):
    lines = errors_of(tmp_path, "mqtt: {broker: 'mqtt://b', password_env: PW}\n", env={"PW": "x"})
    assert lines == ["config.yaml: mqtt.username: a password is given but no user name"]


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "pw").write_text("p")
    config = load_config(
        write(
            tmp_path,
            """
            agent: {state_dir: state}
            mqtt: {broker: 'mqtt://u@b', password_file: pw}
            scan: {credentials: cams.yaml}
            """,
        ),
        env={},
    )
    assert config.agent.state_dir == tmp_path / "state"
    assert config.scan.credentials == tmp_path / "cams.yaml"
    assert config.mqtt.password is not None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        ("90", 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("1h30m", 5400.0),
        ("7d", 604800.0),
        ("500ms", 0.5),
        ("1w", 604800.0),
        (0.25, 0.25),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "5 parsecs", "-5", True, None, "1h garbage"])
def test_bad_durations(text):
    with pytest.raises(vol.Invalid):
        parse_duration(text)


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("mqtt://broker.lan", ("broker.lan", 1883, False, None)),
        ("mqtts://broker.lan", ("broker.lan", 8883, True, None)),
        ("mqtt://sentinel@10.0.0.5:1884", ("10.0.0.5", 1884, False, "sentinel")),
        ("mqtts://[fd00::5]:8884", ("fd00::5", 8884, True, None)),
    ],
)
def test_broker_urls(url, parsed):
    assert parse_broker_url(url) == parsed


# --- the commands ---------------------------------------------------------------------------


def test_check_config_ok_prints_a_summary(tmp_path, capsys):
    path = write(tmp_path, "mqtt: {broker: 'mqtt://b'}\nscan: {networks: [198.18.0.0/24]}\n")
    assert cli_main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("config.yaml: OK\n")
    assert "broker: mqtt://b:1883 (MQTT 3.1.1), base topic cctv_sentinel" in out
    assert "198.18.0.0/24" in out


def test_check_config_lists_every_problem_and_exits_2(tmp_path, capsys):
    path = write(tmp_path, "mqtt: {host: b, port: abc}\nscan: {interval: soon}\n")
    assert cli_main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "config.yaml: mqtt.port: expected an integer" in err
    assert "config.yaml: scan.interval: 'soon' is not a duration (e.g. 90s, 15m, 2h, 7d)" in err
    assert not any("Traceback" in line for line in err)


def test_check_config_checks_the_policy_against_the_catalogue(tmp_path, capsys):
    path = write(tmp_path, "mqtt: {broker: 'mqtt://b'}\npolicy: {regimes: [no-such-regime]}\n")
    assert cli_main(["check-config", str(path)]) == 2
    assert "unknown regime 'no-such-regime'" in capsys.readouterr().err


def test_check_config_checks_the_isolation_section(tmp_path, capsys):
    path = write(tmp_path, "mqtt: {broker: 'mqtt://b'}\nisolation: {colour: red}\n")
    assert cli_main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("config.yaml: isolation")
    assert "colour" in err


def test_check_config_missing_file(tmp_path, capsys):
    assert cli_main(["check-config", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read config file" in capsys.readouterr().err


def test_run_needs_a_config_or_a_broker(capsys):
    assert cli_main(["run"]) == 2
    assert "give --config FILE or --broker URL" in capsys.readouterr().err


def test_run_refuses_a_password_in_the_broker_flag(capsys):
    with pytest.raises(SystemExit) as caught:
        cli_main(["run", "--broker", "mqtt://u:pw@b:1883"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "holds a password" in err
    assert "pw@" not in err.replace("u:pw@b", "")  # the message does not repeat it elsewhere


def test_run_reports_config_errors_in_one_place(tmp_path, capsys):
    path = write(tmp_path, "mqtt: {host: b, port: abc}\n")
    with pytest.raises(SystemExit) as caught:
        cli_main(["run", "--config", str(path)])
    assert caught.value.code == 2
    assert "config.yaml: mqtt.port: expected an integer" in capsys.readouterr().err


def test_run_checks_the_isolation_section_before_starting(tmp_path, capsys):
    path = write(
        tmp_path,
        f"mqtt: {{broker: 'mqtt://b'}}\nagent: {{state_dir: {tmp_path / 's'}}}\n"
        "isolation: {colour: red}\n",
    )
    with pytest.raises(SystemExit) as caught:
        cli_main(["run", "--config", str(path)])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "config.yaml: isolation" in err
    assert not (tmp_path / "s").exists(), "nothing was started"
