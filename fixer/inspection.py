"""`fixer check` orchestration: hosts → one SSH session and one batched read each → facts → findings.

The only module of the check path that does I/O besides the transport; everything it calls after the
read is pure. A host with findings that a shipped playbook fixes gets one more exec on the same session:
the batched read of the files those playbooks would change (fixer.remedy), so each such finding shows
the playbook and its diff on that host. A healthy host still costs one session and one exec.
"""

from __future__ import annotations

import functools
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fixer.checks.model import Finding
from fixer.checks.mp import check_message_processor
from fixer.checks.router import check_router
from fixer.checks.southbound import SouthboundConfig, check_targets
from fixer.errors import FixerError, HostError, ParseError
from fixer.facts.build import mp_facts, router_facts
from fixer.facts.gather import mp_script, new_boundary, router_script, split_sections
from fixer.facts.model import MessageProcessorFacts, NodeFacts
from fixer.facts.nginx import NGINX_DEFAULT_CIPHERS
from fixer.facts.openssl import expand_cipher_string, parse_openssl_ciphers_stdname
from fixer.inventory.model import Host
from fixer.remedy import Remedies, playbooks_for
from fixer.result import CheckRun, HostFailure, HostResult
from fixer.transport.ssh import ConnectOptions, Session

if TYPE_CHECKING:
    from fixer.plan.model import FileState

Progress = Callable[[HostResult], None]


@dataclass(frozen=True)
class LocalOpenSSL:
    """The control machine's OpenSSL: fallback cipher expansion and the OpenSSL→IANA name table."""

    binary: str = "openssl"

    @functools.cached_property
    def name_table(self) -> Mapping[str, str]:
        try:
            out = subprocess.run(
                [self.binary, "ciphers", "-stdname", "-v", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                capture_output=True, text=True, timeout=20, check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return {}
        return {ossl: iana for iana, ossl in parse_openssl_ciphers_stdname(out)}

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one instance per run
    def expand(self, cipher_string: str) -> tuple[str, ...]:
        return expand_cipher_string(cipher_string, self.binary)


def _read_files(session: Session, paths: Sequence[str]) -> Mapping[str, FileState]:
    from fixer.apply.remote import read_files

    return read_files(session, paths)


def _southbound(session: Session, facts: MessageProcessorFacts, host: Host, local: LocalOpenSSL,
                southbound: SouthboundConfig) -> list[Finding]:
    """Probe the MP's backends from the MP (fixer.probe.targets), then judge them (pure)."""
    specs, errors = southbound.specs_for(host.vars)
    if not specs and not errors:
        return []
    from fixer.probe.targets import TargetProber

    probes = TargetProber(session, facts, local.name_table).run(specs)
    return check_targets(facts, host.vars, probes, errors=errors)


def inspect_host(host: Host, options: ConnectOptions, local: LocalOpenSSL,
                 remedies: Remedies | None = None, southbound: SouthboundConfig | None = None) -> HostResult:
    """Facts and findings of one host (one session, one batched read); with `remedies`, the findings a
    shipped playbook fixes also carry that playbook's diff on this host (one more read, only then).
    An MP with targets (`fixer_targets`, `southbound.bundle_targets`) probes them over the same session."""
    started = time.monotonic()
    role = host.role

    def failed(status: str, category: str, message: str) -> HostResult:
        return HostResult(host.name, host.address, role, status, HostFailure(category, message),
                          duration_s=time.monotonic() - started)

    boundary = new_boundary()
    script = (
        mp_script(host, boundary) if role == "message_processor"
        else router_script(host, boundary, NGINX_DEFAULT_CIPHERS)
    )
    try:
        with Session(host, options) as session:
            session.connect()
            result = session.run_script(script)
            output = result.stdout.decode("utf-8", errors="replace")
            sections = split_sections(output, boundary)
            facts: NodeFacts
            findings: Sequence[Finding]
            if role == "message_processor":
                facts = mp_facts(host, sections)
                findings = check_message_processor(facts, host.vars)
                findings = [*findings, *_southbound(session, facts, host, local, southbound or SouthboundConfig())]
            else:
                from fixer.facts.northbound import probe_listeners, router_anchors

                # the router's TLS listeners probed from here (fixer_probe_listeners: false turns it off)
                facts = probe_listeners(host, router_facts(host, sections, local.expand))
                findings = check_router(facts, host.vars, local.name_table, router_anchors(host.vars))
            if remedies is not None and playbooks_for(findings):
                # the dry run of the fixing playbooks: one more exec, on this session, for this host only
                findings = remedies.attach(host, facts, findings, functools.partial(_read_files, session))
    except HostError as exc:
        status = "unreachable" if exc.category == "unreachable" else "error"
        return failed(status, exc.category, str(exc))
    except ParseError as exc:
        return failed("error", "command", f"could not read the node's facts: {exc}")
    except FixerError as exc:
        return failed("error", "error", str(exc))
    return HostResult(
        host.name, host.address, role, "findings" if findings else "ok", None,
        facts, tuple(findings), time.monotonic() - started,
    )


def run_check(
    inventory_path: str,
    hosts: list[Host],
    options: ConnectOptions,
    forks: int,
    progress: Progress | None = None,
    plan_fixes: bool = True,
    southbound: SouthboundConfig | None = None,
) -> CheckRun:
    """Inspect every host with at most `forks` sessions at once; one host's failure never stops others.

    With `plan_fixes` (the default) every finding a shipped playbook fixes carries that playbook and the
    diff it would make on its host (fixer.remedy): the dry-run report.
    """
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.monotonic()
    local = LocalOpenSSL()
    remedies = Remedies(hosts) if plan_fixes else None
    results: dict[str, HostResult] = {}

    def one(host: Host) -> HostResult:
        res = inspect_host(host, options, local, remedies, southbound)
        if progress is not None:
            progress(res)
        return res

    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts) or 1))) as pool:
        for res in pool.map(one, hosts):
            results[res.name] = res
    return CheckRun(
        inventory=inventory_path,
        started_at=started_at,
        duration_s=round(time.monotonic() - t0, 3),
        hosts=tuple(results[h.name] for h in hosts),
    )
