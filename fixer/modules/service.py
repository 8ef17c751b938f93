"""`service`: `apigee-service <component> <action>`, then a readiness gate.

A service task always acts (like Ansible's `state: restarted`), so it counts as a change and notifies
its handlers; put restarts in handlers (or behind `requires`) to restart only when something changed.
Identical actions of one host are planned once (see the planner).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from fixer.modules.base import (
    Arg,
    ArgError,
    Module,
    Outcome,
    PlanState,
    to_bool,
    to_int,
    to_number,
    to_path,
    to_str,
)
from fixer.plan.model import Readiness, ServiceAction

ACTIONS = ("restart", "start", "stop")
_COMPONENT = re.compile(r"[a-z0-9][a-z0-9-]*")

# Management ports answering GET /v1/servers/self/up (apigee-tls.md). `message-processor` is the
# component name older Apigee pages use.
READINESS_PORTS = {"edge-message-processor": 8082, "message-processor": 8082, "edge-router": 8081}
DEFAULT_TIMEOUT_S = 300.0


def to_component(value: Any, what: str) -> str:
    text = to_str(value, what)
    if not _COMPONENT.fullmatch(text):
        raise ArgError(f"{what} must be an apigee-service component name like edge-message-processor, got {text!r}")
    return text


def to_action(value: Any, what: str) -> str:
    text = to_str(value, what)
    if text not in ACTIONS:
        raise ArgError(f"{what} must be one of {', '.join(ACTIONS)}, got {text!r}")
    return text


def to_port(value: Any, what: str) -> int:
    return to_int(value, what, 1, 65535)


def to_timeout(value: Any, what: str) -> float:
    seconds = to_number(value, what)
    if seconds <= 0:
        raise ArgError(f"{what} must be more than 0 seconds, got {value!r}")
    return seconds


READINESS: Mapping[str, Arg] = {
    "port": Arg(to_port, nullable=True),  # null: no HTTP check
    "wait_for_ready": Arg(to_bool),
    "timeout": Arg(to_timeout),
}


class ServiceModule(Module):
    name: ClassVar[str] = "service"
    spec: ClassVar[Mapping[str, Arg]] = {
        "component": Arg(to_component, required=True),
        "action": Arg(to_action, required=True),
        "apigee_service": Arg(to_path),
        "readiness": Arg(fields=READINESS, default={}),
    }
    template_defaults: ClassVar[Mapping[str, str]] = {
        "apigee_service": "{{ apigee_root }}/apigee-service/bin/apigee-service",
    }

    def plan(self, args: Mapping[str, Any], state: PlanState, task: str) -> Outcome:
        component = args["component"]
        ready = args["readiness"]
        readiness = Readiness(
            port=ready["port"] if "port" in ready else READINESS_PORTS.get(component),
            wait_for_ready=ready.get("wait_for_ready", True),
            timeout_s=ready.get("timeout", DEFAULT_TIMEOUT_S),
        )
        command = args.get("apigee_service") or f"{state.host.apigee_root}/apigee-service/bin/apigee-service"
        return Outcome(True, service=ServiceAction(component, args["action"], command, readiness, task))
