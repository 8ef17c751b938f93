"""`verify`: a post-condition the executor checks on the node after the handlers ran.

Exactly one of:
- `properties: {path, key, value}`: the .properties file holds key=value (last occurrence, as Java
  reads it); without `value`, the key must be absent.
- `nginx_test: true` or `nginx_test: {config: /path/nginx.conf}`: `nginx -t` (with `-c config`) passes.
- `file_contains: {path, pattern}`: a Python regular expression (multiline) matches the file.
A verify changes nothing, so it cannot `notify`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from fixer.modules.base import (
    Arg,
    ArgError,
    Module,
    Outcome,
    PlanState,
    to_bool,
    to_path,
    to_regex,
    to_scalar_text,
    to_str,
)
from fixer.plan.model import Verify

KINDS = ("properties", "nginx_test", "file_contains")

_NGINX_CONFIG: Mapping[str, Arg] = {"config": Arg(to_path)}


def _nginx_true(value: Any, what: str) -> dict[str, Any]:
    if not to_bool(value, what):
        raise ArgError(f"{what}: false checks nothing; remove the verify task instead")
    return {}


class VerifyModule(Module):
    name: ClassVar[str] = "verify"
    spec: ClassVar[Mapping[str, Arg]] = {
        "properties": Arg(fields={
            "path": Arg(to_path, required=True),
            "key": Arg(to_str, required=True),
            "value": Arg(to_scalar_text),
        }),
        "nginx_test": Arg(_nginx_true, fields=_NGINX_CONFIG),
        "file_contains": Arg(fields={
            "path": Arg(to_path, required=True),
            "pattern": Arg(to_regex, required=True),
        }),
    }
    can_change: ClassVar[bool] = False

    def check(self, args: Mapping[str, Any], static: bool) -> None:
        given = [k for k in KINDS if k in args]
        if len(given) != 1:
            raise ArgError(f"verify needs exactly one of {', '.join(KINDS)}"
                           + (f", got {', '.join(given)}" if given else ""))

    def plan(self, args: Mapping[str, Any], state: PlanState, task: str) -> Outcome:
        if "properties" in args:
            p = args["properties"]
            verify = Verify("properties", task, path=p["path"], key=p["key"], value=p.get("value"))
        elif "file_contains" in args:
            f = args["file_contains"]
            verify = Verify("file_contains", task, path=f["path"], pattern=f["pattern"])
        else:
            verify = Verify("nginx_test", task, path=args["nginx_test"].get("config"))
        return Outcome(False, verify=verify)
