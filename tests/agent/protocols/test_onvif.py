"""ONVIF device service: envelopes we build, answers and faults we read."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cctv_sentinel.errors import MalformedError, MalformedXmlError, OversizeError
from cctv_sentinel.limits import MAX_LIST_ITEMS, MAX_SOAP_RESPONSE
from cctv_sentinel.protocols import _xml, onvif

from ._support import FUZZ, NASTY, assert_clean, fixture

SOAP = "{http://www.w3.org/2003/05/soap-envelope}"
TDS = "{http://www.onvif.org/ver10/device/wsdl}"
WSSE = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd}"


@pytest.mark.parametrize(
    ("builder", "operation"),
    [
        (onvif.build_get_system_date_and_time, "GetSystemDateAndTime"),
        (onvif.build_get_device_information, "GetDeviceInformation"),
        (onvif.build_get_network_interfaces, "GetNetworkInterfaces"),
    ],
)
def test_builders_make_soap12_envelopes(builder: object, operation: str) -> None:
    assert callable(builder)
    root = _xml.parse(builder(), MAX_SOAP_RESPONSE)
    assert root.tag == f"{SOAP}Envelope"
    assert root.find(f"{SOAP}Header") is None
    body = root.find(f"{SOAP}Body")
    assert body is not None
    (request,) = list(body)
    assert request.tag == f"{TDS}{operation}"


def test_request_with_username_token() -> None:
    nonce = bytes(range(16))
    created = "2026-07-19T06:14:02Z"
    data = onvif.build_request(
        onvif.GET_DEVICE_INFORMATION,
        username="admin<&>",
        password="s3cret",
        nonce=nonce,
        created=created,
    )
    root = _xml.parse(data, MAX_SOAP_RESPONSE)
    token = root.find(f"{SOAP}Header/{WSSE}Security/{WSSE}UsernameToken")
    assert token is not None
    assert _xml.text(token, "Username") == "admin<&>"
    expected = base64.b64encode(
        hashlib.sha1(nonce + created.encode() + b"s3cret", usedforsecurity=False).digest()
    ).decode()
    password = _xml.child(token, "Password")
    assert password is not None
    assert password.text == expected
    assert (password.get("Type") or "").endswith("#PasswordDigest")
    assert _xml.text(token, "Nonce") == base64.b64encode(nonce).decode()
    assert _xml.text(token, "Created") == created
    assert b"s3cret" not in data  # only the digest travels


def test_password_digest_matches_the_onvif_programmers_guide() -> None:
    # The worked example of the ONVIF Application Programmer's Guide (2011), 6.1.1.3:
    # Nonce LKqI6G/AikKCQrN0zqZFlg==, Created 2010-09-16T07:50:45Z, password "userpassword".
    nonce = base64.b64decode("LKqI6G/AikKCQrN0zqZFlg==")
    digest = onvif.password_digest(nonce, "2010-09-16T07:50:45Z", "userpassword")
    assert digest == "tuOSpGlFlIXsozq4HFNeeGeFLEI="


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (dt.datetime(2010, 9, 16, 7, 50, 45, 999_999, tzinfo=dt.UTC), "2010-09-16T07:50:45Z"),
        (dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "0999-01-02T03:04:05Z"),
        (
            dt.datetime(2026, 7, 19, 8, 14, 2, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-07-19T06:14:02Z",
        ),
    ],
)
def test_created_text_is_utc_whole_seconds_and_accepted(moment: dt.datetime, text: str) -> None:
    assert onvif.created_text(moment) == text
    # build_request accepts what created_text writes (it checks the form).
    onvif.build_request(
        onvif.GET_DEVICE_INFORMATION, username="a", password="b", nonce=b"n", created=text
    )


def test_request_without_credentials_has_no_header() -> None:
    data = onvif.build_request(
        onvif.GET_NETWORK_INTERFACES, username=None, password="x", nonce=b"", created=""
    )
    assert data == onvif.build_get_network_interfaces()


@pytest.mark.parametrize(
    ("nonce", "created"),
    [(b"", "2026-01-01T00:00:00Z"), (b"x" * 65, "2026-01-01T00:00:00Z"), (b"n", "yesterday")],
)
def test_request_refuses_bad_token_values(nonce: bytes, created: str) -> None:
    with pytest.raises(ValueError, match="must"):
        onvif.build_request(
            "<tds:GetDeviceInformation/>", username="u", password="p", nonce=nonce, created=created
        )


def test_system_date_and_time() -> None:
    moment = onvif.parse_system_date_and_time(fixture("onvif", "system_date_and_time.xml"))
    assert moment == dt.datetime(2026, 7, 19, 6, 14, 2, tzinfo=dt.UTC)


def _date_response(utc: str) -> bytes:
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl"'
        ' xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>'
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        f"{utc}</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        "</s:Body></s:Envelope>"
    ).encode()


def _utc(y: str, mo: str, d: str, h: str, mi: str, s: str) -> str:
    return (
        f"<tt:UTCDateTime><tt:Time><tt:Hour>{h}</tt:Hour><tt:Minute>{mi}</tt:Minute>"
        f"<tt:Second>{s}</tt:Second></tt:Time><tt:Date><tt:Year>{y}</tt:Year>"
        f"<tt:Month>{mo}</tt:Month><tt:Day>{d}</tt:Day></tt:Date></tt:UTCDateTime>"
    )


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ("", None),  # only local time reported
        (_utc("2024", "2", "30", "0", "0", "0"), None),
        (_utc("2024", "13", "1", "0", "0", "0"), None),
        (_utc("2024", "1", "1", "x", "0", "0"), None),
        (
            _utc("2016", "12", "31", "23", "59", "60"),
            dt.datetime(2016, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
        ),
        (_utc("1970", "1", "1", "0", "0", "0"), dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
    ],
)
def test_odd_dates_become_none(utc: str, expected: dt.datetime | None) -> None:
    assert onvif.parse_system_date_and_time(_date_response(utc)) == expected


@given(st.datetimes(timezones=st.just(dt.UTC)))
@FUZZ
def test_any_valid_date_is_read_back(moment: dt.datetime) -> None:
    parts = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    parsed = onvif.parse_system_date_and_time(_date_response(_utc(*map(str, parts))))
    assert parsed == moment.replace(microsecond=0)


def test_device_information() -> None:
    info = onvif.parse_device_information(fixture("onvif", "device_information_ds-2df7286-a.xml"))
    assert info == onvif.DeviceInformation(
        manufacturer="HIKVISION",
        model="DS-2DF7286-A",
        firmware="V5.1.8 build 140616",
        serial="DS-2DF7286-A20140705CCWR471699220B",
        hardware_id="88",
    )


def test_white_label_device_information_with_hikvision_extension_namespaces() -> None:
    info = onvif.parse_device_information(fixture("onvif", "device_information_ipcam.xml"))
    assert info.manufacturer == "IPCAM"
    assert info.model is None


def test_network_interfaces() -> None:
    eth0, wlan0 = onvif.parse_network_interfaces(fixture("onvif", "network_interfaces.xml"))
    assert eth0 == onvif.NetworkInterface(
        "eth0", "eth0", "b4:a3:82:0f:d9:2d", True, "192.168.0.218"
    )
    assert wlan0 == onvif.NetworkInterface("wlan0", "wlan0", None, False, None)


def test_network_interfaces_are_capped() -> None:
    entries = "".join(
        f'<tds:NetworkInterfaces token="i{i}"><tt:Enabled>true</tt:Enabled></tds:NetworkInterfaces>'
        for i in range(MAX_LIST_ITEMS + 5)
    )
    data = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema">'
        f"<s:Body><tds:GetNetworkInterfacesResponse>{entries}"
        "</tds:GetNetworkInterfacesResponse></s:Body></s:Envelope>"
    ).encode()
    assert len(onvif.parse_network_interfaces(data)) == MAX_LIST_ITEMS


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (
            "fault_notauthorized_quedale.xml",
            "Sender not Authorized. Invalid username or password! You still have 24 attempt(s).",
        ),
        (
            "fault_notauthorized_vivotek.xml",
            "An error was discovered processing the <wsse:Security> header.",
        ),
    ],
)
def test_not_authorized_faults(name: str, reason: str) -> None:
    data = fixture("onvif", name)
    fault = onvif.parse_fault(data)
    assert fault == onvif.SoapFault("Sender", "NotAuthorized", reason, ("NotAuthorized",))
    for parse in (onvif.parse_device_information, onvif.parse_network_interfaces):
        with pytest.raises(onvif.SoapFaultError) as caught:
            parse(data)
        assert caught.value.fault == fault
        assert isinstance(caught.value, MalformedError)
    # A fault to GetSystemDateAndTime means "no date", as the preflight expects.
    assert onvif.parse_system_date_and_time(data) is None


def test_nested_subcodes_and_soap11_faults() -> None:
    soap12 = (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="urn:x">'
        b"<e:Body><e:Fault><e:Code><e:Value>e:Sender</e:Value><e:Subcode>"
        b"<e:Value>ter:InvalidArgVal</e:Value><e:Subcode><e:Value>ter:NoProfile</e:Value>"
        b"</e:Subcode></e:Subcode></e:Code></e:Fault></e:Body></e:Envelope>"
    )
    assert onvif.parse_fault(soap12) == onvif.SoapFault(
        "Sender", "InvalidArgVal", None, ("InvalidArgVal", "NoProfile")
    )
    soap11 = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
        b"<faultcode>s:Client</faultcode><faultstring>Bad Request</faultstring>"
        b"</s:Fault></s:Body></s:Envelope>"
    )
    assert onvif.parse_fault(soap11) == onvif.SoapFault("Client", None, "Bad Request")
    assert onvif.parse_fault(fixture("onvif", "network_interfaces.xml")) is None


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"<html><body>401</body></html>", MalformedError),
        (b'<s:Envelope xmlns:s="urn:s"/>', MalformedError),
        (b'<s:Envelope xmlns:s="urn:s"><s:Body><x/></s:Body></s:Envelope>', MalformedError),
        (b"<s:Envelope", MalformedXmlError),
        (b" " * (MAX_SOAP_RESPONSE + 1), OversizeError),
    ],
)
def test_other_answers_raise(data: bytes, error: type) -> None:
    with pytest.raises(error):
        onvif.parse_device_information(data)


@pytest.mark.parametrize("nasty", [n for n in NASTY if n.isprintable() or "\u202e" in n])
def test_names_come_out_clean(nasty: str) -> None:
    data = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        f"<GetDeviceInformationResponse><Manufacturer>{nasty}</Manufacturer>"
        f"<Model>{nasty}</Model></GetDeviceInformationResponse></s:Body></s:Envelope>"
    ).encode()
    assert_clean(onvif.parse_device_information(data))
