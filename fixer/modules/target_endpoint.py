"""`target_endpoint`: set `<SSLInfo>` children of an API proxy TargetEndpoint XML file (see bundles.edit).

    target_endpoint:
      path: /srv/bundles/orders/apiproxy/targets/default.xml
      target: default                 # optional: the TargetEndpoint's name attribute must match
      enabled: true                   # <Enabled>
      protocols: [TLSv1.2, TLSv1.3]   # <Protocols><Protocol>..; [] removes <Protocols> (JVM default)
      ciphers: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]  # <Ciphers><Cipher>..; [] removes <Ciphers>
      ignore_validation_errors: false # <IgnoreValidationErrors>

`<SSLInfo>` is created under `<HTTPTargetConnection>` when missing; the rest of the document is kept byte
for byte and an edit that changes nothing leaves the file's bytes as they were. Owner, group and mode stay.
A null argument (e.g. `"{{ var | default(None) }}"`) leaves that child alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from fixer.bundles.edit import PROTOCOLS, SSLSettings, edit_ssl_info
from fixer.errors import UsageError
from fixer.modules.base import (
    Arg,
    ArgError,
    Module,
    Outcome,
    PlanError,
    PlanState,
    did_you_mean,
    to_bool,
    to_path,
    to_str,
    to_str_list,
)
from fixer.plan.model import FileState

SETTINGS = ("enabled", "protocols", "ciphers", "ignore_validation_errors")
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def _split(value: Any, what: str) -> list[str]:
    """A list of strings, or one string separated by commas and/or spaces."""
    if isinstance(value, str):
        return [v for v in re.split(r"[\s,]+", value) if v]
    return to_str_list(value, what)


def to_protocols(value: Any, what: str) -> tuple[str, ...]:
    items = _split(value, what)
    for item in items:
        if item not in PROTOCOLS:
            raise ArgError(f"{what}: {item!r} is not one of {', '.join(PROTOCOLS)}{did_you_mean(item, PROTOCOLS)}")
    if len(set(items)) != len(items):
        raise ArgError(f"{what}: a protocol is listed twice: {items}")
    return tuple(items)


def to_ciphers(value: Any, what: str) -> tuple[str, ...]:
    items = _split(value, what)
    for item in items:
        if not _NAME.fullmatch(item):
            raise ArgError(f"{what}: {item!r} is not a cipher suite name (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)")
    if len(set(items)) != len(items):
        raise ArgError(f"{what}: a cipher is listed twice: {items}")
    return tuple(items)


class TargetEndpointModule(Module):
    name: ClassVar[str] = "target_endpoint"
    path_arg: ClassVar[str | None] = "path"
    spec: ClassVar[Mapping[str, Arg]] = {
        "path": Arg(to_path, required=True),
        "target": Arg(to_str, nullable=True),
        "enabled": Arg(to_bool, nullable=True),
        "protocols": Arg(to_protocols, nullable=True),
        "ciphers": Arg(to_ciphers, nullable=True),
        "ignore_validation_errors": Arg(to_bool, nullable=True),
    }

    def check(self, args: Mapping[str, Any], static: bool) -> None:
        if all(args.get(k) is None for k in SETTINGS):
            raise ArgError(f"target_endpoint: nothing to do (give {', '.join(SETTINGS)})")

    def plan(self, args: Mapping[str, Any], state: PlanState, task: str) -> Outcome:
        path = args["path"]
        before = state.read(path)
        if not before.exists:
            raise PlanError(f"{path} does not exist (target_endpoint edits an existing TargetEndpoint file)")
        settings = SSLSettings(**{key: args.get(key) for key in SETTINGS})
        try:
            content = edit_ssl_info(before.content, path, settings, args.get("target"))
        except UsageError as exc:
            raise PlanError(str(exc)) from None
        if content == before.content:
            return Outcome(state.write(path, before, task))
        after = FileState(True, content, before.owner, before.group, before.mode)
        return Outcome(state.write(path, after, task))
