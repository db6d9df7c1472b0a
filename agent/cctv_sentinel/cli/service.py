"""``cctv-sentinel run`` (the service) and ``check-config``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from cctv_sentinel._util.permissions import warning_if_exposed
from cctv_sentinel.cli.errors import EXIT_OK, EXIT_USAGE, PROG, say
from cctv_sentinel.discovery.credentials import load_credentials
from cctv_sentinel.errors import ConfigError, MqttError, SentinelError
from cctv_sentinel.identify import check_policy, load_catalogue, policy_from_mapping
from cctv_sentinel.logs import setup_logging
from cctv_sentinel.mqtt.client import MqttClient
from cctv_sentinel.service.commands import IsolationPort
from cctv_sentinel.service.config import (
    Config,
    load_config,
    parse_broker_url,
    parse_duration,
)
from cctv_sentinel.service.daemon import Service, install_signal_handlers


def _broker(text: str) -> str:
    try:
        parse_broker_url(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _interval(text: str) -> str:
    try:
        seconds = parse_duration(text)
    except Exception as err:  # noqa: BLE001  (voluptuous.Invalid: turn it into a usage error)
        raise argparse.ArgumentTypeError(str(err)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("the scan interval must be more than zero")
    return text


def register(subparsers: Any) -> None:
    """Add ``run`` and ``check-config`` to the CLI's sub-parsers."""
    run = subparsers.add_parser(
        "run",
        help="keep watching the network and publish over MQTT",
        description=(
            "Watch the network (scheduled scans and passive listening) and keep an MQTT "
            "broker current (docs/mqtt.md). Give a config file, flags, or both (flags win). "
            "Passwords come from a file or an environment variable, never from a flag value."
        ),
    )
    run.add_argument("--config", "-c", type=Path, metavar="FILE", help="YAML config file")
    run.add_argument("--broker", type=_broker, metavar="URL", help="mqtt[s]://[user@]host:port")
    run.add_argument(
        "--network",
        "-n",
        action="append",
        default=[],
        metavar="CIDR",
        help="network to watch (repeatable); default: this host's networks",
    )
    run.add_argument("--agent-id", metavar="ID", help="this agent's id (default: host name)")
    run.add_argument("--state-dir", type=Path, metavar="DIR", help="where the inventory lives")
    run.add_argument("--base-topic", metavar="T", help="MQTT base topic (default cctv_sentinel)")
    run.add_argument(
        "--scan-interval", type=_interval, metavar="S", help="time between full scans (15m)"
    )
    run.add_argument(
        "--password-file", type=Path, metavar="FILE", help="file holding the MQTT password"
    )
    run.add_argument(
        "--password-env", metavar="VAR", help="environment variable holding the MQTT password"
    )
    run.add_argument(
        "--ha-discovery",
        action="store_true",
        default=None,
        help="also publish Home Assistant MQTT-discovery entities",
    )
    run.add_argument("--no-passive", action="store_true", help="do not listen between scans")
    run.add_argument(
        "--retire",
        action="store_true",
        help="clear this agent's retained topics on the broker for good, then exit",
    )
    run.set_defaults(func=cmd_run)

    check = subparsers.add_parser(
        "check-config", help="validate a configuration file", description="Validate a config file."
    )
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument(
        "--connect",
        action="store_true",
        help="also connect to the broker once: proves its address, TLS and credentials",
    )
    check.set_defaults(func=cmd_check_config)


_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("agent_id", "agent", "id"),
    ("state_dir", "agent", "state_dir"),
    ("broker", "mqtt", "broker"),
    ("base_topic", "mqtt", "base_topic"),
    ("password_file", "mqtt", "password_file"),
    ("password_env", "mqtt", "password_env"),
    ("scan_interval", "scan", "interval"),
)
"""Flag attribute -> (config section, key) for flags that take a value."""


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The config keys the flags set (only those given)."""
    out: dict[str, dict[str, Any]] = {}
    for attr, section, key in _FLAGS:
        value = getattr(args, attr, None)
        if value:
            out.setdefault(section, {})[key] = str(value)
    if args.ha_discovery:
        out.setdefault("mqtt", {})["homeassistant_discovery"] = True
    if args.network:
        out.setdefault("scan", {})["networks"] = list(args.network)
    if args.no_passive:
        out.setdefault("scan", {})["passive"] = False
    return dict(out)


def _warn_exposed(config: Config) -> None:
    for path in (config.mqtt.password_file, config.scan.credentials, config.commands.secret_file):
        warning = warning_if_exposed(path)
        if warning:
            say(f"warning: {warning}")


def cmd_run(args: argparse.Namespace) -> int:
    """``run``: the service, until SIGTERM or Ctrl-C."""
    if not args.config and not args.broker:
        say(f"error: give --config FILE or --broker URL (see {PROG} run --help)")
        return EXIT_USAGE
    config = load_config(args.config, overrides_from_args(args))

    problems = IsolationPort.check(config.isolation)
    if problems:
        raise ConfigError("\n".join(f"{config.source}: {line}" for line in problems))
    _warn_exposed(config)
    setup_logging(max(args.verbose, 1))  # a daemon reports what it does
    service = Service(config)
    if args.retire:
        cleared = asyncio.run(service.retire())
        sys.stdout.write(f"retired agent {config.agent.id}: cleared {cleared} retained topic(s)\n")
        return EXIT_OK

    async def main() -> None:
        install_signal_handlers(service)
        await service.run()

    asyncio.run(main())
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace) -> int:
    """``check-config FILE``: every problem on its own line, exit 2; or a summary, exit 0."""
    try:
        config = load_config(args.file)
    except ConfigError as err:
        sys.stderr.write(str(err) + "\n")
        return EXIT_USAGE
    problems = _deep_checks(config)
    if problems:
        sys.stderr.write("\n".join(problems) + "\n")
        return EXIT_USAGE
    _warn_exposed(config)
    if getattr(args, "connect", False):
        try:
            # Its own client id: the agent's would push a running agent off the broker.
            check_id = f"cctv-sentinel-check-{os.getpid()}"
            settings = replace(config.mqtt.settings(check_id), client_id=check_id)
            asyncio.run(MqttClient(settings).probe())
        except MqttError as err:
            sys.stderr.write(f"{config.source}: mqtt: {err}\n")
            return EXIT_USAGE
    nets = ", ".join(str(n) for n in config.scan.networks) or "this host's networks"
    passive = "on" if config.scan.passive else "off"
    ha = "on" if config.mqtt.homeassistant_discovery else "off"
    isolation = "configured" if config.isolation is not None else "not configured"
    signed = (
        "signed only (shared secret)"
        if config.commands.secret is not None
        else "unsigned allowed (the broker ACL decides who may send them)"
    )
    m = config.mqtt
    lines = [
        f"{args.file.name}: OK",
        f"agent: {config.agent.id} ({config.agent.name}), state in {config.agent.state_dir}",
        f"broker: {m.url} (MQTT {m.protocol}), base topic {m.base_topic}"
        + ("; connected and logged in" if getattr(args, "connect", False) else ""),
        f"watching: {nets}; scans every {config.scan.interval:g} s; passive listening {passive}",
        f"Home Assistant discovery: {ha}; isolation: {isolation}",
        f"commands: {signed}; accepted within {config.commands.max_age:g} s of sending",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def _deep_checks(config: Config) -> list[str]:
    """What only loading the parts can tell: policy vs catalogue, credentials, isolation."""
    problems: list[str] = []
    source = config.source
    try:
        check_policy(policy_from_mapping(config.policy), load_catalogue())
    except SentinelError as err:
        problems.append(f"{source}: {err}")
    if config.scan.credentials is not None:
        try:
            load_credentials(config.scan.credentials)
        except SentinelError as err:
            problems.append(f"{source}: scan.credentials: {err}")
    problems += [f"{source}: {line}" for line in IsolationPort.check(config.isolation)]
    return problems
