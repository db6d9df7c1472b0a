"""A small real disk for tests of a full disk: a tmpfs mounted under the test's directory."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PAGE = 4096


@contextmanager
def small_tmpfs(mount: Path, size: str = "1m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``mount`` (created), private to root; unmount after."""
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free block of ``disk``; return the filler file (delete it to free them).

    Unbuffered: a buffered file would try the failed write again when it is
    closed (Python 3.11 does; 3.13 drops the buffer) and raise ENOSPC there.
    """
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * PAGE)
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
    return filler
