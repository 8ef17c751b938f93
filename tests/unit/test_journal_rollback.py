"""rollback_source: the net effect of a run on each (host, path), whatever happened during the run."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixer.journal import Journal
from fixer.journal.rollback import net_changes
from fixer.plan.model import FileChange, FileState

ORIG = FileState(True, b"a=1\n", "apigee", "apigee", 0o644)
NEW = FileState(True, b"a=2\n", "apigee", "apigee", 0o644)
NEWER = FileState(True, b"a=3\n", "apigee", "apigee", 0o640)
P = "/opt/apigee/customer/application/message-processor.properties"


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j.close()


@pytest.fixture
def run_id(journal: Journal) -> str:
    return journal.start_run("apply", "enable-sni.yml", "inv.yml", None, [])


def backup(journal: Journal, run_id: str, before: FileState, after: FileState, path: str = P,
           host: str = "mp01", task: str = "t") -> int:
    return journal.record_backup(run_id, host, FileChange(path, before, after, (task,)))


def test_written_file_is_restored_exactly(journal: Journal, run_id: str) -> None:
    fid = backup(journal, run_id, ORIG, NEW)
    journal.mark_file(fid, "written")
    [rec] = journal.rollback_source(run_id)
    assert (rec.id, rec.chain, rec.write_uncertain, rec.state) == (fid, (fid,), False, "written")
    undo = FileChange(rec.path, rec.after_state(journal), rec.before_state(journal), ("rollback",))
    assert undo.before == NEW and undo.after == ORIG
    assert rec.after_sha == NEW.sha256 and rec.backup_sha == ORIG.sha256


@pytest.mark.parametrize("state", ["backed-up", "write-failed"])
def test_a_write_that_may_have_happened_is_included(journal: Journal, run_id: str, state: str) -> None:
    fid = backup(journal, run_id, ORIG, NEW)  # a crash right after this is the 'backed-up' case
    if state != "backed-up":
        journal.mark_file(fid, state, "connection lost")
    [rec] = journal.rollback_source(run_id)
    assert rec.id == fid and rec.write_uncertain  # finding the original there means: nothing to do
    assert rec.before_state(journal) == ORIG and rec.after_state(journal) == NEW


def test_restored_file_needs_nothing(journal: Journal, run_id: str) -> None:
    fid = backup(journal, run_id, ORIG, NEW)
    journal.mark_file(fid, "write-failed")
    journal.mark_file(fid, "restored")
    assert journal.rollback_source(run_id) == []


def test_batch_restore_within_the_run_nets_to_nothing(journal: Journal, run_id: str) -> None:
    """The engine's undo of a failed batch: a second record (what was written → original), then 'restored'."""
    first = backup(journal, run_id, ORIG, NEW)
    journal.mark_file(first, "written")
    undo = backup(journal, run_id, NEW, ORIG, task="undo t")
    # control machine dies here (the undo backed up, maybe written): the file is NEW or ORIG
    [rec] = journal.rollback_source(run_id)
    assert rec.before_state(journal) == ORIG and rec.after_state(journal) == NEW and rec.write_uncertain
    assert rec.id == first and rec.chain == (first, undo) and rec.tasks == ("t", "undo t")
    journal.mark_file(undo, "written")
    assert journal.rollback_source(run_id) == []  # back to the original
    journal.mark_file(first, "restored")
    assert journal.rollback_source(run_id) == []


def test_failed_batch_restore_is_included(journal: Journal, run_id: str) -> None:
    first = backup(journal, run_id, ORIG, NEW)
    journal.mark_file(first, "written")
    undo = backup(journal, run_id, NEW, ORIG, task="undo t")
    journal.mark_file(undo, "write-failed", "permission denied")
    journal.mark_file(first, "restore-failed")
    [rec] = journal.rollback_source(run_id)
    assert rec.id == first and rec.state == "restore-failed" and rec.write_uncertain
    assert rec.before_state(journal) == ORIG and rec.after_state(journal) == NEW


def test_restore_failed_after_the_undo_was_written_nets_to_nothing(journal: Journal, run_id: str) -> None:
    """The undo wrote the original, then the restart failed: the bytes are back, the file needs nothing."""
    first = backup(journal, run_id, ORIG, NEW)
    journal.mark_file(first, "written")
    undo = backup(journal, run_id, NEW, ORIG)
    journal.mark_file(undo, "written")
    journal.mark_file(first, "restore-failed")
    assert journal.rollback_source(run_id) == []


def test_two_plays_changing_one_file_merge(journal: Journal, run_id: str) -> None:
    one = backup(journal, run_id, ORIG, NEW, task="play 1")
    journal.mark_file(one, "written")
    two = backup(journal, run_id, NEW, NEWER, task="play 2")
    journal.mark_file(two, "written")
    [rec] = journal.rollback_source(run_id)
    assert rec.id == two and rec.chain == (one, two) and rec.tasks == ("play 1", "play 2")
    assert rec.before_state(journal) == ORIG and rec.after_state(journal) == NEWER and not rec.write_uncertain
    assert [r.id for r in journal.files(run_id)] == [one, two]  # files() itself is never merged


def test_created_and_removed_files(journal: Journal, run_id: str) -> None:
    created = backup(journal, run_id, FileState(False), NEW, "/new")
    removed = backup(journal, run_id, ORIG, FileState(False), "/old")
    journal.mark_file(created, "written")
    journal.mark_file(removed, "written")
    by_path = {r.path: r for r in journal.rollback_source(run_id)}
    assert by_path["/new"].before_state(journal) == FileState(False)  # a rollback removes it
    assert by_path["/new"].backup_sha is None
    assert by_path["/old"].after_state(journal) == FileState(False)
    assert by_path["/old"].before_state(journal) == ORIG


def test_attribute_only_change_is_included(journal: Journal, run_id: str) -> None:
    chown = FileState(True, ORIG.content, "root", "root", 0o600)
    fid = backup(journal, run_id, chown, ORIG)
    journal.mark_file(fid, "written")
    [rec] = journal.rollback_source(run_id)
    assert rec.before_state(journal) == chown and rec.after_state(journal) == ORIG


def test_hosts_are_separate_and_ordered(journal: Journal, run_id: str) -> None:
    for host in ("mp02", "mp01"):
        for path in ("/b", "/a"):
            journal.mark_file(backup(journal, run_id, ORIG, NEW, path, host), "written")
    assert [(r.host, r.path) for r in journal.rollback_source(run_id)] == [
        ("mp01", "/b"), ("mp01", "/a"), ("mp02", "/b"), ("mp02", "/a")]
    assert [r.path for r in journal.rollback_source(run_id, "mp02")] == ["/b", "/a"]


def test_a_rollback_run_can_be_rolled_back(journal: Journal, run_id: str) -> None:
    journal.mark_file(backup(journal, run_id, ORIG, NEW), "written")
    journal.finish_run(run_id, "ok", {})
    rb = journal.start_run("rollback", None, "inv.yml", None, [], rolls_back=run_id)
    for rec in journal.rollback_source(run_id):
        undo = FileChange(rec.path, rec.after_state(journal), rec.before_state(journal), ("rollback",))
        journal.mark_file(journal.record_backup(rb, rec.host, undo), "written")
    journal.finish_run(rb, "ok", {})
    [again] = journal.rollback_source(rb)
    assert again.before_state(journal) == NEW and again.after_state(journal) == ORIG
    assert journal.rollback_source(run_id)[0].before_state(journal) == ORIG  # the source run is unchanged


def test_planned_records_have_no_effect(journal: Journal, run_id: str) -> None:
    fid = backup(journal, run_id, ORIG, NEW)
    [rec] = journal.files(run_id)
    assert net_changes([dataclasses.replace(rec, state="planned")]) == []
    assert [r.id for r in net_changes([rec])] == [fid]
