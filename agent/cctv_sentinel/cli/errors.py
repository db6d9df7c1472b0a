"""Exit codes and the one place that turns failures into a line on stderr.

Exit codes: 0 nothing restricted found (or done), 1 a restricted camera found,
2 bad usage, configuration, input or environment, 3 a safety rail refused,
130 interrupted. Every :class:`~cctv_sentinel.errors.SentinelError` becomes one
line ``cctv-sentinel: error: ...``; anything else becomes one line that says it
is an internal error (``--debug`` shows the traceback).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Final

from cctv_sentinel.errors import SentinelError

PROG: Final = "cctv-sentinel"
EXIT_OK: Final = 0
EXIT_RESTRICTED: Final = 1
EXIT_USAGE: Final = 2
EXIT_REFUSED: Final = 3
EXIT_INTERRUPTED: Final = 130


def say(line: str) -> None:
    """One line for a person on stderr, prefixed with the program's name."""
    sys.stderr.write(f"{PROG}: {line}\n")


@contextlib.contextmanager
def handle_errors(debug: bool) -> Iterator[None]:
    """Turn every failure into one line on stderr and an exit code."""
    try:
        yield
    except SentinelError as err:
        say(f"error: {err}")
        raise SystemExit(err.exit_code) from None
    except KeyboardInterrupt:
        say("interrupted")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except (SystemExit, GeneratorExit):
        raise
    except Exception as err:
        if debug:
            raise
        say(f"internal error: {type(err).__name__}: {err} (run with --debug for details)")
        raise SystemExit(EXIT_USAGE) from None
