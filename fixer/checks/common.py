"""Checks shared by every role."""

from __future__ import annotations

from fixer.checks.model import Evidence, Finding
from fixer.facts.model import PropertiesFacts


def properties_owner(props: PropertiesFacts, component: str, service_cmd: str) -> list[Finding]:
    """A customer file not owned apigee:apigee: the component may not read it, and restarts may fail."""
    if not props.exists or props.stat is None:
        return []
    stat = props.stat
    if (stat.owner, stat.group) == ("apigee", "apigee"):
        return []
    world_readable = bool(stat.mode & 0o004)
    consequence = (
        "the component running as apigee cannot read it, so its overrides are ignored"
        if not world_readable
        else "Apigee's procedures require it and later edits as apigee will fail"
    )
    return [
        Finding(
            id="properties-owner",
            severity="error",
            cause="config",
            message=f"{props.path} is owned {stat.owner}:{stat.group} (mode {stat.mode_text}), "
            f"not apigee:apigee: {consequence}",
            evidence=(
                Evidence(props.path, None, {"owner": stat.owner, "group": stat.group, "mode": stat.mode_text}),
            ),
            remediation=f"chown apigee:apigee {props.path} && {service_cmd} restart "
            f"(restart {component} so it picks up the overrides)",
        )
    ]


def unreadable(props: PropertiesFacts) -> list[Finding]:
    """A file fixer needed but could not read: say so instead of reporting a false all-clear."""
    if props.error is None:
        return []
    hint = "; set ansible_become: true for this host" if "permission" in props.error else ""
    return [
        Finding(
            id="facts-unreadable",
            severity="warning",
            cause="config",
            message=f"could not read {props.path}: {props.error}{hint}",
            evidence=(Evidence(props.path, None, {"error": props.error}),),
            remediation=f"make {props.path} readable to the inspecting user (become) and run check again",
        )
    ]
