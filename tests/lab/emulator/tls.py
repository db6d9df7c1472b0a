"""A self-signed TLS certificate made at start-up (cryptography loaded lazily)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from pathlib import Path
from typing import Final

ATTRIBUTES: Final = ("CN", "OU", "O", "L", "ST", "C", "emailAddress")


def parse_subject(text: str) -> list[tuple[str, str]]:
    """Split ``CN=a,OU=b,O=c`` (backslash-escaped commas allowed) into pairs."""
    pairs: list[tuple[str, str]] = []
    current = ""
    escaped = False
    parts: list[str] = []
    for char in text:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    for part in parts:
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in ATTRIBUTES:
            raise ValueError(f"unsupported subject attribute in {text!r}")
        pairs.append((key, value.strip()))
    return pairs


def make_context(subject: str | None, ip: str) -> ssl.SSLContext:
    """A server SSLContext with a fresh self-signed certificate for ``subject``.

    The PEM files exist only while ``load_cert_chain`` reads them, so nothing is
    left in /tmp even if the emulator is killed.
    """
    # Imported here: only TLS profiles pay for cryptography's memory.
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    oids = {
        "CN": NameOID.COMMON_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "L": NameOID.LOCALITY_NAME,
        "ST": NameOID.STATE_OR_PROVINCE_NAME,
        "C": NameOID.COUNTRY_NAME,
        "emailAddress": NameOID.EMAIL_ADDRESS,
    }
    pairs = parse_subject(subject) if subject else [("CN", ip)]
    name = x509.Name([x509.NameAttribute(oids[k], v) for k, v in pairs])
    # EC P-256 keeps start-up fast; the subject is what fingerprints look at.
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="emu-tls-") as tmp:
        cert_path = Path(tmp) / "cert.pem"
        key_path = Path(tmp) / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context.load_cert_chain(cert_path, key_path)
    return context
