"""The journal: every run's hosts, file backups (exact bytes), service actions and events, in SQLite.

`fixer apply` records each backup before the remote write it precedes; `fixer rollback` reads
`rollback_source(run_id)` to restore a run exactly; `fixer runs` renders it. See store.Journal.
"""

from fixer.journal.model import (
    FILE_STATES,
    FILE_TRANSITIONS,
    HOST_STATUSES,
    RUN_KINDS,
    RUN_STATUSES,
    SERVICE_OUTCOMES,
    BlobIntegrityError,
    EventRecord,
    FileRecord,
    HostRecord,
    JournalError,
    RunRecord,
    ServiceRecord,
    new_run_id,
)
from fixer.journal.paths import default_journal_path
from fixer.journal.redact import redact_argv
from fixer.journal.render import render_run_detail, render_runs_table, run_to_dict, runs_to_list
from fixer.journal.schema import SCHEMA_VERSION
from fixer.journal.store import Journal

__all__ = [
    "FILE_STATES",
    "FILE_TRANSITIONS",
    "HOST_STATUSES",
    "RUN_KINDS",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "SERVICE_OUTCOMES",
    "BlobIntegrityError",
    "EventRecord",
    "FileRecord",
    "HostRecord",
    "Journal",
    "JournalError",
    "RunRecord",
    "ServiceRecord",
    "default_journal_path",
    "new_run_id",
    "redact_argv",
    "render_run_detail",
    "render_runs_table",
    "run_to_dict",
    "runs_to_list",
]
