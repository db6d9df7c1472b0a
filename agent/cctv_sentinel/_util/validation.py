"""Voluptuous errors as lines a person can act on: one formatter for config and commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import voluptuous as vol

_PLAIN = {
    "extra keys not allowed": "unknown key",
    "expected dict": "expected a mapping",
    "expected a dictionary": "expected a mapping",
    "required key not provided": "missing",
    "expected str": "expected a string",
    "expected int": "expected an integer",
    "expected bool": "expected true or false",
}


def message(err: vol.Invalid) -> str:
    """What is wrong, in words (``missing``, ``unknown key``, ...)."""
    msg = str(err.msg)
    return _PLAIN.get(msg, msg)


def where(path: Sequence[Any], root: str = "") -> str:
    """A key path as people write it: ``mqtt.tls.ca`` or ``scan.networks[2]``."""
    text = root
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def error_lines(err: vol.Invalid, *, source: str = "", root: str = "") -> list[str]:
    """Every problem in ``err`` as ``source: key.path: what is wrong``, sorted, one per line."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    prefix = f"{source}: " if source else ""
    return sorted({f"{prefix}{where(e.path, root)}: {message(e)}" for e in errors})


def first_error(err: vol.Invalid, *, root: str = "") -> str:
    """The first problem only (for messages that must be one line); no path, no prefix."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    first = sorted(errors, key=lambda e: [str(p) for p in e.path])[0]
    if not first.path and not root:
        return message(first)
    return f"{where(first.path, root)}: {message(first)}"
