"""The SQLite state: isolations survive a restart; the audit log keeps who, when, why, result."""

from __future__ import annotations

from pathlib import Path

import pytest

from cctv_sentinel.errors import HostEnvironmentError
from cctv_sentinel.isolation import Isolation, Requester
from cctv_sentinel.isolation import store as store_module
from cctv_sentinel.isolation.store import AuditEntry, IsolationStore

ALICE = Requester("home_assistant", "u-1", "Alice")


def _isolation(key: str = "bcad28001021", **changes: object) -> Isolation:
    values: dict[str, object] = {
        "key": key,
        "camera_id": key,
        "ips": ("198.18.0.10", "2001:2::10"),
        "mac": "bc:ad:28:00:10:21",
        "mode": "internet",
        "backend": "nftables",
        "state": "isolated",
        "since": 1000.0,
        "updated": 1000.0,
        "requested_by": ALICE,
        "reason": "restricted vendor",
        "message": "isolated",
    }
    values.update(changes)
    return Isolation(**values)  # type: ignore[arg-type]


def _audit(action: str = "isolate", status: str = "ok", at: float = 1000.0) -> AuditEntry:
    return AuditEntry(
        at,
        action,
        "bcad28001021",
        ("198.18.0.10",),
        None,
        "internet",
        "nftables",
        ALICE,
        "why",
        status,
        "msg",
    )


def test_isolations_and_audit_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state" / "isolation.sqlite3"
    first = IsolationStore(path, origin="agent")
    ids = first.commit(put=[_isolation()], audit=[_audit()])
    assert ids == [1]
    first.close()
    again = IsolationStore(path, origin="agent-2")
    assert again.load() == [_isolation()]
    [row] = again.audit()
    assert (row.action, row.status, row.requested_by, row.reason) == ("isolate", "ok", ALICE, "why")
    again.commit(put=[_isolation(state="failed", message="nft missing")], delete=[])
    assert again.load()[0].state == "failed"
    again.commit(delete=["bcad28001021"])
    assert again.load() == []
    again.close()


def test_rows_written_by_another_process_are_found(tmp_path: Path) -> None:
    path = tmp_path / "isolation.sqlite3"
    agent = IsolationStore(path, origin="agent")
    cli = IsolationStore(path, origin="cli")
    agent.commit(audit=[_audit()])
    cli.commit(audit=[_audit("release")])
    foreign = agent.foreign_audit(after_id=0)
    assert [(r.id, r.action) for r in foreign] == [(2, "release")]
    assert agent.last_audit_id() == 2
    assert [r.action for r in agent.audit(limit=1)] == ["release"]
    agent.close()
    cli.close()


def test_rate_limit_history_counts_real_applied_isolations_only(tmp_path: Path) -> None:
    store = IsolationStore(tmp_path / "i.sqlite3", origin="a")
    dry = AuditEntry(1500.0, "isolate", None, (), None, None, "dry-run", ALICE, None, "ok", "dry")
    store.commit(
        audit=[_audit(at=900.0), _audit(at=1100.0), _audit(status="refused", at=1200.0), dry]
    )
    assert store.isolations_since(1000.0) == [1100.0]
    store.close()


def test_the_audit_log_is_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "AUDIT_KEEP", 3)
    store = IsolationStore(tmp_path / "i.sqlite3", origin="a")
    for i in range(6):
        store.commit(audit=[_audit(at=float(i))])
    assert [r.time for r in store.audit(limit=10)] == [3.0, 4.0, 5.0]
    store.close()


def test_an_unusable_state_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    with pytest.raises(HostEnvironmentError, match="cannot open the isolation state"):
        IsolationStore(blocker / "isolation.sqlite3", origin="a")
