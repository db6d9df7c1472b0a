"""``check-config --connect`` and ``run`` against a real Mosquitto with TLS and passwords.

A good configuration connects and logs in; a wrong CA, a CA file that is not PEM,
an unreachable broker and a bad password each give one line and exit 2. ``run``
stops with exit 2 on a permanent error (TLS, credentials) and says so, and keeps
retrying a transient one (nothing listening yet), saying that too.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from cctv_sentinel.cli import main as cli
from tests.lab.broker import Broker

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]

PASSWORD = "pw-" + "x" * 12


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Broker(
        workdir=tmp_path_factory.mktemp("tls-broker"),
        users={"agent-site-a": PASSWORD},
        allow_anonymous=False,
        tls=True,
    ) as running:
        yield running


def write_config(
    tmp_path: Path,
    broker: Broker,
    *,
    ca: Path | None,
    port: int | None = None,
    password: str = PASSWORD,
) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    secret = tmp_path / "mqtt.pw"
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    assert broker.tls_port is not None
    data = {
        "agent": {"id": "site-a", "state_dir": str(tmp_path / "state")},
        "mqtt": {
            "broker": f"mqtts://agent-site-a@127.0.0.1:{port or broker.tls_port}",
            "password_file": str(secret),
            "tls": {"ca": str(ca)} if ca else {},
            "reconnect_min": 0.05,
            "reconnect_max": 0.2,
        },
        "scan": {"networks": ["198.18.0.0/24"], "passive": False},
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_good_configuration_connects(tls_broker: Broker, tmp_path: Path, capsys) -> None:
    assert tls_broker.tls_files is not None
    path = write_config(tmp_path, tls_broker, ca=tls_broker.tls_files.ca_cert)
    code, out, err = run(capsys, "check-config", str(path), "--connect")
    assert (code, err) == (0, "")
    assert "; connected and logged in" in out
    assert PASSWORD not in out


def test_each_broken_connection_is_one_line_and_exit_2(
    tls_broker: Broker, tmp_path: Path, capsys
) -> None:
    assert tls_broker.tls_files is not None
    other = Broker(workdir=tmp_path / "other", tls=True)  # another CA, never started
    assert other.tls_files is not None
    not_pem = tmp_path / "ca.der"
    not_pem.write_bytes(b"\x30\x82\x01\x0a not a certificate")
    cases = {
        "wrong CA": (
            write_config(tmp_path / "a", tls_broker, ca=other.tls_files.ca_cert),
            "TLS with mqtts://agent-site-a@127.0.0.1:",
            "failed: certificate",
        ),
        "not PEM": (write_config(tmp_path / "b", tls_broker, ca=not_pem), "TLS with", ""),
        "unreachable": (
            write_config(
                tmp_path / "c", tls_broker, ca=tls_broker.tls_files.ca_cert, port=closed_port()
            ),
            "cannot connect to mqtts://",
            "refused",
        ),
        "bad password": (
            write_config(
                tmp_path / "d", tls_broker, ca=tls_broker.tls_files.ca_cert, password="wrong-pw-0"
            ),
            "the broker refused the connection:",
            "",
        ),
    }
    for name, (path, start, detail) in cases.items():
        path.parent.mkdir(exist_ok=True)
        code, out, err = run(capsys, "check-config", str(path), "--connect")
        assert code == 2, name
        assert out == "", name
        lines = err.splitlines()
        assert len(lines) == 1, (name, err)
        assert lines[0].startswith(f"agent.yaml: mqtt: {start}"), (name, err)
        assert detail.lower() in lines[0].lower(), (name, err)
        assert "Traceback" not in err
        assert "wrong-pw-0" not in err
    other.close()


def test_run_stops_with_exit_2_on_a_permanent_error(
    tls_broker: Broker, tmp_path: Path, capsys, caplog
) -> None:
    assert tls_broker.tls_files is not None
    other = Broker(workdir=tmp_path / "other", tls=True)
    assert other.tls_files is not None
    path = write_config(tmp_path, tls_broker, ca=other.tls_files.ca_cert)
    for extra in ((), ("--retire",)):
        started = time.monotonic()
        code, _, err = run(capsys, "run", "--config", str(path), *extra)
        assert code == 2, extra
        assert time.monotonic() - started < 20, extra
        assert err.splitlines()[-1].startswith("cctv-sentinel: error: TLS with mqtts://"), err
        assert "Traceback" not in err
        assert "a permanent error, not retrying" in err  # the daemon's log (stderr)
    other.close()


def test_run_retries_a_transient_error_and_says_so(
    tls_broker: Broker, tmp_path: Path, caplog
) -> None:
    """Nothing listens yet: the agent keeps trying (transient) until stopped."""
    assert tls_broker.tls_files is not None
    path = write_config(tmp_path, tls_broker, ca=tls_broker.tls_files.ca_cert, port=closed_port())
    import asyncio  # noqa: PLC0415

    from cctv_sentinel.service.config import load_config  # noqa: PLC0415
    from cctv_sentinel.service.daemon import Service  # noqa: PLC0415

    async def main() -> Service:
        service = await asyncio.to_thread(
            Service, load_config(path), interfaces=list, passive=False
        )
        task = asyncio.create_task(service.run())
        await asyncio.sleep(1.5)
        assert not task.done()
        service.stop()
        await asyncio.wait_for(task, 20)
        return service

    service = asyncio.run(main())
    assert service.fatal is None
    assert service.client.connections == 0
    assert "(a transient error); retrying with backoff" in caplog.text
