"""File permissions of secrets and state: who may read them, and how to make them private."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def readable_by_others(path: Path | None) -> bool:
    """True when a user other than the owner (its group or anyone) may read ``path``.

    Worth a warning for any file holding a secret; False when there is no file.
    """
    if path is None:
        return False
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


def warning_if_exposed(path: Path | None) -> str | None:
    """The one-line warning for a secret file others may read, or None."""
    if readable_by_others(path):
        return f"{path} is readable by other users; chmod 600 it"
    return None


def make_private(path: Path) -> None:
    """Create ``path`` if missing and give it mode 0600, whatever the umask."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside a database; it creates them with the database's own mode."""


def make_private_database(path: Path) -> None:
    """Create an SQLite database file 0600 (whatever the umask) and tighten its companions.

    SQLite gives its -wal and -shm files the mode of the database file, so a
    database created private stays private; companions left by an older,
    looser version are tightened too.
    """
    make_private(path)
    for suffix in SQLITE_COMPANIONS:
        companion = Path(f"{path}{suffix}")
        if companion.exists():
            make_private(companion)
