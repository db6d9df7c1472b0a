"""Logging set-up: stderr only, device strings already clean, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys

_SECRET_PATTERNS = (
    re.compile(r"(?i)(password|passwd|pwd|secret|token)(\s*[=:]\s*|\"\s*:\s*\")([^\s,\"&]+)"),
    re.compile(r"(?i)(authorization:\s*)(\S+\s+)?\S+"),
    re.compile(r"(?i)(<(?:\w+:)?Password[^>]*>)[^<]*"),
    re.compile(r"(mqtts?://[^:/@\s]+:)[^@\s]+(@)"),
)


def redact(text: str) -> str:
    """Replace anything that looks like a password, token or credential with ***."""
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}***", text)
    text = _SECRET_PATTERNS[2].sub(lambda m: f"{m.group(1)}***", text)
    return _SECRET_PATTERNS[3].sub(lambda m: f"{m.group(1)}***{m.group(2)}", text)


class RedactingFilter(logging.Filter):
    """A last line of defence: redact secrets from every formatted record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with secrets redacted."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_QUIET_LIBRARIES = ("aiohttp", "asyncio")


def setup_logging(verbosity: int, *, traffic: bool = False) -> None:
    """Log to stderr: warnings by default, info with -v, debug with -vv.

    Raw packet logs (``cctv_sentinel.traffic.*``) stay off unless ``traffic``.
    """
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("cctv_sentinel.traffic").setLevel(
        logging.DEBUG if traffic else logging.WARNING
    )
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
