"""Masking secrets before anything reaches the journal: argv (`-e key=value`) and run summaries."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

REDACTED = "********"

# Names whose values are secrets. Broader than the report's rule: a journal lives long and is copied around.
_SECRET_NAME = re.compile(
    r"pass|pwd|secret|credential|private|api[_.-]?key|access[_.-]?key|auth|cookie|session[_.-]?key"
    r"|token(?:$|[._-])",  # `vault_token`, not Apigee override `tokens`
    re.IGNORECASE,
)
# Options that take a secret as their next argument (the `--opt=value` form is caught by name instead).
SECRET_OPTIONS = frozenset({
    "--password", "--become-password", "--become-pass", "--ssh-password", "--ssh-pass", "--sudo-password",
    "--token", "--secret", "--vault-password",
})
_EXTRA_VARS = ("-e", "--extra-vars")
# A `key=` at the start of the value or after whitespace: where one assignment of `-e` starts.
_ASSIGNMENT = re.compile(r"(?:^|(?<=\s))([A-Za-z_][\w.-]*)=")


def is_secret_name(name: str) -> bool:
    """True when a variable or option name looks like it holds a secret (over-masking is the safe side)."""
    return _SECRET_NAME.search(name) is not None


def redact_extra_vars(value: str) -> str:
    """The value of one `-e`: `@file` kept, JSON objects and `k=v [k2=v2 …]` with secret values masked."""
    text = value.strip()
    if text.startswith("@"):
        return value
    if text.startswith(("{", "[")):
        try:
            return json.dumps(redact_data(json.loads(text)), separators=(",", ":"), sort_keys=True)
        except ValueError:
            return REDACTED  # unreadable JSON: keep nothing of it
    starts = list(_ASSIGNMENT.finditer(value))
    if not starts:
        return value
    out = [value[: starts[0].start()]]
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(value)
        segment = value[match.start(): end]
        if is_secret_name(match.group(1)):
            trailing = segment[len(segment.rstrip()):]
            segment = f"{match.group(1)}={REDACTED}{trailing}"
        out.append(segment)
    return "".join(out)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A copy of argv fit for the journal: secret `-e` values and values of secret-looking options masked."""
    out: list[str] = []
    pending: str | None = None  # what the previous token says this one is
    for token in argv:
        if pending == "extra":
            out.append(redact_extra_vars(token))
        elif pending == "secret":
            out.append(REDACTED)
        elif token.startswith("--extra-vars="):
            out.append("--extra-vars=" + redact_extra_vars(token[len("--extra-vars="):]))
        elif token.startswith("-e") and not token.startswith("--") and len(token) > 2:
            out.append("-e" + redact_extra_vars(token[2:]))
        elif token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
            out.append(f"{name}={REDACTED}" if is_secret_name(name) and value else token)
        else:
            out.append(token)
        if pending is not None:
            pending = None
        elif token in _EXTRA_VARS:
            pending = "extra"
        elif token in SECRET_OPTIONS:
            pending = "secret"
    return out


def redact_data(data: Any) -> Any:
    """A JSON-like value with the values of secret-looking keys masked, recursively."""
    if isinstance(data, Mapping):
        return {str(k): (REDACTED if is_secret_name(str(k)) else redact_data(v)) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(v) for v in data]
    return data
