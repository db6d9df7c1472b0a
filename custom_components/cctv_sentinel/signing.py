"""Signed commands (docs/security.md): HMAC-SHA256 over the topic and the command's canonical JSON.

An agent configured with the same shared secret obeys only commands signed
with it. What is signed: ``cctv-sentinel command v1``, the command topic and the
command's canonical JSON (keys sorted, no white space, UTF-8) with its
``sent_at`` time and ``nonce`` but without ``signature``. The topic binds a
command to one agent; the time and the nonce let the agent refuse stale and
replayed commands. Pure: no Home Assistant, no clock, no randomness of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

CONTEXT: Final = b"cctv-sentinel command v1"
MIN_SECRET_LENGTH: Final = 16
"""The agent refuses shorter secrets too (``openssl rand -hex 32`` makes 64 characters)."""


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """The byte form both sides sign (RFC 8785 for the values a command holds)."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def signature(data: Mapping[str, Any], *, topic: str, secret: str) -> str:
    """HMAC-SHA256 (lower-case hex) of a command without ``signature``, for its topic."""
    unsigned = {key: value for key, value in data.items() if key != "signature"}
    message = CONTEXT + b"\n" + topic.encode("utf-8") + b"\n" + canonical_json(unsigned)
    return hmac.new(secret.strip().encode("utf-8"), message, hashlib.sha256).hexdigest()


def stamp(payload: Mapping[str, Any], *, now: float) -> dict[str, Any]:
    """The command with its ``sent_at`` time (the agent refuses it once too old)."""
    return {**payload, "sent_at": datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="seconds")}


def sign(
    payload: Mapping[str, Any], *, topic: str, secret: str, now: float, nonce: str
) -> dict[str, Any]:
    """The command with ``sent_at``, ``nonce`` and its ``signature``."""
    signed = {**stamp(payload, now=now), "nonce": nonce}
    signed["signature"] = signature(signed, topic=topic, secret=secret)
    return signed
