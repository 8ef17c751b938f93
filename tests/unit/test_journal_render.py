"""`fixer runs` / `fixer runs show` views of the journal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixer.errors import UsageError
from fixer.journal import Journal, render_run_detail, render_runs_table, run_to_dict, runs_to_list
from fixer.plan.model import FileChange, FileState, Readiness, ServiceAction, sha256

ORIG = FileState(True, b"a=1\n", "root", "root", 0o600)
NEW = FileState(True, b"a=2\n", "apigee", "apigee", 0o644)
ORIG_SHA, NEW_SHA = sha256(ORIG.content), sha256(NEW.content)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j.close()


def sample(journal: Journal) -> str:
    run_id = journal.start_run("apply", "playbooks/enable-sni.yml", "inv.yml", "mp*",
                               ["fixer", "apply", "playbooks/enable-sni.yml", "-e", "db_password=x"])
    journal.add_host(run_id, "mp01", "10.0.0.1", 1)
    journal.add_host(run_id, "mp02", "10.0.0.2", 1)
    fid = journal.record_backup(run_id, "mp01", FileChange("/opt/a.properties", ORIG, NEW, ("enable SNI",)))
    journal.mark_file(fid, "written")
    fid2 = journal.record_backup(run_id, "mp02", FileChange("/opt/new.properties", FileState(False), NEW, ("x",)))
    journal.mark_file(fid2, "write-failed", "disk-full: No space left on device")
    sid = journal.record_service(run_id, "mp01", ServiceAction("edge-message-processor", "restart", "/bin/as",
                                                               Readiness(8082), "handler restart mp"))
    journal.finish_service(sid, "readiness-timeout", "not up after 300s")
    journal.event(run_id, "mp01", "progress", "wrote 1 file(s)")
    journal.set_host_status(run_id, "mp01", "failed", "apply", "readiness-timeout")
    journal.set_host_status(run_id, "mp02", "failed", "apply", "write failed")
    journal.set_host_status(run_id, "mp03", "skipped", None, "run stopped before this batch")
    journal.finish_run(run_id, "failed", {"changed": 0, "failed": 2})
    return run_id


def test_runs_table(journal: Journal) -> None:
    assert render_runs_table([]) == "no runs in the journal"
    run_id = sample(journal)
    rb = journal.start_run("rollback", None, "inv.yml", None, ["fixer", "rollback", run_id], rolls_back=run_id)
    lines = render_runs_table(journal.runs()).splitlines()
    assert lines[0].split() == ["RUN", "ID", "KIND", "STATUS", "STARTED", "(UTC)", "DURATION", "HOSTS", "PLAYBOOK"]
    assert lines[1].startswith(rb) and "rollback" in lines[1] and "running" in lines[1]
    assert f"rollback of {run_id}" in lines[1]
    assert lines[2].startswith(run_id) and "2 failed, 1 skipped" in lines[2] and "playbooks/enable-sni.yml" in lines[2]


def test_run_detail(journal: Journal) -> None:
    run_id = sample(journal)
    rb = journal.start_run("rollback", None, "inv.yml", None, ["fixer", "rollback", run_id], rolls_back=run_id)
    text = render_run_detail(journal, run_id[:-1] if run_id[:-1] != rb[:-1] else run_id)
    assert text.startswith(f"run {run_id}  apply  failed")
    assert "db_password=********" in text and "db_password=x" not in text
    assert f"rolled back by: {rb} (running)" in text
    assert "mp01 (10.0.0.1)  batch 1  failed (apply): readiness-timeout" in text
    assert "mp03  no batch  skipped: run stopped before this batch" in text
    assert f"/opt/a.properties  {ORIG_SHA[:12]} → {NEW_SHA[:12]}" in text
    assert "root:root 0600 → apigee:apigee 0644  [written]" in text
    assert f"/opt/new.properties  (absent) → {NEW_SHA[:12]}" in text
    assert "[write-failed]  disk-full: No space left on device" in text
    assert "edge-message-processor restart (handler restart mp) → readiness-timeout" in text
    assert "mp01 progress: wrote 1 file(s)" in text
    assert f"rolls back: {run_id}" in render_run_detail(journal, rb)
    with pytest.raises(UsageError):
        render_run_detail(journal, "nope")


def test_run_to_dict_is_json(journal: Journal) -> None:
    run_id = sample(journal)
    doc = json.loads(json.dumps(run_to_dict(journal, run_id)))
    assert doc["run"]["id"] == run_id and doc["run"]["status"] == "failed"
    assert doc["run"]["host_counts"] == {"failed": 2, "skipped": 1}
    assert doc["run"]["summary"] == {"changed": 0, "failed": 2}
    assert [h["host"] for h in doc["hosts"]] == ["mp01", "mp02", "mp03"]
    first = doc["files"][0]
    assert (first["before_mode"], first["after_mode"], first["before_sha"]) == ("0600", "0644", ORIG_SHA)
    assert "content" not in json.dumps(doc["files"])  # shas, never bytes
    assert doc["services"][0]["outcome"] == "readiness-timeout"
    assert doc["events"][0]["message"] == "wrote 1 file(s)"
    assert doc["rolled_back_by"] == []
    [listed] = json.loads(json.dumps(runs_to_list(journal.runs())))
    assert listed["id"] == run_id and listed["argv"][-1] == "db_password=********"
