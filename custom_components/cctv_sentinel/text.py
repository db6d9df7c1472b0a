"""Device strings made safe for where they are shown.

A camera's brand, model or firmware is whatever the device (or anyone on the LAN
pretending to be one) says. Wherever such a string reaches a person it is plain
text: control, bidirectional and invisible formatting characters are removed
(they can reorder or hide what is shown), and where the text is rendered as
markdown (repair dialogs, notifications) markup and link syntax lose their meaning.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

MAX_SHOWN: Final = 120
"""Longest device string shown in a name or sentence; the rest is cut with an ellipsis."""

_SPACE: Final = re.compile(r"\s+")
_MARKDOWN: Final = re.compile(r"([\\`*_\[\]<>|~!&#])")
"""Characters that start markdown or HTML syntax anywhere in a line (escaped with a backslash)."""
_AUTOLINK: Final = re.compile(r"(?i)(?<=[a-z0-9])(:)(?=//)|(?<=www)(\.)|(@)")
"""What turns plain text into a link in GitHub-flavoured markdown: scheme://, www., e-mail."""


def plain(value: str | None, max_len: int = MAX_SHOWN) -> str:
    """One line of visible text: no control, format or bidi characters, spaces collapsed."""
    if not value:
        return ""
    kept = "".join(
        " " if unicodedata.category(char) in ("Cc", "Zl", "Zp") else char
        for char in value
        # Cf: format characters (RLO, LRI, zero-width joiners...), Co/Cs: private, surrogates.
        if unicodedata.category(char) not in ("Cf", "Co", "Cs", "Cn")
    )
    text = _SPACE.sub(" ", kept).strip()
    if len(text) > max_len:
        text = text[: max_len - 1].rstrip() + "…"
    return text


def markdown(value: str | None, max_len: int = MAX_SHOWN) -> str:
    """Plain text that reads the same when Home Assistant renders it as markdown."""
    text = _MARKDOWN.sub(r"\\\1", plain(value, max_len))
    return _AUTOLINK.sub(lambda match: "\\" + match.group(0), text)
