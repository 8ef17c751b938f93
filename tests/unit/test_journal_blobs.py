"""Backups are content-addressed: stored once, verified on every read."""

from __future__ import annotations

import sqlite3

import pytest

from fixer.journal import BlobIntegrityError, Journal
from fixer.plan.model import FileState
from tests.unit.test_journal_store import ORIGINAL, change, count, journal

__all__ = ["journal"]  # the fixture


def test_blobs_are_deduplicated(journal: Journal) -> None:
    run_id = journal.start_run("apply", "p.yml", "inv.yml", None, [])
    for host in ("mp01", "mp02", "mp03"):
        journal.record_backup(run_id, host, change())
    journal.record_backup(run_id, "mp01", change(ORIGINAL, ORIGINAL, "/same/content"))  # attrs-only change
    assert count(journal.path, "SELECT COUNT(*) FROM blobs") == 2
    assert journal.blob(change().before.sha256 or "") == ORIGINAL
    big = b"x" * 100_000
    journal.record_backup(run_id, "mp01", change(None, big, "/created"))
    assert journal.blob(change(None, big).after.sha256 or "") == big
    assert count(journal.path, "SELECT length(data) FROM blobs WHERE size = 100000") < 1000  # compressed


def test_corrupt_or_missing_blob_is_refused(journal: Journal) -> None:
    run_id = journal.start_run("apply", "p.yml", "inv.yml", None, [])
    journal.record_backup(run_id, "mp01", change(b"A" * 10, b"B" * 10))  # short: stored raw
    journal.record_backup(run_id, "mp01", change(b"C" * 5000, b"D" * 5000, "/z"))  # stored zlib
    sha_raw = FileState(True, b"A" * 10).sha256 or ""
    sha_zlib = FileState(True, b"C" * 5000).sha256 or ""
    conn = sqlite3.connect(journal.path, isolation_level=None)
    try:
        conn.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (b"A" * 9 + b"!", sha_raw))
        conn.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (b"not zlib", sha_zlib))
    finally:
        conn.close()
    with pytest.raises(BlobIntegrityError, match="corrupt"):
        journal.blob(sha_raw)
    with pytest.raises(BlobIntegrityError, match="corrupt"):
        journal.blob(sha_zlib)
    [record, _] = journal.files(run_id)
    with pytest.raises(BlobIntegrityError):
        record.before_state(journal)
    with pytest.raises(BlobIntegrityError, match="missing"):
        journal.blob("0" * 64)
    with pytest.raises(BlobIntegrityError, match="not a sha256"):
        journal.blob("../etc")
