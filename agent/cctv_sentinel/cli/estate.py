"""``report --from-broker URL``: the estate report from every agent's retained state.

The broker is given as a URL (``mqtt[s]://[user@]host[:port]``), with the
password from a file or an environment variable and the TLS settings of an
agent config (``--config``: its ``mqtt`` section is used, nothing else), so one
set of broker options works for ``run`` and for the report alike.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from cctv_sentinel.cli.errors import EXIT_OK, EXIT_RESTRICTED, say
from cctv_sentinel.cli.options import write_output
from cctv_sentinel.errors import UsageError
from cctv_sentinel.estate.model import Targets, build_estate
from cctv_sentinel.estate.reader import read_retained
from cctv_sentinel.report.estate import to_estate_csv, to_estate_html
from cctv_sentinel.service.config import config_from_mapping, read_config_file


def date(text: str) -> dt.date:
    """An ISO date (``2027-03-31``) for argparse."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def regime_target(text: str) -> tuple[str, dt.date]:
    """``REGIME=YYYY-MM-DD`` for argparse."""
    regime, sep, when = text.partition("=")
    if not sep or not regime.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected REGIME=YYYY-MM-DD")
    return regime.strip(), date(when)


def add_estate_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``report --from-broker``."""
    group = parser.add_argument_group("estate (report --from-broker)")
    group.add_argument(
        "--from-broker",
        metavar="URL",
        help="read every agent's retained state from this broker (mqtt[s]://[user@]host[:port])",
    )
    group.add_argument(
        "--config", type=Path, metavar="FILE", help="take TLS and other broker settings from FILE"
    )
    group.add_argument("--password-file", type=Path, metavar="FILE", help="broker password file")
    group.add_argument("--password-env", metavar="VAR", help="broker password from VAR")
    group.add_argument("--base-topic", metavar="TOPIC", help="base topic (default cctv_sentinel)")
    group.add_argument(
        "--target-date", type=date, metavar="DATE", help="removal target for every camera"
    )
    group.add_argument(
        "--target",
        dest="regime_targets",
        type=regime_target,
        action="append",
        default=[],
        metavar="REGIME=DATE",
        help="removal target under one regime (repeatable; the earliest applies)",
    )
    group.add_argument(
        "--quiet-time",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="stop reading once no retained message came for this long (default 1)",
    )


@dataclass
class _ReadProgress:
    """How far the read is: a one-line counter on a terminal, one final line elsewhere."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    every: float = 0.5
    _last: float = 0.0

    def update(self, messages: int, cameras: int, final: bool) -> None:
        """Show the counts (at most every ``every`` seconds unless ``final``)."""
        now = time.monotonic()
        if not final and now - self._last < self.every:
            return
        self._last = now
        text = f"reading the estate: {messages} retained messages, {cameras} camera states"
        if self.stream.isatty():
            self.stream.write("\r" + text + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()


def _mqtt_section(args: argparse.Namespace) -> tuple[dict[str, Any], Path | None]:
    data: dict[str, Any] = {}
    base: Path | None = None
    if args.config is not None:
        data = dict(read_config_file(args.config).get("mqtt") or {})
        base = args.config.parent
    data["broker"] = args.from_broker
    data.pop("host", None)
    data.pop("port", None)
    for key, value in (
        ("password_file", args.password_file),
        ("password_env", args.password_env),
        ("base_topic", args.base_topic),
    ):
        if value is not None:
            data[key] = str(value)
            if key == "password_file":
                data.pop("password_env", None)
            if key == "password_env":
                data.pop("password_file", None)
    return data, base


def _drain(messages: dict[str, bytes]) -> Iterator[tuple[str, bytes]]:
    """Hand over and forget each message (the estate does not depend on their order)."""
    while messages:
        yield messages.popitem()


def cmd_estate_report(args: argparse.Namespace) -> int:
    """Read the estate from the broker and write the HTML or CSV report."""
    if args.inputs:
        raise UsageError("give either --from FILE or --from-broker URL, not both")
    mqtt, base = _mqtt_section(args)
    config = config_from_mapping({"mqtt": mqtt}, source="report --from-broker", base=base)
    settings = config.mqtt.settings(f"cctv-sentinel-report-{secrets.token_hex(4)}")
    progress = _ReadProgress()
    retained = asyncio.run(
        read_retained(
            settings,
            config.mqtt.base_topic,
            quiet=max(args.quiet_time, 0.1),
            progress=progress.update,
        )
    )
    estate = build_estate(
        _drain(retained.messages), config.mqtt.base_topic, skipped=retained.oversize
    )
    short = estate.incomplete
    if short:
        read = sum(site.cameras_read for site in short)
        announced = sum(site.cameras_announced or 0 for site in short)
        say(
            f"warning: {len(short)} site(s) incomplete: {read} of {announced} camera states read"
            " (Mosquitto: raise max_queued_messages on the broker, docs/estate.md)"
        )
    targets = Targets(default=args.target_date, per_regime=dict(args.regime_targets))
    today = dt.datetime.now(dt.UTC).date()
    if args.format == "html":
        title = args.title if args.title != "Camera inventory" else "Camera estate"
        text = to_estate_html(estate, targets, today, title=title, source=config.mqtt.url)
    else:
        text = to_estate_csv(estate, targets, today)
    write_output(args, text)
    return EXIT_RESTRICTED if any(c.status != "gone" for c in estate.restricted) else EXIT_OK
