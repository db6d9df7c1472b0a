"""report --from-broker against a real Mosquitto: what it reads, refuses, and how it fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.estate import support
from tests.lab.broker import Broker, publish
from tests.lab.procs import child_env

pytestmark = pytest.mark.broker


def report(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cctv_sentinel", "report", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
        check=False,
    )


def test_the_report_reads_retained_state_and_ignores_the_rest(broker: Broker, tmp_path: Path):
    for topic, payload in support.estate_messages(tmp_path):
        publish(broker, topic, payload, retain=True)
    publish(
        broker,
        f"{support.BASE}/mallory/camera/bcad28000055",
        b"{" + b" " * 300_000 + b"}",
        retain=True,
    )
    publish(
        broker, f"{support.BASE}/library/event", json.dumps({"type": "camera_found"}), retain=False
    )
    out = tmp_path / "estate.html"
    done = report("--from-broker", broker.url, "--target-date", "2026-01-01", "-o", str(out))
    assert done.returncode == 1, done.stderr  # restricted cameras are in place
    page = out.read_text(encoding="utf-8")
    assert "2 site(s) (2 online)" in page
    assert "1 retained message(s) were not what the MQTT contract says" in page
    assert "overdue" in page
    assert "retained messages" in done.stderr


def test_an_unreachable_broker_is_one_line_and_exit_2(tmp_path: Path):
    with Broker(workdir=tmp_path / "gone") as gone:
        url = gone.url
    done = report("--from-broker", url, "--format", "csv")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cannot read the estate" in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-broker", "http://x"], "expected mqtt://"),
        (["--from-broker", "mqtt://u:secret@x"], "holds a password"),
        (["--from-broker", "mqtt://x", "--target", "uk"], "expected REGIME=YYYY-MM-DD"),
        (["--from-broker", "mqtt://x", "--target-date", "soon"], "is not a date"),
        (["--from-broker", "mqtt://x", "--from", "scan.json"], "not both"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(args: list[str], message: str):
    done = report(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "secret" not in done.stderr
    assert "Traceback" not in done.stderr
