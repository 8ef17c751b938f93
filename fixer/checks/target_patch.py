"""The exact TargetEndpoint patch that fixes a southbound protocol mismatch of a bundle target.

Pure: the TargetEndpoint file's bytes (read by the caller when the bundles were scanned) in, the finding with
`playbook`, `diff` and `actions` (the playbook's variables and what else to do) out, like the dry-run diffs
`fixer check` shows for node files. The diff is what `target-protocols.yml` would write (the same
`fixer.bundles.edit` code), secrets redacted like every fixer diff.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from fixer.bundles.edit import SSLSettings, edit_ssl_info
from fixer.checks.model import NOT_PLANNED, Finding
from fixer.errors import FixerError
from fixer.plan.diff import render_diff
from fixer.plan.model import FileChange, FileState

if TYPE_CHECKING:
    from fixer.checks.southbound import TargetSpec

PLAYBOOK = "target-protocols.yml"
BUNDLE_LABEL = "bundle"  # the "host" part of the diff's ---/+++ lines: the file is on the control machine


def protocol_patch(finding: Finding, spec: TargetSpec, protocols: tuple[str, ...],
                   java_blocks: tuple[str, ...]) -> Finding:
    """`finding` with the TargetEndpoint patch setting `<Protocols>` to `protocols` (bundle targets only)."""
    ep = spec.endpoint
    if ep is None or spec.endpoint_xml is None:
        return finding
    try:
        after = edit_ssl_info(spec.endpoint_xml, ep.file, SSLSettings(protocols=protocols), ep.name)
    except FixerError as exc:
        return replace(finding, playbook=PLAYBOOK, diff=f"{NOT_PLANNED}{exc}")
    change = FileChange(ep.file, FileState(True, spec.endpoint_xml), FileState(True, after), ())
    in_zip = "!" in ep.file
    target_file = PurePosixPath(ep.file.rsplit("!", 1)[-1]).name
    bundle_dir = ep.bundle if ep.bundle and not in_zip else "DIR"
    args = ("-l", "bundle_hosts", "-e", f"bundle_dir={bundle_dir}", "-e", f"target_file={target_file}",
            "-e", f"target_name={ep.name}", "-e", f"target_protocols={','.join(protocols)}")
    actions = ["note: runs on the inventory group bundle_hosts; bundle_dir is the bundle's path there",
               "note: import and deploy the new proxy revision to take effect (no MP restart)"]
    if in_zip:
        actions.append(f"note: {ep.bundle} is a zip: explode it on a bundle host to apply the playbook")
    if java_blocks:
        actions.append(f"note: the MP's Java disables {', '.join(java_blocks)} (jdk.tls.disabledAlgorithms): "
                       "the patch alone does not help; see mp-tls-protocols.yml")
    return replace(finding, playbook=PLAYBOOK, diff=render_diff(change, BUNDLE_LABEL), actions=tuple(actions),
                   apply_args=args)
