"""SSDP messages and UPnP device descriptions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cctv_sentinel.errors import MalformedError, MalformedXmlError, OversizeError
from cctv_sentinel.limits import MAX_LIST_ITEMS, MAX_SSDP_MESSAGE
from cctv_sentinel.protocols import ssdp

from ._support import FUZZ, NASTY, assert_clean, fixture

DAHUA_SERVER = "Linux/3.8.8, UPnP/1.0, ZheJiang Dahua Technology CO.,LTD. Upnp SDK"


def test_dahua_search_answer_carries_maker_and_serial() -> None:
    message = ssdp.parse_message(fixture("ssdp", "dahua_search_response_uuid.txt"))
    assert message.kind == "response"
    assert message.status == 200
    assert message.server == DAHUA_SERVER
    assert message.location == "http://192.168.1.20:49152/upnp_device_desc.xml"
    assert message.usn == "uuid:www.dahuatech.com.device_3_0-1L047ACPAW00037"
    assert message.st == "uuid:www.dahuatech.com.device_3_0-1L047ACPAW00037"
    assert message.cache_control == "max-age=1800"
    assert message.nts is None
    assert message.header("X-User-Agent") == "redsonic"
    assert message.header("EXT") == ""
    assert message.header("missing") is None
    assert ssdp.max_age(message) == 1800
    assert [name for name, _ in message.headers] == [
        "cache-control", "date", "ext", "location", "server", "st", "usn", "x-user-agent",
    ]  # fmt: skip


def test_dahua_urn_answer() -> None:
    message = ssdp.parse_message(fixture("ssdp", "dahua_search_response_urn.txt"))
    assert message.st == "urn:schemas-upnp-org:device:3.0-1L047ACPAW00037"
    assert message.usn is not None
    assert message.usn.endswith("::urn:schemas-upnp-org:device:3.0-1L047ACPAW00037")


def test_universalscanner_notify_with_trailing_junk() -> None:
    message = ssdp.parse_message(fixture("ssdp", "universalscanner_notify.txt"))
    assert message.kind == "notify"
    assert message.status is None
    assert message.st == "uuid:unique-id-12345678"  # NT
    assert message.nts == "ssdp:alive"
    assert message.location == "http://240.0.1.0/rootDesc.xml"
    assert message.server == "Universal Scanner/0.0, Virtual/1.0"
    assert ssdp.max_age(message) == 1810


def test_lf_only_lines_and_body_after_blank_line() -> None:
    data = b"HTTP/1.1 200 OK\nST: upnp:rootdevice\nLOCATION: http://x/\n\nX-Not: header\n"
    message = ssdp.parse_message(data)
    assert message.st == "upnp:rootdevice"
    assert message.header("x-not") is None


def test_msearch_round_trips() -> None:
    data = ssdp.build_msearch("upnp:rootdevice", 3)
    assert data == (
        b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
        b'MAN: "ssdp:discover"\r\nMX: 3\r\nST: upnp:rootdevice\r\n\r\n'
    )
    message = ssdp.parse_message(data)
    assert message.kind == "msearch"
    assert message.st == "upnp:rootdevice"
    assert message.header("man") == '"ssdp:discover"'


@pytest.mark.parametrize(
    ("st_value", "mx"), [("a b", 2), ("x\r\nEvil: 1", 2), ("ok", 0), ("ok", 6)]
)
def test_msearch_refuses_bad_values(st_value: str, mx: int) -> None:
    with pytest.raises(ValueError, match="must"):
        ssdp.build_msearch(st_value, mx)


@given(st.sampled_from(["ssdp:all", "upnp:rootdevice", "urn:schemas-upnp-org:device:Basic:1"]))
@FUZZ
def test_msearch_default_mx(st_value: str) -> None:
    assert ssdp.parse_message(ssdp.build_msearch(st_value)).header("mx") == "2"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("max-age=60", 60), ("no-cache, max-age = 5", 5), ("max-age=abc", None), ("", None)],
)
def test_max_age(value: str, expected: int | None) -> None:
    message = ssdp.parse_message(f"HTTP/1.1 200 OK\r\nCache-Control: {value}\r\n\r\n".encode())
    assert ssdp.max_age(message) == expected


@pytest.mark.parametrize("nasty", NASTY)
def test_control_characters_in_headers_come_out_clean(nasty: str) -> None:
    data = f"HTTP/1.1 200 OK\r\nSERVER: {nasty}\r\nX-{nasty}: v\r\n\r\n".encode()
    assert_clean(ssdp.parse_message(data))


def test_header_count_is_capped() -> None:
    lines = "".join(f"X-H{i}: {i}\r\n" for i in range(MAX_LIST_ITEMS + 50))
    message = ssdp.parse_message(f"HTTP/1.1 200 OK\r\n{lines}\r\n".encode())
    assert len(message.headers) == MAX_LIST_ITEMS


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", MalformedError),
        (b"GET / HTTP/1.1\r\n\r\n", MalformedError),
        (b"HTTP/1.1 OK\r\n\r\n", MalformedError),
        (b"NOTIFY /x HTTP/1.1\r\n\r\n", MalformedError),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * MAX_SSDP_MESSAGE, OversizeError),
    ],
)
def test_broken_messages_raise(data: bytes, error: type) -> None:
    with pytest.raises(error):
        ssdp.parse_message(data)


def test_axis_description() -> None:
    description = ssdp.parse_description(fixture("ssdp", "axis_m1014_description.xml"))
    assert description == ssdp.UpnpDescription(
        device_type="urn:schemas-upnp-org:device:Basic:1",
        friendly_name="AXIS M1014 - ACCC8E270AD8",
        manufacturer="AXIS",
        manufacturer_url="http://www.axis.com/",
        model_name="AXIS M1014",
        model_number="M1014",
        model_description="AXIS M1014 Fixed Network Camera",
        model_url="http://www.axis.com/",
        serial="ACCC8E270AD8",
        udn="uuid:Upnp-BasicDevice-1_0-ACCC8E270AD8",
        presentation_url="http://192.168.1.102:80/",
    )


def test_embedded_devices_are_listed_up_to_the_cap() -> None:
    embedded = "".join(
        f"<device><deviceType>urn:x:device:Sub{i}:1</deviceType></device>"
        for i in range(MAX_LIST_ITEMS + 5)
    )
    xml = (
        '<root xmlns="urn:schemas-upnp-org:device-1-0"><device>'
        "<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>"
        "<manufacturer>Example</manufacturer>"
        f"<deviceList>{embedded}</deviceList></device></root>"
    )
    description = ssdp.parse_description(xml.encode())
    assert description.manufacturer == "Example"
    assert len(description.embedded_device_types) == MAX_LIST_ITEMS
    assert description.embedded_device_types[0] == "urn:x:device:Sub0:1"
    # The root's fields are its own, not an embedded device's.
    assert description.device_type == "urn:schemas-upnp-org:device:InternetGatewayDevice:1"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"<root/>", MalformedError),
        (b"<html><body>login</body></html>", MalformedError),
        (b"<root><device>", MalformedXmlError),
        (b"<root>" + b" " * ssdp.MAX_DESCRIPTION + b"</root>", OversizeError),
    ],
)
def test_broken_descriptions_raise(data: bytes, error: type) -> None:
    with pytest.raises(error):
        ssdp.parse_description(data)
