"""The fallback when a node forbids TCP forwarding: `openssl s_client` run on the node, parsed into the model.

All attempts of one phase run in ONE batched script (in parallel, each bounded by `timeout`); every value
is shlex-quoted and stdin is /dev/null. The output of each attempt is parsed into the `HandshakeResult` /
`Failure` model of the engine, so verdicts read the same as for tunnelled handshakes.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import ssl
from dataclasses import dataclass

from fixer.errors import RemoteCommandError
from fixer.probe.engine import sni_name, summarize
from fixer.probe.handshake import PROBE_CIPHERS, failure_from_reason, protocol_label
from fixer.probe.model import PROTOCOLS, CertSummary, Failure, HandshakeResult, ProbeResult, ProbeTarget
from fixer.transport.ssh import Session

ProtocolSpec = str | tuple[str, str]

_FLAGS = {"TLSv1": "-tls1", "TLSv1.1": "-tls1_1", "TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}
_MARK = "@@fixer-s_client"
_TIMEOUT_RCS = (124, 137)  # `timeout` expired (137: killed by -k)

_NEW = re.compile(r"^New, (?P<proto>\S+), Cipher is (?P<cipher>\S+)", re.M)
_SESSION_PROTO = re.compile(r"^\s+Protocol\s*:\s*(?P<proto>\S+)", re.M)
_VERIFY = re.compile(r"^\s*Verify return code: (?P<code>\d+) \((?P<msg>[^)]*)\)", re.M)
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.S)
# 80DB...:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:file.c:1601:SSL alert number 70
_ERROR = re.compile(r"^[0-9A-F]+:error:[0-9A-F]+:(?P<lib>[^:]*):(?P<func>[^:]*):(?P<reason>[^:]*):", re.M)
_ERRNO = re.compile(r"^connect:errno=(?P<errno>\d+)", re.M)
_ERRNO_KINDS = {111: "refused", 110: "timeout", 104: "reset"}


@dataclass(frozen=True)
class SClientOutput:
    """What one `openssl s_client` run printed, as data."""

    connected: bool
    protocol: str | None  # negotiated, None when the handshake did not complete
    cipher: str | None
    chain: tuple[bytes, ...]  # DER, leaf first (from -showcerts)
    verify_code: int | None
    verify_message: str | None
    errors: tuple[tuple[str, str, str], ...]  # (library, function, reason) of OpenSSL error lines
    connect_errno: int | None
    exit_status: int | None


def parse_s_client(text: str, exit_status: int | None = None) -> SClientOutput:
    new = _NEW.search(text)
    proto = cipher = None
    if new and new.group("proto") != "(NONE)":
        proto, cipher = new.group("proto"), new.group("cipher")
        session = _SESSION_PROTO.search(text)  # "New, TLSv1/SSLv3" on old OpenSSL: the session block is exact
        if session and session.group("proto") in PROTOCOLS:
            proto = session.group("proto")
    verify = _VERIFY.search(text)
    errno = _ERRNO.search(text)
    chain = tuple(ssl.PEM_cert_to_DER_cert(m.group(0)) for m in _PEM.finditer(text)) if proto else ()
    return SClientOutput(
        connected="CONNECTED(" in text,
        protocol=proto,
        cipher=cipher,
        chain=chain,
        verify_code=int(verify.group("code")) if verify and proto else None,
        verify_message=verify.group("msg") if verify and proto else None,
        errors=tuple((m.group("lib"), m.group("func"), m.group("reason").strip()) for m in _ERROR.finditer(text)),
        connect_errno=int(errno.group("errno")) if errno else None,
        exit_status=exit_status,
    )


def failure_of(out: SClientOutput, timeout: float) -> Failure | None:
    """None for a completed handshake, else the same `Failure` the engine reports for that cause."""
    if out.protocol is not None:
        return None
    if out.exit_status in _TIMEOUT_RCS:
        return Failure("timeout", message=f"openssl s_client did not finish within {timeout:g}s")
    message = "; ".join(reason for _, _, reason in out.errors)
    for lib, func, reason in out.errors:
        low = reason.lower()
        if func == "BIO_lookup_ex" or "name or service not known" in low or "name resolution" in low:
            return Failure("dns", message=reason)
        if lib == "system library" and "refused" in low:
            return Failure("refused", message=reason)
    if out.connect_errno is not None and not out.connected:
        kind = _ERRNO_KINDS.get(out.connect_errno, "error")
        return Failure(kind, message=message or f"connect errno {out.connect_errno}")  # type: ignore[arg-type]
    for lib, _, reason in out.errors:  # the first TLS reason, named as the engine names OpenSSL's reason codes
        if lib == "SSL routines":
            return failure_from_reason(reason.upper().replace(" ", "_"), reason)
    if out.connected:
        return Failure("closed", message=message or "handshake did not complete (no alert)")
    return Failure("error", message=message or f"openssl s_client exited {out.exit_status}")


def handshake_of(protocol: ProtocolSpec, servername: str | None, out: SClientOutput, timeout: float,
                 elapsed: float = 0.0) -> HandshakeResult:
    failure = failure_of(out, timeout)
    return HandshakeResult(
        protocol_offered=protocol_label(protocol), sni=servername is not None, ok=failure is None,
        negotiated_protocol=out.protocol if failure is None else None, cipher=out.cipher if failure is None else None,
        peer_chain=tuple(CertSummary.from_der(d) for d in out.chain), failure=failure, servername=servername,
        elapsed=elapsed,
    )


# --- the batched script ----------------------------------------------------------------------------------


def s_client_argv(target: ProbeTarget, protocol: ProtocolSpec, servername: str | None) -> list[str]:
    host = f"[{target.host}]" if ":" in target.host else target.host
    argv = ["openssl", "s_client", "-connect", f"{host}:{target.port}"]
    argv += ["-servername", servername] if servername is not None else ["-noservername"]
    if isinstance(protocol, str):
        argv.append(_FLAGS[protocol])
    else:
        argv += ["-min_protocol", protocol[0], "-max_protocol", protocol[1]]
    return [*argv, "-cipher", PROBE_CIPHERS, "-showcerts"]


def build_script(target: ProbeTarget, attempts: list[tuple[ProtocolSpec, str | None]], timeout: float) -> str:
    """One POSIX sh script running every attempt in parallel; outputs are printed in order between markers."""
    lines = ['d=$(mktemp -d) || exit 70', "trap 'rm -rf \"$d\"' EXIT", "now() { date +%s%N 2>/dev/null || echo 0; }"]
    bound = f"{timeout:g}"
    for i, (protocol, servername) in enumerate(attempts):
        cmd = shlex.join(s_client_argv(target, protocol, servername))
        lines.append(f'{{ s=$(now); timeout -k 1 {shlex.quote(bound)} {cmd} </dev/null >"$d/{i}" 2>&1; '
                     f'echo "$? $s $(now)" >"$d/{i}.rc"; }} &')
    lines.append("wait")
    for i in range(len(attempts)):
        lines.append(f'echo "{_MARK} {i} begin"; cat "$d/{i}"; echo; echo "{_MARK} {i} end $(cat "$d/{i}.rc")"')
    return "\n".join(lines) + "\n"


_BLOCK = re.compile(rf"^{re.escape(_MARK)} (?P<i>\d+) begin\n(?P<body>.*?)\n{re.escape(_MARK)} (?P=i) end "
                    r"(?P<rc>-?\d+) (?P<start>\d+) (?P<stop>\d+)$", re.S | re.M)


def split_output(stdout: str) -> dict[int, tuple[str, int, float]]:
    """attempt index -> (s_client output, exit status, seconds)."""
    blocks: dict[int, tuple[str, int, float]] = {}
    for m in _BLOCK.finditer(stdout):
        start, stop = int(m.group("start")), int(m.group("stop"))
        seconds = round((stop - start) / 1e9, 4) if start and stop >= start else 0.0
        blocks[int(m.group("i"))] = (m.group("body"), int(m.group("rc")), seconds)
    return blocks


def run_attempts(session: Session, target: ProbeTarget, attempts: list[tuple[ProtocolSpec, str | None]],
                 timeout: float) -> list[HandshakeResult]:
    """Run the attempts on the session's node (login user, no sudo). Raises HostError if the script fails."""
    result = session.run_script(build_script(target, attempts, timeout), become=False)
    blocks = split_output(result.stdout.decode(errors="replace"))
    if len(blocks) != len(attempts):
        detail = result.stderr.decode(errors="replace").strip()[-300:]
        raise RemoteCommandError(f"openssl s_client script on {session.host.name} exited {result.exit_status}: "
                                 f"{detail or 'unexpected output'}")
    out: list[HandshakeResult] = []
    for i, (protocol, servername) in enumerate(attempts):
        body, rc, seconds = blocks[i]
        out.append(handshake_of(protocol, servername, parse_s_client(body, rc), timeout, seconds))
    return out


def probe_with_openssl(session: Session, target: ProbeTarget, timeout: float = 5.0) -> ProbeResult:
    """The engine's probe, phases and verdicts included, with `openssl s_client` on the node as the client."""
    name = sni_name(target)
    attempts: list[tuple[ProtocolSpec, str | None]] = [(p, name) for p in PROTOCOLS]
    if name is not None:
        attempts.append(((PROTOCOLS[0], PROTOCOLS[-1]), None))
    results = run_attempts(session, target, attempts, timeout)
    with_sni, nosni = results[: len(PROTOCOLS)], results[len(PROTOCOLS):]

    def confirm(protocol: str) -> HandshakeResult:
        return run_attempts(session, target, [(protocol, None)], timeout)[0]

    result = summarize(target, name, with_sni, nosni, confirm)
    return dataclasses.replace(result, via="node-openssl", vantage=session.host.name)
