"""Reading the files a person gives us (config, credentials, policy, catalogue): bounded.

Every failure is one line naming the file and what is wrong, raised as the
caller's error class (``ConfigError`` unless told otherwise), never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cctv_sentinel.errors import ConfigError, SentinelError


def read_text(
    path: Path, *, what: str, max_bytes: int, error: type[SentinelError] = ConfigError
) -> str:
    """The UTF-8 text of ``path``, refusing anything larger than ``max_bytes``."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{what} {path} is larger than {_size(max_bytes)}")
        data = path.read_bytes()[: max_bytes + 1]
    except OSError as err:
        raise error(f"cannot read {what} {path}: {err.strerror or err}") from err
    if len(data) > max_bytes:  # it grew between stat() and read()
        raise error(f"{what} {path} is larger than {_size(max_bytes)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{what} {path} is not UTF-8 text") from err


def load_yaml(
    path: Path, *, what: str, max_bytes: int, error: type[SentinelError] = ConfigError
) -> Any:
    """The YAML document in ``path`` (None when empty), read with a safe loader.

    PyYAML is imported here, lazily: only commands given a file need it, and
    its import costs tens of milliseconds. libyaml's C loader, when PyYAML has
    it, is about ten times faster than the pure-Python one; both are safe.
    """
    text = read_text(path, what=what, max_bytes=max_bytes, error=error)
    import yaml  # noqa: PLC0415  (lazy, see above)

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506  (a safe loader, see above)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "syntax error"
        raise error(f"{what} {path} is not valid YAML{where}: {problem}") from err


def load_yaml_mapping(
    path: Path, *, what: str, max_bytes: int, error: type[SentinelError] = ConfigError
) -> dict[str, Any]:
    """Like :func:`load_yaml`, for files that must hold a mapping (an empty file is ``{}``)."""
    data = load_yaml(path, what=what, max_bytes=max_bytes, error=error)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{what} {path} must hold a mapping, not {_kind(data)}")
    return data


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n // 1024} KiB"


def _kind(value: Any) -> str:
    return {list: "a list", str: "text", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
