"""Hikvision SADP: the inquiry we send and the ProbeMatch devices answer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cctv_sentinel.errors import MalformedError, MalformedXmlError, OversizeError
from cctv_sentinel.limits import MAX_LIST_ITEMS, MAX_SADP_MESSAGE
from cctv_sentinel.protocols import sadp

from ._support import FUZZ, NASTY, assert_clean, fixture


def test_universalscanner_selftest() -> None:
    reply = sadp.parse_message(fixture("sadp", "universalscanner_selftest.xml"))
    assert isinstance(reply, sadp.SadpReply)
    assert reply.uuid == "11223344-5566-7788-9900-112233445566"
    assert reply.types == "inquiry"
    assert reply.device_type == "123456"
    assert reply.model == "Virtual"
    assert reply.serial == "Virtual-123456789"
    assert reply.mac == "00:11:22:33:44:55"
    assert reply.ipv4 == "240.0.5.0"
    assert reply.ipv4_mask == "255.0.0.0"
    assert reply.ipv4_gateway == "240.0.0.1"
    assert reply.ipv6 is None  # "::" means IPv6 is off
    assert (reply.http_port, reply.command_port) == (80, 8000)
    assert reply.firmware == "V1.0build 200101"
    assert reply.dsp_version == "V1.0build 200101"
    assert reply.boot_time == "1970-01-01 00:00:00"
    assert reply.activated is True
    assert reply.dhcp is False
    assert (reply.analog_channels, reply.digital_channels) == (0, 1)
    assert reply.oem_info is None
    extra = dict(reply.extra)
    assert extra["HCPlatformEnable"] == "flase"  # the firmware's own typo, kept raw
    assert extra["IPv6MaskLen"] == "64"
    assert "DeviceSN" not in extra


def test_intercom_reply_with_oem_info() -> None:
    reply = sadp.parse_message(fixture("sadp", "ds-kh6210-l_probematch.xml"))
    assert isinstance(reply, sadp.SadpReply)
    assert reply.model == "DS-KH6210-L"
    assert reply.device_type == "57397"
    assert reply.mac == "aa:bb:cc:aa:bb:cc"
    assert reply.ipv4 == "192.0.0.60"
    assert reply.oem_info == "N/A"
    assert reply.dsp_version == "V1.0, build 180613"
    assert (reply.analog_channels, reply.digital_channels) == (1, 0)
    assert dict(reply.extra) == {"PasswordResetAbility": "true", "DeviceLock": "true"}


def test_inquiry_from_sadptool_is_recognised_as_a_probe() -> None:
    probe = sadp.parse_message(fixture("sadp", "sadptool_inquiry.xml"))
    assert probe == sadp.SadpProbe("7621A503-49E6-4FBA-B3F8-CBE1F18E55F4", "inquiry")


@pytest.mark.parametrize("types", ["inquiry", "inquiry_v32"])
def test_inquiry_round_trips(types: str) -> None:
    data = sadp.build_inquiry("7621a503-49e6-4fba-b3f8-cbe1f18e55f4", types)
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>')
    assert sadp.parse_message(data) == sadp.SadpProbe("7621A503-49E6-4FBA-B3F8-CBE1F18E55F4", types)


@given(st.uuids())
@FUZZ
def test_any_uuid_round_trips(uuid: object) -> None:
    probe = sadp.parse_message(sadp.build_inquiry(str(uuid)))
    assert isinstance(probe, sadp.SadpProbe)
    assert probe.uuid == str(uuid).upper()


@pytest.mark.parametrize(("uuid", "types"), [("x y", "inquiry"), ("abc", "in quiry")])
def test_inquiry_refuses_bad_values(uuid: str, types: str) -> None:
    with pytest.raises(ValueError, match="must"):
        sadp.build_inquiry(uuid, types)


def _reply(**fields: str) -> bytes:
    body = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>{body}</ProbeMatch>'.encode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("TRUE", True), ("False", False), ("1", True), ("flase", None), ("", None)],
)
def test_booleans_in_any_case(raw: str, expected: bool | None) -> None:
    reply = sadp.parse_message(_reply(Activated=raw, DHCP=raw))
    assert isinstance(reply, sadp.SadpReply)
    assert reply.activated is expected
    assert reply.dhcp is expected


def test_odd_values_become_none_and_the_rest_survives() -> None:
    reply = sadp.parse_message(
        _reply(
            DeviceDescription="DS-2CD2143G0-I",
            HttpPort="0",
            CommandPort="99999",
            MAC="not-a-mac",
            IPv4Address="999.1.1.1",
            IPv4SubnetMask="0.0.0.0",
            IPv6Address="fe80::c62f:90ff:feab:cdef/64",
            AnalogChannelNum="-1",
            DigitalChannelNum="9" * 30,
        )
    )
    assert isinstance(reply, sadp.SadpReply)
    assert reply.model == "DS-2CD2143G0-I"
    assert reply.http_port is None
    assert reply.command_port is None
    assert reply.mac is None
    assert reply.ipv4 is None
    assert reply.ipv4_mask is None
    assert reply.ipv6 == "fe80::c62f:90ff:feab:cdef"
    assert reply.analog_channels is None
    assert reply.digital_channels is None


def test_root_and_field_names_are_case_insensitive() -> None:
    data = b"<Probematch><devicedescription>DS-X</devicedescription></Probematch>"
    reply = sadp.parse_message(data)
    assert isinstance(reply, sadp.SadpReply)
    assert reply.model == "DS-X"


def test_extra_is_capped() -> None:
    fields = {f"Field{i}": str(i) for i in range(MAX_LIST_ITEMS + 20)}
    reply = sadp.parse_message(_reply(**fields))
    assert isinstance(reply, sadp.SadpReply)
    assert len(reply.extra) == MAX_LIST_ITEMS


@pytest.mark.parametrize("nasty", [n for n in NASTY if "\x00" not in n])
def test_control_characters_in_names_come_out_clean(nasty: str) -> None:
    # XML forbids raw C0 controls, so those arrive as a parse error; the
    # rest (bidi overrides, zero-width, tag characters) must be cleaned.
    try:
        reply = sadp.parse_message(_reply(DeviceDescription=nasty, OEMInfo=nasty))
    except MalformedXmlError:
        assert any(ord(c) < 0x20 and c not in "\t\n\r" for c in nasty)
        return
    assert_clean(reply)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"<Other/>", MalformedError),
        (b"not xml", MalformedXmlError),
        (b"<ProbeMatch><MAC>", MalformedXmlError),
        (b" " * (MAX_SADP_MESSAGE + 1), OversizeError),
    ],
)
def test_broken_input_raises(data: bytes, error: type) -> None:
    with pytest.raises(error):
        sadp.parse_message(data)
