"""The modules a playbook task can use. The set is small and closed: each one plans exactly.

| module       | does                                                          |
|--------------|---------------------------------------------------------------|
| `properties` | set/remove keys of a Java .properties file (round-trip)       |
| `template`   | render a Jinja2 template from templates/ to a file            |
| `file`       | owner/group/mode of an existing file                          |
| `service`    | apigee-service <component> restart/start/stop + readiness gate |
| `verify`     | a post-condition checked on the node after the handlers       |
| `target_endpoint` | set `<SSLInfo>` children of a proxy bundle's TargetEndpoint XML |
"""

from __future__ import annotations

from fixer.modules.base import ArgError, Module, Outcome, PlanError, PlanState
from fixer.modules.file import FileModule
from fixer.modules.properties import PropertiesModule
from fixer.modules.service import ServiceModule
from fixer.modules.target_endpoint import TargetEndpointModule
from fixer.modules.template import TemplateModule
from fixer.modules.verify import VerifyModule

MODULES: dict[str, Module] = {
    m.name: m for m in (PropertiesModule(), TemplateModule(), FileModule(), ServiceModule(), VerifyModule(),
              TargetEndpointModule())
}

__all__ = ["MODULES", "ArgError", "Module", "Outcome", "PlanError", "PlanState"]
