"""The journal store: lifecycle, durability, blobs, concurrency, permissions, lookup."""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixer.errors import UsageError
from fixer.journal import SCHEMA_VERSION, Journal, JournalError, new_run_id
from fixer.journal.schema import migrate
from fixer.plan.model import FileChange, FileState, Readiness, ServiceAction

ORIGINAL = b"# mp\nconf_system_jsse.enableSNIExtension=false\n"
WRITTEN = b"# mp\nconf_system_jsse.enableSNIExtension=true\n"
PATH = "/opt/apigee/customer/application/message-processor.properties"


def change(before: bytes | None = ORIGINAL, after: bytes | None = WRITTEN, path: str = PATH) -> FileChange:
    b = FileState(True, before, "apigee", "apigee", 0o644) if before is not None else FileState(False)
    a = FileState(True, after, "apigee", "apigee", 0o640) if after is not None else FileState(False)
    return FileChange(path, b, a, ("enable SNI", "chown"))


RESTART = ServiceAction("edge-message-processor", "restart", "/opt/apigee/apigee-service/bin/apigee-service",
                        Readiness(port=8082, wait_for_ready=True, timeout_s=120.0), "restart message processor")


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j.close()


def other(path: Path) -> sqlite3.Connection:
    """A second, independent connection: sees only what was committed."""
    return sqlite3.connect(path)


def count(path: Path, sql: str, *params: object) -> int:
    conn = other(path)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


def test_full_lifecycle(journal: Journal) -> None:
    run_id = journal.start_run("apply", "playbooks/enable-sni.yml", "inv.yml", "mp*",
                               ["fixer", "apply", "playbooks/enable-sni.yml", "-i", "inv.yml", "-l", "mp*"])
    run = journal.run(run_id)
    assert (run.kind, run.status, run.playbook, run.inventory, run.limit) == (
        "apply", "running", "playbooks/enable-sni.yml", "inv.yml", "mp*")
    assert run.finished_at is None and run.rolls_back is None and run.user and run.control_host

    journal.add_host(run_id, "mp01", "10.0.0.1", 1)
    journal.add_host(run_id, "mp02", "10.0.0.2", 2)
    file_id = journal.record_backup(run_id, "mp01", change())
    [record] = journal.files(run_id)
    assert (record.id, record.state, record.path, record.tasks) == (file_id, "backed-up", PATH, ("enable SNI", "chown"))
    assert record.before_state(journal) == change().before
    assert record.after_state(journal) == change().after
    assert record.backup_sha == change().before.sha256 and record.after_sha == change().after.sha256
    assert record.write_uncertain

    journal.mark_file(file_id, "written")
    sid = journal.record_service(run_id, "mp01", RESTART)
    [svc] = journal.services(run_id, "mp01")
    assert svc.outcome is None and svc.finished_at is None
    journal.finish_service(sid, "ok", "up after 42s")
    journal.event(run_id, "mp01", "progress", "wrote 1 file(s)")
    journal.event(run_id, None, "batch", "batch 1: mp01")
    journal.set_host_status(run_id, "mp01", "ok")
    journal.set_host_status(run_id, "mp02", "failed", "unreachable", "connection refused")
    journal.set_host_status(run_id, "mp03", "skipped", None, "run stopped before this batch")
    journal.finish_run(run_id, "partial", {"hosts": 3, "failed": ["mp02"]})

    run = journal.run(run_id)
    assert run.status == "partial" and run.finished_at is not None and run.duration_s is not None
    assert run.summary == {"hosts": 3, "failed": ["mp02"]}
    assert run.host_counts == {"ok": 1, "failed": 1, "skipped": 1}
    hosts = {h.host: h for h in journal.hosts(run_id)}
    assert [h.host for h in journal.hosts(run_id)] == ["mp01", "mp02", "mp03"]  # by batch, unbatched last
    assert (hosts["mp02"].category, hosts["mp02"].message, hosts["mp02"].batch) == (
        "unreachable", "connection refused", 2)
    assert hosts["mp03"].batch is None and hosts["mp03"].address is None and hosts["mp03"].finished_at
    [record] = journal.files(run_id, "mp01")
    assert record.state == "written" and record.written_at is not None and not record.write_uncertain
    assert journal.files(run_id, "mp02") == []
    [svc] = journal.services(run_id)
    assert (svc.outcome, svc.message) == ("ok", "up after 42s") and svc.to_action() == RESTART
    assert [(e.host, e.kind, e.message) for e in journal.events(run_id)] == [
        ("mp01", "progress", "wrote 1 file(s)"), (None, "batch", "batch 1: mp01")]

    rb = journal.start_run("rollback", None, "inv.yml", None, ["fixer", "rollback", run_id], rolls_back=run_id)
    journal.finish_run(rb, "ok", {})
    assert [r.id for r in journal.rollbacks_of(run_id)] == [rb]
    assert journal.rollbacks_of(rb) == []
    assert [r.id for r in journal.runs()] == [rb, run_id]
    assert [r.id for r in journal.runs(limit=1)] == [rb]


def test_add_host_again_keeps_status_and_updates_batch(journal: Journal) -> None:
    run_id = journal.start_run("apply", "p.yml", "inv.yml", None, [])
    journal.add_host(run_id, "mp01", "10.0.0.1", 1)
    journal.set_host_status(run_id, "mp01", "ok")
    journal.add_host(run_id, "mp01", "10.0.0.9", 3)  # a second play of the same playbook
    [host] = journal.hosts(run_id)
    assert (host.address, host.batch, host.status) == ("10.0.0.9", 3, "ok")


def test_every_call_is_committed_before_it_returns(journal: Journal) -> None:
    db = journal.path
    run_id = journal.start_run("apply", "p.yml", "inv.yml", None, [])
    assert count(db, "SELECT COUNT(*) FROM runs WHERE id = ? AND status = 'running'", run_id) == 1
    journal.add_host(run_id, "mp01", "10.0.0.1", 1)
    assert count(db, "SELECT COUNT(*) FROM hosts WHERE run_id = ?", run_id) == 1
    file_id = journal.record_backup(run_id, "mp01", change())
    assert count(db, "SELECT COUNT(*) FROM files WHERE id = ? AND state = 'backed-up'", file_id) == 1
    assert count(db, "SELECT COUNT(*) FROM blobs") == 2
    # a crash right now: a fresh process reading the file has everything a rollback needs
    fresh = Journal(db)
    try:
        [record] = fresh.rollback_source(run_id)
        assert record.before_state(fresh).content == ORIGINAL and record.write_uncertain
    finally:
        fresh.close()
    journal.mark_file(file_id, "written")
    assert count(db, "SELECT COUNT(*) FROM files WHERE id = ? AND state = 'written'", file_id) == 1
    sid = journal.record_service(run_id, "mp01", RESTART)
    assert count(db, "SELECT COUNT(*) FROM services WHERE id = ? AND outcome IS NULL", sid) == 1
    journal.finish_service(sid, "readiness-timeout", "not up after 120s")
    assert count(db, "SELECT COUNT(*) FROM services WHERE outcome = 'readiness-timeout'") == 1
    journal.event(run_id, "mp01", "failed", "readiness")
    assert count(db, "SELECT COUNT(*) FROM events") == 1
    journal.set_host_status(run_id, "mp01", "failed", "apply", "readiness")
    assert count(db, "SELECT COUNT(*) FROM hosts WHERE status = 'failed'") == 1
    journal.finish_run(run_id, "failed", {})
    assert count(db, "SELECT COUNT(*) FROM runs WHERE status = 'failed' AND finished_at IS NOT NULL") == 1


def test_pragmas_and_schema_version(journal: Journal) -> None:
    conn = other(journal.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION == 1
    finally:
        conn.close()
    inner = journal._connection()
    assert inner.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert inner.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_migrations_apply_once_and_refuse_a_newer_journal(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    Journal(db).close()
    Journal(db).close()  # reopening migrates nothing
    assert count(db, "SELECT COUNT(*) FROM schema_version") == 1
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        assert migrate(conn, [["SELECT 1"], ["CREATE TABLE extra (x)"]]) == 2  # the scaffold: v1 → v2
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 2
    finally:
        conn.close()
    with pytest.raises(JournalError, match="newer than this fixer"):
        Journal(db)


def test_concurrent_writers(journal: Journal) -> None:
    run_id = journal.start_run("apply", "p.yml", "inv.yml", None, [])
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            host = f"mp{n:02d}"
            journal.add_host(run_id, host, f"10.0.0.{n}", n % 3 + 1)
            for i in range(20):
                fid = journal.record_backup(run_id, host, change(ORIGINAL + bytes([i]), WRITTEN, f"/f{i}"))
                journal.event(run_id, host, "progress", f"file {i}")
                journal.mark_file(fid, "written")
                journal.files(run_id, host)
            sid = journal.record_service(run_id, host, RESTART)
            journal.finish_service(sid, "ok")
            journal.set_host_status(run_id, host, "ok")
        except BaseException as exc:  # re-raised in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(journal.files(run_id)) == 160 and all(f.state == "written" for f in journal.files(run_id))
    assert len(journal.events(run_id)) == 160
    assert journal.run(run_id).host_counts == {"ok": 8}
    assert count(journal.path, "SELECT COUNT(*) FROM blobs") == 21  # 20 originals + one shared written


def test_two_journal_objects_on_one_file_from_threads(tmp_path: Path) -> None:
    """Two processes (here: two connections) writing one journal wait for each other instead of failing."""
    db = tmp_path / "j.sqlite3"
    a, b = Journal(db), Journal(db)
    try:
        errors: list[BaseException] = []

        def worker(j: Journal) -> None:
            try:
                for _ in range(10):
                    rid = j.start_run("apply", "p.yml", "inv.yml", None, [])
                    j.record_backup(rid, "mp01", change())
                    j.finish_run(rid, "ok", {})
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(j,)) for j in (a, b, a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(a.runs(limit=100)) == 40 and len({r.id for r in b.runs(limit=100)}) == 40
    finally:
        a.close()
        b.close()


def test_permissions(tmp_path: Path) -> None:
    db = tmp_path / "state" / "fixer" / "journal.sqlite3"
    j = Journal(db)
    try:
        run_id = j.start_run("apply", "p.yml", "inv.yml", None, [])
        j.record_backup(run_id, "mp01", change())
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        for side in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            assert stat.S_IMODE(side.stat().st_mode) == 0o600, side
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    finally:
        j.close()
    loose = tmp_path / "loose.sqlite3"
    loose.touch(mode=0o644)
    loose.chmod(0o644)
    Journal(loose).close()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600  # tightened


def test_existing_parent_directory_mode_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    Journal(shared / "j.sqlite3").close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755


def test_not_a_journal(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(JournalError):
        Journal(bad)
    with pytest.raises(JournalError, match="directory"):
        Journal(tmp_path)


def test_run_lookup_by_id(journal: Journal) -> None:
    first = journal.start_run("apply", "p.yml", "inv.yml", None, [])
    second = journal.start_run("apply", "p.yml", "inv.yml", None, [])
    assert journal.run(first).id == first
    assert journal.run(f"  {second}  ").id == second
    with pytest.raises(UsageError, match="unknown run"):
        journal.run("19990101T000000Z-0000")
    with pytest.raises(UsageError, match="unknown run"):
        journal.run("")
    with pytest.raises(UsageError, match="unknown run"):
        journal.run("2%")  # LIKE wildcards mean nothing
    assert journal.hosts("nope") == [] and journal.files("nope") == [] and journal.events("nope") == []


def test_prefix_ambiguity_is_an_error(journal: Journal) -> None:
    conn = journal._connection()
    for suffix in ("aaaa", "aabb", "bbbb"):
        conn.execute(
            "INSERT INTO runs (id, kind, inventory, argv, user, control_host, fixer_version, started_at, status) "
            "VALUES (?, 'apply', 'inv', '[]', 'u', 'h', '0', '2026-01-01T00:00:00.000000Z', 'ok')",
            (f"20260101T000000Z-{suffix}",),
        )
    assert journal.run("20260101T000000Z-b").id == "20260101T000000Z-bbbb"
    assert journal.run("20260101T000000Z-aab").id == "20260101T000000Z-aabb"
    with pytest.raises(UsageError, match=r"ambiguous: 20260101T000000Z-aaaa, 20260101T000000Z-aabb"):
        journal.run("20260101T000000Z-aa")


def test_new_run_id_is_sortable_and_unique() -> None:
    ids = [new_run_id() for _ in range(50)]
    assert all(len(i) == 21 and i[8] == "T" and i[15] == "Z" and i[16] == "-" for i in ids)
    from datetime import UTC, datetime
    assert new_run_id(datetime(2026, 11, 27, 3, 15, tzinfo=UTC)).startswith("20261127T031500Z-")
    assert new_run_id(datetime(2026, 1, 1, tzinfo=UTC)) < new_run_id(datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))


def test_bad_calls_are_refused(journal: Journal) -> None:
    with pytest.raises(ValueError, match="run kind"):
        journal.start_run("deploy", "p.yml", "inv.yml", None, [])
    with pytest.raises(UsageError, match="unknown run"):
        journal.start_run("rollback", None, "inv.yml", None, [], rolls_back="nope")
    run_id = journal.start_run("apply", "p.yml", "inv.yml", None, [])
    with pytest.raises(ValueError, match="final run status"):
        journal.finish_run(run_id, "running", {})
    with pytest.raises(JournalError, match="unknown run"):
        journal.finish_run("nope", "ok", {})
    with pytest.raises(JournalError, match="FOREIGN KEY"):
        journal.add_host("nope", "mp01", "10.0.0.1", 1)
    with pytest.raises(JournalError, match="FOREIGN KEY"):
        journal.record_backup("nope", "mp01", change())
    with pytest.raises(ValueError, match="host status"):
        journal.set_host_status(run_id, "mp01", "great")
    file_id = journal.record_backup(run_id, "mp01", change())
    with pytest.raises(JournalError, match="from 'backed-up' to 'restored'"):
        journal.mark_file(file_id, "restored")
    with pytest.raises(ValueError, match="file state"):
        journal.mark_file(file_id, "gone")
    with pytest.raises(JournalError, match="unknown file record"):
        journal.mark_file(9999, "written")
    journal.mark_file(file_id, "written")
    journal.mark_file(file_id, "written")  # idempotent
    with pytest.raises(JournalError, match="from 'written' to 'backed-up'"):
        journal.mark_file(file_id, "backed-up")
    sid = journal.record_service(run_id, "mp01", RESTART)
    with pytest.raises(ValueError, match="service outcome"):
        journal.finish_service(sid, "meh")
    with pytest.raises(JournalError, match="unknown service record"):
        journal.finish_service(9999, "ok")
    # nothing half-done stayed behind
    assert len(journal.files(run_id)) == 1 and journal.run(run_id).host_counts == {"pending": 1}


def test_mark_file_messages_and_timestamps(journal: Journal) -> None:
    run_id = journal.start_run("apply", "p.yml", "inv.yml", None, [])
    file_id = journal.record_backup(run_id, "mp01", change())
    journal.mark_file(file_id, "write-failed", "disk-full: No space left on device")
    journal.mark_file(file_id, "restored")
    [record] = journal.files(run_id)
    assert record.state == "restored" and record.message == "disk-full: No space left on device"
    assert record.written_at is not None and record.restored_at is not None


def test_closed_journal(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    j.close()
    j.close()
    with pytest.raises(JournalError, match="closed"):
        j.runs()
    with pytest.raises(JournalError, match="closed"):
        j.start_run("apply", "p.yml", "inv.yml", None, [])
    with Journal(tmp_path / "j.sqlite3") as again:
        assert again.runs() == []


def test_open_uses_the_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIXER_JOURNAL", str(tmp_path / "env" / "j.sqlite3"))
    with Journal.open() as j:
        assert j.path == tmp_path / "env" / "j.sqlite3"
    with Journal.open(tmp_path / "explicit.sqlite3") as j:
        assert j.path == tmp_path / "explicit.sqlite3"
