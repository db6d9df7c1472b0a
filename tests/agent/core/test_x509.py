"""Certificate names read from real DER certificates (made here with cryptography)."""

from __future__ import annotations

import datetime as dt

import pytest

from cctv_sentinel.errors import ProtocolError
from cctv_sentinel.protocols.x509 import parse_names

x509 = pytest.importorskip("cryptography.x509")
hashes = pytest.importorskip("cryptography.hazmat.primitives.hashes")
ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")
serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
NameOID = x509.oid.NameOID


def make_cert(
    subject: list[tuple[object, str]], issuer: list[tuple[object, str]] | None = None
) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subj = x509.Name([x509.NameAttribute(oid, value) for oid, value in subject])
    iss = x509.Name([x509.NameAttribute(oid, value) for oid, value in (issuer or subject)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subj)
        .issuer_name(iss)
        .public_key(key.public_key())
        .serial_number(1234)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_hikvision_style_self_signed_names() -> None:
    # The subject shape Recog lists for Hikvision DVR/NVR certificates (x509_subjects.xml).
    der = make_cert(
        [
            (NameOID.COUNTRY_NAME, "CN"),
            (NameOID.STATE_OR_PROVINCE_NAME, "ZheJiang"),
            (NameOID.LOCALITY_NAME, "HangZhou"),
            (NameOID.ORGANIZATION_NAME, "HIKVISION"),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, "DVRNVR"),
            (NameOID.COMMON_NAME, "www.hikvision.com"),
        ]
    )
    names = parse_names(der)
    assert names.subject == "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"
    assert names.issuer == names.subject


def test_issuer_differs_and_control_characters_are_removed() -> None:
    der = make_cert(
        [(NameOID.COMMON_NAME, "cam\x1b[31m-01"), (NameOID.ORGANIZATION_NAME, "Acme, Inc")],
        [(NameOID.COMMON_NAME, "Acme CA")],
    )
    names = parse_names(der)
    assert names.subject == "O=Acme\\, Inc,CN=cam[31m-01"
    assert names.issuer == "CN=Acme CA"


@pytest.mark.parametrize("cut", [0, 1, 5, 40, 200])
def test_truncated_certificates_raise_protocol_errors(cut: int) -> None:
    der = make_cert([(NameOID.COMMON_NAME, "x")])
    with pytest.raises(ProtocolError):
        parse_names(der[:cut])


def test_oversize_and_garbage_raise_protocol_errors() -> None:
    with pytest.raises(ProtocolError):
        parse_names(b"\x30\x82" + b"\xff" * 20_000)
    with pytest.raises(ProtocolError):
        parse_names(b"\x04\x03abc")
