"""OpenSSL cipher names: parse `openssl ciphers -stdname -v`, normalise names, flag weak suites.

Everything here is pure except `expand_cipher_string`, at the bottom, which runs the control machine's
own `openssl` binary.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Mapping

from fixer.errors import ParseError

PROTOCOL_ORDER = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_PROTOCOL_ALIASES = {"TLSv1.0": "TLSv1"}

NO_STDNAME = "(NONE)"
"""What `openssl ciphers -stdname` prints for a suite without an IANA name."""

# `TLS_RSA_WITH_AES_128_CBC_SHA                  - AES128-SHA                     SSLv3   Kx=RSA ...`
_STDNAME_LINE = re.compile(r"^(?P<iana>\S+)\s+-\s+(?P<openssl>\S+)(?:\s+(?P<rest>.*))?$")


def protocol_rank(name: str) -> int:
    """Position of a protocol in PROTOCOL_ORDER (SSLv2 = 0 ... TLSv1.3 = 5); `TLSv1.0` means TLSv1.

    Raises ParseError for a name that is not a known SSL/TLS protocol.
    """
    canonical = _PROTOCOL_ALIASES.get(name.strip(), name.strip())
    try:
        return PROTOCOL_ORDER.index(canonical)
    except ValueError:
        raise ParseError(f"unknown SSL/TLS protocol: {name!r}") from None


def parse_openssl_ciphers_stdname(text: str) -> tuple[tuple[str, str], ...]:
    """(IANA name, OpenSSL name) for each line of `openssl ciphers -stdname [-v] [-s]` output.

    A suite whose IANA name is `(NONE)` keeps its OpenSSL name in both places (there is nothing better
    to report). Lines that are not `IANA - OPENSSL ...` (blank lines, warnings mixed in by `2>&1`) are
    skipped, but output with no such line at all raises ParseError (e.g. an error message, or a plain
    `openssl ciphers -v` listing without `-stdname`). Empty output gives ().
    """
    pairs: list[tuple[str, str]] = []
    noise: list[str] = []
    for line in text.splitlines():
        match = _STDNAME_LINE.match(line.strip())
        if match is None:
            if line.strip():
                noise.append(line.strip())
            continue
        iana, openssl = match["iana"], match["openssl"]
        pairs.append((openssl if iana == NO_STDNAME else iana, openssl))
    if noise and not pairs:
        raise ParseError(f"not `openssl ciphers -stdname` output: {' / '.join(noise[:3])!r}")
    return tuple(pairs)


def normalize_cipher_names(names: Iterable[str], table: Mapping[str, str]) -> tuple[str, ...]:
    """IANA names for a mix of IANA (`TLS_RSA_WITH_AES_128_CBC_SHA`) and OpenSSL (`AES128-SHA`) names.

    `table` maps OpenSSL names to IANA names (e.g. `dict((o, i) for i, o in parse_openssl_ciphers_
    stdname(...))`). Names that are neither in the table nor look like IANA names are kept as they are;
    surrounding whitespace and empty names are dropped. Order is kept.
    """
    result: list[str] = []
    for raw in names:
        name = raw.strip()
        if name:
            result.append(table.get(name, name))
    return tuple(result)


# (reason, pattern), first match wins. Patterns run on "_" + NAME.upper().replace("-", "_") + "_", so
# they work on IANA names (TLS_RSA_WITH_RC4_128_SHA) and on OpenSSL names (RC4-SHA) alike.
_WEAK_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("NULL encryption", re.compile(r"_NULL_")),
    ("anonymous key exchange (no authentication)", re.compile(r"_ANON_|_ADH_|_AECDH_")),
    ("export-grade", re.compile(r"_EXPORT|_EXP_|_EXP1024_")),
    ("RC4", re.compile(r"_RC4_")),
    ("3DES/DES", re.compile(r"_3DES_|_DES_CBC|_DES40_")),
    ("MD5 MAC", re.compile(r"_MD5_")),
)


def weak_ciphers(iana_names: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(name, reason) for each weak suite: NULL, anonymous, EXPORT, RC4, 3DES/single DES, MD5 MAC.

    Meant for IANA names; OpenSSL names (`DES-CBC3-SHA`, `ADH-AES128-SHA`) are recognised as well.
    """
    weak: list[tuple[str, str]] = []
    for name in iana_names:
        key = "_" + name.strip().upper().replace("-", "_") + "_"
        for reason, pattern in _WEAK_RULES:
            if pattern.search(key):
                weak.append((name, reason))
                break
    return tuple(weak)


# --- local I/O: the control machine's openssl ---------------------------------------------------------

OPENSSL_TIMEOUT_SECONDS = 10.0


def expand_cipher_string(cipher_string: str, openssl: str = "openssl") -> tuple[str, ...]:
    """IANA names of the suites an OpenSSL cipher string selects, per the LOCAL `openssl` binary.

    Runs `openssl ciphers -stdname -v CIPHER_STRING` (no shell). Note that OpenSSL always lists its
    TLSv1.3 suites too: cipher strings (and nginx's `ssl_ciphers`) do not control TLSv1.3. Raises
    ParseError with OpenSSL's message when nothing matches ("no cipher match"), when the binary is
    missing, times out, or prints something unreadable.
    """
    command = [openssl, "ciphers", "-stdname", "-v", cipher_string]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ParseError(f"cannot run {openssl} ciphers: {exc}") from exc
    if done.returncode != 0:
        message = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
        raise ParseError(f"{openssl} ciphers failed for {cipher_string!r}: {message}")
    return tuple(iana for iana, _ in parse_openssl_ciphers_stdname(done.stdout))
