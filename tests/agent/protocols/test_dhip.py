"""Dahua DHIP discovery: the framing, the search request and device replies."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cctv_sentinel.errors import MalformedError, OversizeError, TruncatedError
from cctv_sentinel.limits import MAX_DHIP_MESSAGE, MAX_JSON_DEPTH
from cctv_sentinel.protocols import dhip
from cctv_sentinel.protocols.text import clean_or_none

from ._support import FUZZ, NASTY, assert_clean, fixture

# fixture -> (mac, class, model, serial, firmware, manufacturer, vendor,
#             http_port, port, ipv4, mask, gateway, dhcp, video_inputs)
EXPECTED = {
    "ipc-hdw5421s_notifydevinfo.bin": (
        "4c:11:bf:c2:0b:9d", "IPC", "IPC-HDW5421S", "1F006E4PAX00075", "2.400.0.8",
        "Private", "Dahua", 80, 37777, "218.5.136.140", "255.255.255.0",
        "218.5.136.1", False, 1,
    ),
    "intelbras_ss3530_notifydevinfo.bin": (
        "b4:4c:3b:f4:e3:01", "BSC", "SS 3530 MF FACE W", "K3LJ3400209RH",
        "2.000.00IB004.0.R", "Intelbras", "Intelbras", 80, 37777, "192.168.3.175",
        "255.255.255.0", "192.168.3.1", True, 1,
    ),
    "intelbras_mhdx1016_notifydevinfo.bin": (
        "58:10:8c:4d:3b:fa", "MHDX", "MHDX 1016", "O9RF220012635", "3.210.IB01.3",
        "Intelbras", "Intelbras", 1101, 1102, "192.168.15.110", "255.255.255.0",
        "192.168.15.1", False, 16,
    ),
    "lorex_w461asc_notifydevinfo.bin": (
        "00:1f:54:a9:2e:58", "IPC", "W461ASC", "**************", "2.800.030000000.3.R",
        "Private", "Lorex", 80, 35000, "192.168.86.81", "255.255.255.0",
        "192.168.86.1", True, 1,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reply_fixtures(name: str) -> None:
    device = dhip.parse_message(fixture("dhip", name))
    assert isinstance(device, dhip.DhipDevice)
    assert device.method == "client.notifyDevInfo"
    got = (
        device.mac, device.device_class, device.model, device.serial, device.firmware,
        device.manufacturer, device.vendor, device.http_port, device.port, device.ipv4,
        device.ipv4_mask, device.ipv4_gateway, device.dhcp, device.video_inputs,
    )  # fmt: skip
    assert got == EXPECTED[name]
    assert device.https_port is None
    assert_clean(device)


def test_universalscanner_selftest_is_broken_json_and_raises() -> None:
    # Its "Version" value is missing a closing quote: real tools that grep
    # for keys accept it, a JSON parser must not.
    with pytest.raises(MalformedError):
        dhip.parse_message(fixture("dhip", "universalscanner_selftest.bin"))


def test_public_search_request_with_total_length_in_the_header() -> None:
    # A 62-byte request from a public advisory: its length fields hold the
    # whole frame length (62), not the body's (30). It must still parse.
    request = dhip.parse_message(fixture("dhip", "amplification_search_request.bin"))
    assert request == dhip.DhipRequest("DHDiscover.search")


def test_search_has_the_documented_header() -> None:
    data = dhip.build_search()
    body = b'{"method":"DHDiscover.search","params":{"mac":"","uni":1}}'
    assert data[:4] == b"\x20\x00\x00\x00"
    assert data[4:8] == b"DHIP"
    assert data[8:16] == bytes(8)
    assert struct.unpack_from("<I", data, 16)[0] == len(body)
    assert data[20:24] == bytes(4)
    assert struct.unpack_from("<I", data, 24)[0] == len(body)
    assert data[28:32] == bytes(4)
    assert data[32:] == body
    assert json.loads(data[32:]) == {
        "method": "DHDiscover.search",
        "params": {"mac": "", "uni": 1},
    }
    assert dhip.parse_message(data) == dhip.DhipRequest("DHDiscover.search")


def test_request_id_goes_to_offset_12() -> None:
    data = dhip.build_search(request_id=7)
    assert struct.unpack_from("<II", data, 8) == (0, 7)


def test_a_body_of_123_bytes_is_not_misread_from_the_header() -> None:
    # 123 == ord("{"): a naive find(b"{") would start inside the header.
    info = {"DeviceType": "IPC-X", "SerialNo": "S"}
    payload = {"method": "client.notifyDevInfo", "params": {"deviceInfo": info}}
    body = json.dumps(payload).encode()
    body += b" " * (123 - len(body))
    assert len(body) == 123
    device = dhip.parse_message(dhip.build_frame(body))
    assert isinstance(device, dhip.DhipDevice)
    assert device.model == "IPC-X"


def test_header_length_varies_and_bare_json_is_read() -> None:
    body = b'{"method":"client.notifyDevInfo","params":{"deviceInfo":{"SerialNo":"A"}}}'
    for header_length in (24, 32, 40):
        head = struct.pack("<I4s", header_length, b"DHIP") + bytes(header_length - 8)
        device = dhip.parse_message(head + body)
        assert isinstance(device, dhip.DhipDevice)
        assert device.serial == "A"
    device = dhip.parse_message(body + b"\x00\x00\r\n")
    assert isinstance(device, dhip.DhipDevice)
    assert device.serial == "A"


def test_mac_in_device_info_and_string_numbers() -> None:
    info = {
        "Mac": "3C-EF-8C-00-00-01",
        "HttpPort": "8080",
        "HttpsPort": 443,
        "Port": True,
        "VideoInputChannels": 99999,
        "IPv4Address": {"DhcpEnable": "true", "IPAddress": "0.0.0.0"},
    }
    body = json.dumps({"method": "client.notifyDevInfo", "params": {"deviceInfo": info}})
    device = dhip.parse_message(dhip.build_frame(body.encode()))
    assert isinstance(device, dhip.DhipDevice)
    assert device.mac == "3c:ef:8c:00:00:01"
    assert device.http_port == 8080
    assert device.https_port == 443
    assert device.port is None  # a boolean is not a port
    assert device.video_inputs is None
    assert device.dhcp is True
    assert device.ipv4 is None


@given(
    st.dictionaries(
        st.sampled_from(["DeviceType", "SerialNo", "Vendor", "MachineName", "Version"]),
        st.text(max_size=40),
    )
)
@FUZZ
def test_any_reply_round_trips_through_build_frame(info: dict[str, str]) -> None:
    payload = {"method": "client.notifyDevInfo", "params": {"deviceInfo": info}}
    device = dhip.parse_message(dhip.build_frame(json.dumps(payload).encode()))
    assert isinstance(device, dhip.DhipDevice)
    assert_clean(device)
    if "DeviceType" in info:
        assert device.model == clean_or_none(info["DeviceType"])


@pytest.mark.parametrize("nasty", NASTY)
def test_escape_sequences_in_json_strings_come_out_clean(nasty: str) -> None:
    info = {"DeviceType": nasty, "Vendor": nasty, "MachineName": nasty}
    body = json.dumps({"method": "client.notifyDevInfo", "params": {"deviceInfo": info}})
    device = dhip.parse_message(dhip.build_frame(body.encode()))
    assert_clean(device)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}",
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b"{" + b"[" * 15000,
    ],
)
def test_json_nesting_bombs_are_refused(body: bytes) -> None:
    with pytest.raises(OversizeError):
        dhip.parse_message(body)


def test_nesting_up_to_the_limit_is_parsed() -> None:
    depth = MAX_JSON_DEPTH - 1  # plus the outer object
    body = b'{"method":"x","a":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(MalformedError, match="deviceInfo"):
        dhip.parse_message(body)


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    info = {"DeviceType": "[" * 100 + "{" * 100 + '\\"[', "SerialNo": "x"}
    body = json.dumps({"method": "client.notifyDevInfo", "params": {"deviceInfo": info}})
    device = dhip.parse_message(dhip.build_frame(body.encode()))
    assert isinstance(device, dhip.DhipDevice)
    assert device.serial == "x"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", MalformedError),
        (b"\xff", MalformedError),
        (b"DHIP no json", MalformedError),
        (b'{"method":NaN}', MalformedError),
        (b'{"method":"x","n":Infinity}', MalformedError),
        (b'{"n":' + b"9" * 5000 + b"}", MalformedError),
        (b"[1,2,3]", MalformedError),
        (b'{"method":1}', MalformedError),
        (b'{"method":"client.notifyDevInfo","params":[]}', MalformedError),
        (b'{"method":"client.notifyDevInfo","params":{"deviceInfo":"x"}}', MalformedError),
        (b"\x20\x00\x00\x00DHIP\x00", TruncatedError),
        (b"{" + b" " * MAX_DHIP_MESSAGE, OversizeError),
    ],
)
def test_broken_input_raises(data: bytes, error: type) -> None:
    with pytest.raises(error):
        dhip.parse_message(data)


def test_a_cut_body_is_reported_as_truncated() -> None:
    frame = dhip.build_frame(fixture("dhip", "ipc-hdw5421s_notifydevinfo.bin")[32:])
    with pytest.raises(TruncatedError):
        dhip.parse_message(frame[:-40])


def test_duplicate_keys_are_harmless() -> None:
    body = (
        b'{"method":"client.notifyDevInfo","params":{"deviceInfo":'
        b'{"SerialNo":"first","SerialNo":"second"}}}'
    )
    device = dhip.parse_message(body)
    assert isinstance(device, dhip.DhipDevice)
    assert device.serial in {"first", "second"}


def test_build_frame_refuses_oversize_bodies() -> None:
    with pytest.raises(ValueError, match="too large"):
        dhip.build_frame(b" " * MAX_DHIP_MESSAGE)
