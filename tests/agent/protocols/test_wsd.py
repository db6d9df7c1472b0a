"""WS-Discovery: the Probe we send, and what cameras, PCs and printers answer."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cctv_sentinel.errors import MalformedError, MalformedXmlError, OversizeError
from cctv_sentinel.limits import MAX_LIST_ITEMS, MAX_WSD_MESSAGE
from cctv_sentinel.protocols import wsd

from ._support import FUZZ, NASTY, assert_clean, fixture

# fixture -> (kind, message_id, relates_to, endpoints, is_video per match, host)
EXPECTED = {
    "hikvision_ds-2cd3955fwd_probematches.xml": (
        "probe_matches",
        "urn:uuid:18ec6401-3aa0-11b5-83f6-b4a3820fd92d",
        "uuid:bfe8bb88-03a2-4e1a-904a-59a7d2882649",
        ("urn:uuid:18ec6401-3aa0-11b5-83f6-b4a3820fd92d",),
        (True,),
        "192.168.0.218",
    ),
    "universalscanner_selftest.xml": (
        "probe_matches",
        "urn:uuid:11223344-5566-7788-9900-000000000000",
        "urn:uuid:11223344-5566-7788-9900-000000000001",
        ("urn:uuid:11223344-5566-7788-9900-000000000002",),
        (False,),
        "240.0.2.0",
    ),
    "odm_probe.xml": (
        "probe",
        "urn:uuid:57f2b0be-1787-49f8-ab8b-4567327b23c6",
        None,
        (),
        (),
        None,
    ),
    "ipycam_bare_probematch.xml": (
        "probe_matches",
        "urn:uuid:5f1c2a6e-0b7d-4c1e-9a77-0d3c2b1a0e10",
        "urn:uuid:0a4f113b-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        ("urn:uuid:7d3e1f20-8b4c-4a5d-9e6f-102030405060",),
        (True,),
        "198.18.0.20",
    ),
    "wsdd_windows_probematches.xml": (
        "probe_matches",
        "urn:uuid:4d971368-291c-1218-30f1-deadbeefceb3",
        "urn:uuid:9efa8b17-1787-4e12-ab8b-4567327b23c6",
        ("urn:uuid:deadbeef-ea5c-4b9a-a68d-deadbeefceb3",),
        (False,),
        "1.2.3.131",
    ),
    "printer_probematches.xml": (
        "probe_matches",
        "urn:uuid:9ea97e41-e874-faa7-fe28-deadbeefceb3",
        "urn:uuid:9efa8b17-1787-4e12-ab8b-4567327b23c6",
        ("urn:uuid:16a65700-007c-1000-bb49-deadbeefceb3",),
        (False,),
        "1.2.3.116",
    ),
    "camera_hello.xml": (
        "hello",
        "urn:uuid:c0ffee00-0000-4000-8000-000000000001",
        None,
        ("urn:uuid:18ec6401-3aa0-11b5-83f6-b4a3820fd92d",),
        (True,),
        "198.18.0.30",
    ),
    "camera_bye.xml": (
        "bye",
        "urn:uuid:c0ffee00-0000-4000-8000-000000000002",
        None,
        ("urn:uuid:18ec6401-3aa0-11b5-83f6-b4a3820fd92d",),
        (False,),
        None,
    ),
    "wsdd2009_probematches.xml": (
        "probe_matches",
        "urn:uuid:2a5b6c7d-0000-4000-8000-000000000009",
        "urn:uuid:57f2b0be-1787-49f8-ab8b-4567327b23c6",
        ("urn:uuid:2a5b6c7d-1111-4000-8000-000000000009",),
        (True,),
        "198.18.0.40",
    ),
    "edgex_matching_rule_fault.xml": (
        "other",
        "urn:uuid:4cd6e7f8-0000-4000-8000-000000000134",
        "uuid:a277f13a-ecae-4492-9d6a-218982122d2c",
        (),
        (),
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_the_expected_message(name: str) -> None:
    kind, message_id, relates_to, endpoints, video, host = EXPECTED[name]
    message = wsd.parse_message(fixture("wsd", name))
    assert message.kind == kind
    assert message.message_id == message_id
    assert message.relates_to == relates_to
    assert tuple(m.endpoint for m in message.matches) == endpoints
    assert tuple(wsd.is_video_device(m) for m in message.matches) == video
    hosts = [wsd.host_from_xaddrs(m.xaddrs) for m in message.matches]
    assert (hosts[0] if hosts else None) == host
    assert_clean(message)


def test_hikvision_reply_scopes_and_types() -> None:
    (match,) = wsd.parse_message(fixture("wsd", "hikvision_ds-2cd3955fwd_probematches.xml")).matches
    assert match.types == ("NetworkVideoTransmitter", "Device")
    assert match.metadata_version == 10
    assert match.xaddrs == (
        "http://192.168.0.218/onvif/device_service",
        "http://[fe80::b6a3:82ff:fe0f:d92d]/onvif/device_service",
    )
    # Scopes wrapped over several lines in the capture still split cleanly.
    assert len(match.scopes) == 8
    scopes = wsd.parse_scopes(match.scopes)
    assert scopes.name == "HIKVISION DS-2CD3955FWD-IWS"
    assert scopes.hardware == "DS-2CD3955FWD-IWS"
    assert scopes.location == "city/hangzhou"
    assert scopes.profiles == ("Streaming", "G")
    assert scopes.types == ("video_encoder", "audio_encoder", "ptz")
    assert scopes.mac is None
    assert scopes.manufacturer is None


def test_hello_carries_a_mac_scope_and_device_type_only() -> None:
    (match,) = wsd.parse_message(fixture("wsd", "camera_hello.xml")).matches
    assert match.types == ("Device",)
    assert wsd.is_video_device(match)  # Device + video_encoder scope
    assert wsd.parse_scopes(match.scopes).mac == "b4:a3:82:0f:d9:2d"


def test_ipycam_unencoded_name_breaks_the_scope_list_as_documented() -> None:
    (match,) = wsd.parse_message(fixture("wsd", "ipycam_bare_probematch.xml")).matches
    # "name/Front Door" arrives unencoded; the space splits it (PROTOCOLS.md 3).
    assert wsd.parse_scopes(match.scopes).name == "Front"


def test_the_2009_namespace_is_read_by_local_name() -> None:
    message = wsd.parse_message(fixture("wsd", "wsdd2009_probematches.xml"))
    assert message.action == ("http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/ProbeMatches")
    scopes = wsd.parse_scopes(message.matches[0].scopes)
    assert scopes.location == "country/china"
    assert scopes.types == ("NetworkVideoTransmitter",)


@pytest.mark.parametrize(
    ("types", "scopes", "expected"),
    [
        (("NetworkVideoTransmitter",), (), True),
        (("Device",), ("onvif://www.onvif.org/type/video_encoder",), True),
        (("Device",), ("onvif://www.onvif.org/Profile/Streaming",), True),
        (("NetworkVideoDisplay",), ("ONVIF://WWW.ONVIF.ORG/profile/S",), True),
        (("Device",), ("onvif://www.onvif.org/Profile/C",), False),  # access control
        (("Device",), ("onvif://www.onvif.org/name/Printer",), False),
        (("Device", "PrintDeviceType"), (), False),
        (("Device", "Computer"), ("ldap:///uuid/1234",), False),
        (("Virtual", "Device"), (), False),
        ((), ("onvif://www.onvif.org/type/video_encoder",), False),
    ],
)
def test_is_video_device(types: tuple[str, ...], scopes: tuple[str, ...], expected: bool) -> None:
    match = wsd.WsdMatch(None, types, scopes, (), None)
    assert wsd.is_video_device(match) is expected


def test_parse_scopes_decodes_and_takes_the_first_of_each_key() -> None:
    scopes = wsd.parse_scopes(
        [
            "onvif://www.onvif.org/name/Caf%C3%A9%20Cam",
            "onvif://www.onvif.org/name/second",
            "onvif://www.onvif.org/mfr/HeroSpeed",
            "onvif://www.onvif.org/MAC/00-40-84-F8-96-AB",
            "onvif://www.onvif.org/SerialNumber/ABC123",
            "onvif://www.onvif.org/type/video_encoder",
            "onvif://www.onvif.org/type/video_encoder",
            "onvif://www.onvif.org/name/",
            "onvif://www.onvif.org/location/%E6%9D%AD%E5%B7%9E",
            "http://www.onvif.org/name/not-onvif-scheme",
            "onvif://www.onvif.org/name/%ZZbad",
        ]
    )
    assert scopes.name == "Café Cam"
    assert scopes.manufacturer == "HeroSpeed"
    assert scopes.mac == "00:40:84:f8:96:ab"
    assert scopes.serial == "ABC123"
    assert scopes.types == ("video_encoder",)
    assert scopes.location == "杭州"


@pytest.mark.parametrize("nasty", NASTY)
def test_scope_values_come_out_clean(nasty: str) -> None:
    encoded = urllib.parse.quote(nasty, safe="")
    scopes = wsd.parse_scopes([f"onvif://www.onvif.org/name/{encoded}"])
    assert_clean(scopes)


@pytest.mark.parametrize(
    ("xaddrs", "host"),
    [
        (("http://[fe80::1]/onvif", "http://10.1.2.3:8080/onvif"), "10.1.2.3"),
        (("http://0.0.0.0/onvif", "https://10.0.0.9/x"), "10.0.0.9"),
        (("http://[::1/broken", "http://camera.local/x", "junk"), None),
        (("http://300.1.1.1/x",), None),
        ((), None),
    ],
)
def test_host_from_xaddrs(xaddrs: tuple[str, ...], host: str | None) -> None:
    assert wsd.host_from_xaddrs(xaddrs) == host


def test_probe_round_trips_and_has_the_odm_shape() -> None:
    data = wsd.build_probe("57f2b0be-1787-49f8-ab8b-4567327b23c6")
    assert b'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"' in data
    assert b"<wsdd:Types>dn:NetworkVideoTransmitter</wsdd:Types>" in data
    assert b"urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>" in data
    assert b"/role/anonymous</wsa:Address>" in data
    message = wsd.parse_message(data)
    assert message.kind == "probe"
    assert message.action == wsd.ACTION_PROBE
    assert message.message_id == "urn:uuid:57f2b0be-1787-49f8-ab8b-4567327b23c6"


def test_probe_options() -> None:
    assert b"<wsdd:Probe/>" in wsd.build_probe("urn:uuid:x", None)
    assert b">uuid:abc</wsa:MessageID>" in wsd.build_probe("uuid:abc")
    assert b"<wsdd:Types>tds:Device</wsdd:Types>" in wsd.build_probe("a", "tds:Device")


@pytest.mark.parametrize(
    ("message_id", "types"),
    [
        ("has space", "dn:NetworkVideoTransmitter"),
        ("", "dn:NetworkVideoTransmitter"),
        ("x" * 300, "dn:NetworkVideoTransmitter"),
        ("ok", "<evil/>"),
        ("ok", "dn:A  dn:B"),
    ],
)
def test_probe_refuses_bad_values(message_id: str, types: str) -> None:
    with pytest.raises(ValueError, match="must"):
        wsd.build_probe(message_id, types)


@given(st.uuids())
@FUZZ
def test_any_uuid_round_trips(uuid: object) -> None:
    message = wsd.parse_message(wsd.build_probe(str(uuid)))
    assert message.message_id == f"urn:uuid:{uuid}"


def test_oversize_is_refused_before_parsing() -> None:
    with pytest.raises(OversizeError):
        wsd.parse_message(b"<" * (MAX_WSD_MESSAGE + 1))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"<Envelope/>", MalformedError),
        (b"<x:NotEnvelope xmlns:x='urn:x'><x:Body/></x:NotEnvelope>", MalformedError),
        (b"", MalformedXmlError),
        (b"<Envelope><Body>", MalformedXmlError),
    ],
)
def test_structurally_broken_messages_raise(data: bytes, error: type) -> None:
    with pytest.raises(error):
        wsd.parse_message(data)


def test_kind_falls_back_to_the_action_and_lists_are_capped() -> None:
    many = "".join(
        f"<d:ProbeMatch><d:Types>dn:NetworkVideoTransmitter</d:Types>"
        f"<d:XAddrs>http://10.0.0.{i % 250}/</d:XAddrs></d:ProbeMatch>"
        for i in range(MAX_LIST_ITEMS + 10)
    )
    xml = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
        ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">'
        "<s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/"
        "ProbeMatches</a:Action></s:Header>"
        f"<s:Body><d:Wrapper>{many}</d:Wrapper></s:Body></s:Envelope>"
    )
    message = wsd.parse_message(xml.encode())
    assert message.kind == "probe_matches"
    assert len(message.matches) == MAX_LIST_ITEMS


def test_odd_metadata_version_becomes_none() -> None:
    xml = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Body>'
        "<d:ProbeMatches><d:ProbeMatch><d:MetadataVersion>-1</d:MetadataVersion>"
        "</d:ProbeMatch><d:ProbeMatch><d:MetadataVersion>1e9</d:MetadataVersion>"
        "</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"
    )
    matches = wsd.parse_message(xml.encode()).matches
    assert [m.metadata_version for m in matches] == [None, None]
    assert [m.endpoint for m in matches] == [None, None]


@pytest.mark.parametrize("nasty", NASTY[2:4])
def test_bidi_and_zero_width_in_xml_come_out_clean(nasty: str) -> None:
    xml = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
        ' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Body>'
        f"<d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>{nasty}"
        f"</a:Address></a:EndpointReference><d:Types>a:{nasty}</d:Types>"
        "</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"
    )
    message = wsd.parse_message(xml.encode())
    assert_clean(message)
    assert "\u202e" not in (message.matches[0].endpoint or "")
