"""Command-line sub-commands: ``isolate``, ``release`` and ``isolation {list,reset,audit}``.

``register(subparsers)`` adds them to the ``cctv-sentinel`` parser; each sets
``func`` to a handler ``(args) -> exit code``. Exit codes: 0 done, 2 an error
(one line on stderr), 3 a safety rail refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pwd
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

from cctv_sentinel._util.files import load_yaml_mapping
from cctv_sentinel._util.timefmt import iso
from cctv_sentinel.cli.errors import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, PROG
from cctv_sentinel.errors import ConfigError, UsageError
from cctv_sentinel.isolation.config import DRY_RUN, MIKROTIK, NFTABLES, REAL_BACKENDS
from cctv_sentinel.isolation.manager import IsolationManager
from cctv_sentinel.isolation.model import MODES, IsolationOutcome, IsolationTarget, Requester
from cctv_sentinel.isolation.protected import ProtectedAddresses
from cctv_sentinel.isolation.store import FILENAME, IsolationStore

DEFAULT_STATE_DIR: Final = Path("/var/lib/cctv-sentinel")
STATE_DIR_ENV: Final = "CCTV_SENTINEL_STATE_DIR"
MAX_CONFIG: Final = 1024 * 1024
"""A configuration file larger than 1 MiB is a mistake."""

T = TypeVar("T")


def _common(parser: argparse.ArgumentParser, *, backend: bool = True) -> None:
    parser.add_argument(
        "--config", "-c", type=Path, metavar="FILE", help="agent configuration file"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help=f"state directory (default: agent.state_dir, ${STATE_DIR_ENV}, {DEFAULT_STATE_DIR})",
    )
    if backend:
        parser.add_argument(
            "--backend",
            choices=(DRY_RUN, *REAL_BACKENDS),
            help="backend to use (default: the configured default, else dry-run)",
        )
    parser.add_argument("--json", action="store_true", help="print JSON")


def register(subparsers: Any) -> None:
    """Add ``isolate``, ``release`` and ``isolation`` to the command line."""
    isolate = subparsers.add_parser(
        "isolate", help="cut cameras off the network (see docs/isolation.md)"
    )
    isolate.add_argument(
        "targets", nargs="+", metavar="TARGET", help="IP address, MAC address or camera id"
    )
    _common(isolate)
    isolate.add_argument("--mode", choices=MODES, help="internet (default) or quarantine")
    isolate.add_argument("--reason", help="why, kept in the audit log")
    isolate.add_argument(
        "--yes", action="store_true", help="confirm isolating several devices at once"
    )
    isolate.add_argument(
        "--dry-run", action="store_true", help="say exactly what would be done, change nothing"
    )
    isolate.set_defaults(func=cmd_isolate)

    release = subparsers.add_parser("release", help="undo the isolation of cameras")
    release.add_argument("targets", nargs="+", metavar="TARGET", help="IP, MAC or camera id")
    _common(release)
    release.add_argument("--reason", help="why, kept in the audit log")
    release.add_argument("--dry-run", action="store_true", help="change nothing, show the plan")
    release.set_defaults(func=cmd_release)

    isolation = subparsers.add_parser("isolation", help="list, audit or reset isolations")
    actions = isolation.add_subparsers(dest="isolation_command", metavar="ACTION")
    listing = actions.add_parser("list", help="devices isolated now")
    _common(listing, backend=False)
    listing.add_argument(
        "--protected", action="store_true", help="also list what can never be isolated, and why"
    )
    listing.set_defaults(func=cmd_list)
    audit = actions.add_parser("audit", help="the audit log: who did what, when, why")
    _common(audit, backend=False)
    audit.add_argument("--limit", type=int, default=50, metavar="N", help="newest N entries")
    audit.set_defaults(func=cmd_audit)
    reset = actions.add_parser("reset", help="remove every rule isolation made, and nothing else")
    _common(reset)
    reset.add_argument("--yes", action="store_true", help="really release every device")
    reset.add_argument("--reason", help="why, kept in the audit log")
    reset.set_defaults(func=cmd_reset)
    reapply = actions.add_parser(
        "reapply", help="put every persisted isolation back in force (after a reboot or reload)"
    )
    _common(reapply, backend=False)
    reapply.set_defaults(func=cmd_reapply)
    isolation.set_defaults(func=_missing_action)


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _missing_action(_args: argparse.Namespace) -> int:
    raise UsageError("isolation needs an action: list, audit, reset or reapply")


# configuration --------------------------------------------------------------------------------


def _read_config(path: Path | None) -> Mapping[str, Any]:
    if path is None:
        return {}
    return load_yaml_mapping(path, what="config file", max_bytes=MAX_CONFIG)


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def state_dir_for(args: argparse.Namespace, data: Mapping[str, Any]) -> Path:
    """Where the state lives, as the agent finds it.

    --state-dir, else the config's agent.state_dir (relative to the config file),
    else $CCTV_SENTINEL_STATE_DIR, else systemd's $STATE_DIRECTORY, else the default.
    """
    if args.state_dir is not None:
        return Path(args.state_dir)
    configured = _section(data, "agent").get("state_dir")
    if isinstance(configured, str) and configured:
        path = Path(configured).expanduser()
        config = getattr(args, "config", None)
        return path if path.is_absolute() or config is None else Path(config).parent / path
    for name in (STATE_DIR_ENV, "STATE_DIRECTORY"):
        first = os.environ.get(name, "").split(":")[0]
        if first:
            return Path(first)
    return DEFAULT_STATE_DIR


def _persisted_backends(state_dir: Path) -> set[str]:
    path = state_dir / FILENAME
    if not path.exists():
        return set()
    store = IsolationStore(path, origin=f"cli-{os.getpid()}")
    try:
        return {entry.backend for entry in store.load()}
    finally:
        store.close()


def isolation_config(
    data: Mapping[str, Any], wanted: str | None, state_dir: Path
) -> dict[str, Any]:
    """The ``isolation:`` mapping the CLI uses.

    From a shell, isolation always works: without an ``isolation:`` section the
    default backend is dry-run. nftables needs no settings, so it is enabled
    when asked for or when the state holds nftables isolations (to release them).
    """
    section = data.get("isolation")
    config: dict[str, Any] = dict(section) if isinstance(section, Mapping) else {}
    backends = dict(config.get("backends") or {})
    needed = {wanted} if wanted and wanted != DRY_RUN else set()
    needed |= _persisted_backends(state_dir) & set(REAL_BACKENDS)
    if NFTABLES in needed and NFTABLES not in backends:
        backends[NFTABLES] = None
    if MIKROTIK in needed and MIKROTIK not in backends:
        raise ConfigError(
            "the mikrotik backend needs its settings: give --config FILE with"
            " isolation.backends.mikrotik (url, username, password_file or password_env)"
        )
    config["backends"] = backends
    return config


def build_manager(args: argparse.Namespace) -> IsolationManager:
    """The manager for one CLI run, from the config file and flags."""
    data = _read_config(getattr(args, "config", None))
    state_dir = state_dir_for(args, data)
    config = isolation_config(data, getattr(args, "backend", None), state_dir)
    mqtt = _section(data, "mqtt")
    broker = mqtt.get("broker") or mqtt.get("host")
    protected = ProtectedAddresses.from_host(broker=broker if isinstance(broker, str) else None)
    return IsolationManager.from_config(config, state_dir=state_dir, protected=protected)


def _run(args: argparse.Namespace, work: Callable[[IsolationManager], Awaitable[T]]) -> T:
    manager = build_manager(args)

    async def main() -> T:
        try:
            return await work(manager)
        finally:
            await manager.close()

    return asyncio.run(main())


# output ---------------------------------------------------------------------------------------


def _user() -> Requester:
    name = os.environ.get("SUDO_USER") or os.environ.get("USER")
    if not name:
        with contextlib.suppress(KeyError):
            name = pwd.getpwuid(os.getuid()).pw_name
    return Requester("cli", user_id=str(os.getuid()), user_name=name or None)


def _outcome_json(target: str, outcome: IsolationOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {"target": target, "status": outcome.status, "message": outcome.message}
    if outcome.state is not None:
        state = outcome.state.to_json()
        state["since"] = iso(state["since"]) if state["since"] else None
        out["isolation"] = state
    if outcome.plan is not None:
        out["plan"] = outcome.plan
    return out


def _report(args: argparse.Namespace, targets: list[str], outcomes: list[IsolationOutcome]) -> int:
    if args.json:
        payload = [_outcome_json(t, o) for t, o in zip(targets, outcomes, strict=True)]
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        plans_shown: set[str] = set()
        errors_shown: set[str] = set()
        for outcome in outcomes:
            if outcome.ok:
                _out(outcome.message)
                if outcome.plan and outcome.plan not in plans_shown:
                    plans_shown.add(outcome.plan)
                    sys.stdout.write(outcome.plan)
            elif outcome.message not in errors_shown:
                errors_shown.add(outcome.message)
                _err(f"{PROG}: {outcome.message}")
    statuses = {o.status for o in outcomes}
    if statuses & {"error", "not_configured"}:
        return EXIT_USAGE
    if "refused" in statuses:
        return EXIT_REFUSED
    return EXIT_OK


def _targets(values: list[str]) -> list[IsolationTarget]:
    return [IsolationTarget.parse(value) for value in values]


# handlers ------------------------------------------------------------------------------------


def cmd_isolate(args: argparse.Namespace) -> int:
    """``isolate TARGET...``: isolate devices now."""
    targets = _targets(args.targets)
    outcomes = _run(
        args,
        lambda m: m.isolate_many(
            targets,
            mode=args.mode,
            backend=args.backend,
            requested_by=_user(),
            reason=args.reason,
            confirm=args.yes,
            dry_run=args.dry_run,
        ),
    )
    return _report(args, args.targets, outcomes)


def cmd_release(args: argparse.Namespace) -> int:
    """``release TARGET...``: undo isolations exactly."""
    targets = _targets(args.targets)

    async def work(manager: IsolationManager) -> list[IsolationOutcome]:
        return [
            await manager.release(
                target,
                backend=args.backend,
                requested_by=_user(),
                reason=args.reason,
                dry_run=args.dry_run,
            )
            for target in targets
        ]

    return _report(args, args.targets, _run(args, work))


def cmd_list(args: argparse.Namespace) -> int:
    """``isolation list``: what is isolated now (and, with --protected, what never can be)."""

    async def work(manager: IsolationManager) -> IsolationManager:
        await manager.refresh()
        return manager

    manager = _run(args, work)
    entries = manager.isolations()
    if args.json:
        payload: dict[str, Any] = {
            "isolations": [
                {
                    "camera_id": e.camera_id or e.key,
                    "ips": list(e.ips),
                    "mac": e.mac,
                    "mode": e.mode,
                    "backend": e.backend,
                    "state": e.state,
                    "since": iso(e.since),
                    "requested_by": e.requested_by.to_json(),
                    "reason": e.reason,
                    "message": e.message,
                }
                for e in entries
            ]
        }
        if args.protected:
            payload["protected"] = manager.protected.describe()
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return EXIT_OK
    if not entries:
        _out("nothing is isolated")
    for e in entries:
        who = e.requested_by.describe()
        addresses = ", ".join([*e.ips, *([e.mac] if e.mac else [])])
        line = f"{e.key}  {addresses}  {e.mode}  {e.backend}  {e.state}  since {iso(e.since)}"
        line += f"  by {who}" + (f"  ({e.reason})" if e.reason else "")
        _out(line)
        if e.state == "failed":
            _out(f"    {e.message}")
    if args.protected:
        _out("never isolated:")
        for line in manager.protected.describe():
            _out(f"  {line}")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    """``isolation audit``: the newest audit entries."""
    if not 1 <= args.limit <= 100_000:
        raise UsageError("--limit must be between 1 and 100000")
    records = _run(args, lambda m: m.audit_log(args.limit))
    if args.json:
        sys.stdout.write(json.dumps([r.to_json() for r in records], indent=2) + "\n")
        return EXIT_OK
    for r in records:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.time))
        about = r.camera_id or "-"
        why = f" ({r.reason})" if r.reason else ""
        _out(f"{stamp}  {r.action:<8} {r.status:<8} {about}  {r.requested_by.describe()}{why}")
        _out(f"    {r.message}")
    return EXIT_OK


def cmd_reset(args: argparse.Namespace) -> int:
    """``isolation reset --yes``: remove everything isolation made and release every device."""
    if not args.yes:
        raise UsageError("reset releases every isolated device; add --yes to do it")
    if args.backend == DRY_RUN:
        raise UsageError("dry-run makes nothing, so there is nothing to reset")
    outcome = _run(
        args,
        lambda m: m.reset(backend=args.backend, requested_by=_user(), reason=args.reason),
    )
    return _report(args, ["*"], [outcome])


def cmd_reapply(args: argparse.Namespace) -> int:
    """``isolation reapply``: what the agent does at start, on demand."""

    async def work(manager: IsolationManager) -> list[Any]:
        await manager.reapply()
        await manager.refresh()
        return manager.isolations()

    entries = _run(args, work)
    failed = [e for e in entries if e.state != "isolated"]
    if args.json:
        payload = {"in_force": len(entries) - len(failed), "failed": [e.message for e in failed]}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        _out(f"{len(entries) - len(failed)} isolation(s) in force")
        for e in failed:
            _err(f"{PROG}: {e.message}")
    return EXIT_USAGE if failed else EXIT_OK
