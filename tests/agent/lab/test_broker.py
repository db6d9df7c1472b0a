"""The Mosquitto fixture: real broker, same port across restarts, auth, ACL, TLS, netns."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable

import pytest

from tests.lab import netlab
from tests.lab.broker import Broker, BrokerError, Subscriber, publish

pytestmark = pytest.mark.broker

BrokerFactory = Callable[..., Broker]


def refuses_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def test_retained_and_live_messages_reach_a_subscriber(broker: Broker) -> None:
    publish(broker, "cctv_sentinel/a1/status", "online", retain=True)

    with Subscriber(broker, topics=["cctv_sentinel/#"]) as sub:
        first = sub.wait_for_message("cctv_sentinel/a1/status")
        publish(broker, "cctv_sentinel/a1/event", '{"kind": "found"}')
        live = sub.wait_for_message("cctv_sentinel/a1/event")
        publish(broker, "cctv_sentinel/a1/status", b"", retain=True)
        sub.wait_for(lambda s: "cctv_sentinel/a1/status" not in s.state())

    assert (first.text, first.retain) == ("online", True)
    assert (live.json(), live.retain) == ({"kind": "found"}, False)
    assert sub.retained() == {"cctv_sentinel/a1/status": first}
    assert sub.topics_seen() == {"cctv_sentinel/a1/status", "cctv_sentinel/a1/event"}


def test_stop_start_restart_keep_the_port(broker: Broker) -> None:
    port, first_pid = broker.port, broker.pid
    publish(broker, "keep/me", "1", retain=True)

    assert broker.stop() == 0  # mosquitto exits cleanly on SIGTERM
    assert not broker.running
    assert refuses_connections(broker.host, port)

    broker.start()
    assert broker.port == port
    assert broker.pid != first_pid
    publish(broker, "after/start", "2", retain=True)

    broker.restart()
    assert (broker.port, broker.starts) == (port, 3)
    assert broker.url == f"mqtt://127.0.0.1:{port}"
    # Persistence is off by default: a restart forgets retained messages.
    with Subscriber(broker) as sub:
        publish(broker, "marker", "x")
        sub.wait_for_message("marker")
        assert sub.retained() == {}
    assert broker.log_text().count("running") == 3


def test_persistence_keeps_retained_messages_across_restart(broker_factory: BrokerFactory) -> None:
    broker = broker_factory(persistence=True)
    publish(broker, "cctv_sentinel/a1/info", '{"v": 1}', retain=True)

    broker.restart()

    with Subscriber(broker) as sub:
        message = sub.wait_for_message("cctv_sentinel/a1/info")
    assert message.retain
    assert message.json() == {"v": 1}


def test_subscriber_resubscribes_after_broker_restart(broker: Broker) -> None:
    with Subscriber(broker, topics=["t/#"]) as sub:
        publish(broker, "t/before", "1")
        sub.wait_for_message("t/before")
        broker.restart()
        # paho reconnects on its own (1 s back-off) and on_connect subscribes again.
        deadline = time.monotonic() + 15
        while True:
            publish(broker, "t/after", "2")
            try:
                sub.wait_for_message("t/after", timeout=0.5)
                break
            except TimeoutError:
                assert time.monotonic() < deadline, "subscriber never came back"


def test_wait_for_times_out_naming_what_it_saw(broker: Broker) -> None:
    with Subscriber(broker) as sub:
        publish(broker, "seen/topic", "x")
        sub.wait_for_message("seen/topic")
        with pytest.raises(TimeoutError, match=r"1 messages on \['seen/topic'\]"):
            sub.wait_for_message("never/published", timeout=0.3)


def test_users_passwords_and_acl(broker_factory: BrokerFactory) -> None:
    secrets = {"agent": "agent-Secret-1", "viewer": "viewer-Secret-2"}
    broker = broker_factory(
        users=secrets,
        acl={"agent": ["readwrite cctv_sentinel/#"], "viewer": ["read cctv_sentinel/#"]},
    )

    with pytest.raises(BrokerError, match="refused"):
        publish(broker, "cctv_sentinel/x", "anon")
    with pytest.raises(BrokerError, match="refused"):
        publish(broker, "cctv_sentinel/x", "bad", username="agent", password="wrong")

    with Subscriber(broker, username="viewer", password=secrets["viewer"]) as sub:
        publish(broker, "cctv_sentinel/ok", "1", username="agent", password=secrets["agent"])
        # The ACL drops the viewer's publish (MQTT 3.1.1 still acknowledges it)
        # and the agent's publish outside its tree.
        publish(broker, "cctv_sentinel/no", "2", username="viewer", password=secrets["viewer"])
        publish(broker, "elsewhere/no", "3", username="agent", password=secrets["agent"])
        publish(broker, "cctv_sentinel/end", "4", username="agent", password=secrets["agent"])
        sub.wait_for_message("cctv_sentinel/end")
        assert sub.topics_seen() == {"cctv_sentinel/ok", "cctv_sentinel/end"}

    written = "".join(
        path.read_text(errors="replace") for path in broker.workdir.iterdir() if path.is_file()
    )
    for password in secrets.values():
        assert password not in written
        assert password not in repr(broker)
    assert "u'agent'" in broker.log_text()


def test_tls_listener_with_server_and_client_certificates(broker_factory: BrokerFactory) -> None:
    broker = broker_factory(tls=True)
    assert broker.tls_files is not None
    assert broker.tls_url == f"mqtts://127.0.0.1:{broker.tls_port}"

    with Subscriber(broker, tls=True, topics=["secure/#"]) as sub:
        publish(broker, "secure/x", "over-tls", tls=True)
        assert sub.wait_for_message("secure/x").text == "over-tls"

    mutual = broker_factory(tls=True, require_client_cert=True)
    assert mutual.tls_files is not None
    files = mutual.tls_files
    with pytest.raises((BrokerError, OSError)):
        publish(mutual, "secure/y", "no-cert", tls=True, timeout=3)
    publish(mutual, "secure/y", "cert", tls=True, client_cert=(files.client_cert, files.client_key))
    assert "secure/y" in mutual.log_text()


def test_listeners_outside_loopback_and_the_lab_are_refused() -> None:
    for address in ("0.0.0.0", "192.168.1.10", "10.1.2.3"):
        with pytest.raises(ValueError, match="outside the lab ranges"):
            Broker(listeners=[f"{address}:1883"])
    with pytest.raises(ValueError, match="outside the lab ranges"):
        Broker(host="0.0.0.0")


def test_start_failure_reports_the_log(broker_factory: BrokerFactory) -> None:
    with pytest.raises(BrokerError, match=r"exited with code 3(.|\n)*Unknown configuration"):
        broker_factory(extra_config=["no_such_option true"])


@pytest.mark.lab
def test_broker_in_a_namespace_serves_the_lan(
    lab: netlab.Lab, broker_factory: BrokerFactory
) -> None:
    sw = lab.add_switch()
    mq = lab.add_host("mq", "198.18.0.5/24", switch=sw)
    client = lab.add_host("client", "198.18.0.6/24", switch=sw)
    broker = broker_factory(netns=mq.ns, listeners=["198.18.0.5:1883"])

    script = """
import json, sys
from tests.lab.broker import Subscriber, publish
publish(host="198.18.0.5", port=1883, topic="lan/hello", payload="hi", retain=True)
with Subscriber(host="198.18.0.5", port=1883, topics=["lan/#"]) as sub:
    msg = sub.wait_for_message("lan/hello")
print(json.dumps([msg.text, msg.retain]))
"""
    result = client.run([sys.executable, "-c", script], timeout=60)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["hi", True]
    assert "New client connected from 198.18.0.6" in broker.log_text()
    # The 127.0.0.1 listener is the namespace's own loopback, not the host's.
    assert refuses_connections("127.0.0.1", broker.port)


def test_session_broker_is_shared(broker_session: Broker) -> None:
    assert broker_session.running
    with Subscriber(broker_session, topics=["session/#"]) as sub:
        publish(broker_session, "session/ping", "1")
        assert sub.wait_for_message("session/ping").text == "1"
