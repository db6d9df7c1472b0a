"""The ``isolation:`` config section: defaults, and errors that name the key."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from cctv_sentinel.errors import ConfigError
from cctv_sentinel.isolation.config import settings_from_mapping


def test_an_empty_section_means_dry_run_with_safe_defaults() -> None:
    settings = settings_from_mapping({})
    assert settings.backend_names == ["dry-run"]
    assert settings.default_backend == "dry-run"
    assert settings.default_mode == "internet"
    assert (settings.rate_max, settings.rate_period) == (10, 600.0)
    assert settings.auto_enabled is False
    assert settings.local_networks is None
    assert settings.nftables is None
    assert settings.mikrotik is None


def test_a_full_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "mikrotik.secret"
    secret.write_text("s3cret-value\n", encoding="utf-8")
    settings = settings_from_mapping(
        {
            "default_backend": "nftables",
            "default_mode": "quarantine",
            "never_isolate": ["198.18.0.5", "aa:bb:cc:dd:ee:ff"],
            "quarantine_allow": ["198.18.2.20", "2001:2::/64"],
            "local_networks": ["198.18.0.0/16"],
            "rate_limit": {"max": 3, "period": 60},
            "auto_isolate": {"enabled": True, "mode": "quarantine", "max_per_scan": 2},
            "backends": {
                "nftables": {"table": "site_iso", "family": "bridge"},
                "mikrotik": {
                    "url": "https://198.18.0.1",
                    "username": "sentinel",
                    "password_file": str(secret),
                    "verify_tls": False,
                },
            },
        }
    )
    assert settings.backend_names == ["dry-run", "nftables", "mikrotik"]
    assert settings.quarantine_allow == (
        ipaddress.ip_network("198.18.2.20/32"),
        ipaddress.ip_network("2001:2::/64"),
    )
    assert settings.nftables is not None
    assert settings.nftables.family == "bridge"
    assert settings.mikrotik is not None
    assert settings.mikrotik.base_url == "https://198.18.0.1/rest"
    assert settings.mikrotik.password.reveal() == "s3cret-value"
    assert "s3cret" not in repr(settings)
    monkeypatch.setenv("MT_PASSWORD", "from-env")
    env = settings_from_mapping(
        {
            "backends": {
                "mikrotik": {
                    "url": "http://r/rest/",
                    "username": "u",
                    "password_env": "MT_PASSWORD",
                }
            }
        }
    )
    assert env.mikrotik is not None
    assert env.mikrotik.password.reveal() == "from-env"
    assert env.mikrotik.base_url == "http://r/rest"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"default_mode": "off"}, "isolation.default_mode: expected internet or quarantine"),
        ({"default_backend": "iptables"}, "isolation.default_backend: value must be one of"),
        (
            {"default_backend": "nftables"},
            "isolation.default_backend: backend 'nftables' is not configured",
        ),
        (
            {"never_isolate": ["router"]},
            "isolation.never_isolate[0]: 'router' is not an IP address",
        ),
        ({"quarantine_allow": ["x"]}, "isolation.quarantine_allow[0]: 'x' is not an IP address"),
        ({"rate_limit": {"max": 0}}, "isolation.rate_limit.max: value must be at least 1"),
        (
            {"backends": {"nftables": {"table": "a b"}}},
            "isolation.backends.nftables.table: expected",
        ),
        ({"backends": {"nftables": {"family": "ip"}}}, "isolation.backends.nftables.family"),
        ({"backends": {"pfsense": {}}}, "isolation.backends.pfsense: unknown key"),
        (
            {"backends": {"mikrotik": {"url": "ftp://r", "username": "u", "password_env": "X"}}},
            "isolation.backends.mikrotik.url: expected an http:// or https:// URL",
        ),
        (
            {
                "backends": {
                    "mikrotik": {"url": "https://u:p@r", "username": "u", "password_env": "X"}
                }
            },
            "put the user in 'username'",
        ),
        (
            {"backends": {"mikrotik": {"url": "https://r", "username": "u"}}},
            "isolation.backends.mikrotik: give exactly one of password_file, password_env",
        ),
        (
            {
                "backends": {
                    "mikrotik": {"url": "https://r", "username": "u", "password_env": "NOPE_X"}
                }
            },
            "environment variable NOPE_X is not set",
        ),
        (
            {
                "backends": {
                    "mikrotik": {
                        "url": "https://r",
                        "username": "u",
                        "password_file": "/nonexistent/p",
                    }
                }
            },
            "isolation.backends.mikrotik.password_file: cannot read /nonexistent/p",
        ),
    ],
)
def test_errors_name_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(config)
    assert message in str(caught.value)
