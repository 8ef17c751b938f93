#!/usr/bin/python3
"""Stand-in for Apigee's ``apigee-service`` used inside lab nodes.

The lab copies this file to ``/opt/apigee/apigee-service/bin/apigee-service`` on every MP and router
node, where it runs with the distribution's ``/usr/bin/python3``: it must stay standard-library only.
The lab itself also imports it, so that files written at build time are rendered by exactly the same
code as a later ``restart``.

Behaviour that fixer depends on (mirrors the real tool where it matters):
- ``start``/``restart`` regenerate the component's configuration from the token defaults plus the
  customer override file, refusing (exit 1) when that file is not owned ``apigee:apigee``;
- the MP renders ``conf_system_<key>`` / ``conf/system.properties+<key>`` tokens into
  ``edge-message-processor/conf/system.properties``; the router renders its ssl protocol/cipher tokens
  into ``/opt/nginx/conf.d/0-default.conf`` and reloads nginx only after ``nginx -t`` passes;
- a readiness listener answers ``GET /v1/servers/self/up`` on 127.0.0.1:8082 (MP) / 8081 (router);
- knobs: ``/opt/apigee/var/fail-restart`` (start/restart fail after stopping: the component is then
  down, like a real failed restart), ``/opt/apigee/var/never-ready`` (listener answers ``false``),
  ``/opt/apigee/var/ready-timeout`` (seconds ``wait_for_ready`` waits, default 5);
- ``/opt/apigee/var/java-component`` (MP only): the MP's listener is a real JVM instead of python3,
  ``<JDK>/bin/java -Dcomponent=edge-message-processor ... ReadyServer.java`` (java's source launcher,
  the JDK found through ``readlink -f $(command -v java)``), so that ``/proc/<pid>/exe`` of the
  process whose command line names ``edge-message-processor`` is ``.../bin/java`` like on a real MP.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

APIGEE_ROOT = Path("/opt/apigee")
VAR = APIGEE_ROOT / "var"
SERVICE_LOG = VAR / "log" / "apigee-service.log"
NGINX_ROOT = Path("/opt/nginx")
NGINX_CONF = NGINX_ROOT / "nginx.conf"
NGINX_DEFAULT_CONF = NGINX_ROOT / "conf.d" / "0-default.conf"
NGINX_PID = NGINX_ROOT / "run" / "nginx.pid"
NGINX_ERROR_LOG = NGINX_ROOT / "logs" / "error.log"
NGINX_CERT = NGINX_ROOT / "ssl" / "server.crt"
NGINX_KEY = NGINX_ROOT / "ssl" / "server.key"
# -p/-e keep nginx away from the host's /var/log/nginx and /run/nginx.pid.
NGINX_CMD = ["/usr/sbin/nginx", "-p", f"{NGINX_ROOT}/", "-c", str(NGINX_CONF), "-e", str(NGINX_ERROR_LOG)]

ROUTER_PROTOCOLS_TOKEN = "conf_load_balancing_load.balancing.driver.server.ssl.protocols"
ROUTER_CIPHERS_TOKEN = "conf_load_balancing_load.balancing.driver.server.ssl.ciphers"
DEFAULT_READY_TIMEOUT = 5.0
JAVA_KNOB = VAR / "java-component"
# Flags for a quick, small JVM (C1 only, serial GC, no hsperfdata file in /tmp); IPv4 sockets like
# the real MP (its defaults set java.net.preferIPv4Stack), which the lab's /proc/net/tcp check expects;
# -Xrs leaves SIGTERM to the kernel, so stop/down end the JVM in ~10 ms instead of ~300 ms of VM exit.
JAVA_FLAGS = (
    "-Djava.net.preferIPv4Stack=true",
    "-Xrs",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Xmx32m",
    "-XX:-UsePerfData",
)


@dataclass(frozen=True)
class Component:
    name: str  # the directory under /opt/apigee, e.g. edge-message-processor
    short: str  # the customer file stem, e.g. message-processor
    port: int  # management port answering /v1/servers/self/up

    @property
    def home(self) -> Path:
        return APIGEE_ROOT / self.name

    @property
    def customer_file(self) -> Path:
        return APIGEE_ROOT / "customer" / "application" / f"{self.short}.properties"

    @property
    def defaults_file(self) -> Path:
        return self.home / "token" / "default.properties"

    @property
    def pid_file(self) -> Path:
        return VAR / "run" / f"{self.name}.pid"

    @property
    def java_source(self) -> Path:
        """The JVM listener's program (``ReadyServer.java``), used when the java-component knob is set."""
        return self.home / "lib" / "ReadyServer.java"


MP = Component("edge-message-processor", "message-processor", 8082)
ROUTER = Component("edge-router", "router", 8081)
ALIASES = {"edge-message-processor": MP, "message-processor": MP, "edge-router": ROUTER, "router": ROUTER}


class ServiceError(Exception):
    """A failure reported to the caller as ``ERROR: ...`` with exit code 1."""


# ---------------------------------------------------------------- rendering (also used by the lab)


def parse_properties(text: str) -> dict[str, str]:
    """``key=value`` lines in order; comments and blank lines skipped (no continuation lines needed)."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, _, value = line.partition("=")
        result[key.strip()] = value.strip()
    return result


def system_tokens(tokens: dict[str, str]) -> dict[str, str]:
    """Keys for system.properties from both documented token forms, later lines winning."""
    result: dict[str, str] = {}
    for token, value in tokens.items():
        if token.startswith("conf_system_"):
            result[token.removeprefix("conf_system_")] = value
        elif token.startswith("conf/system.properties+"):
            result[token.removeprefix("conf/system.properties+")] = value
    return result


def render_system_properties(defaults: dict[str, str], customer: dict[str, str]) -> str:
    merged = system_tokens(defaults)
    merged.update(system_tokens(customer))
    lines = [
        "# Generated by apigee-service for edge-message-processor from token/default.properties",
        "# and /opt/apigee/customer/application/message-processor.properties. Edits are lost on restart.",
    ]
    lines += [f"{key}={value}" for key, value in merged.items()]
    return "\n".join(lines) + "\n"


def render_router_conf(server_name: str, protocols: str, ciphers: str) -> str:
    return (
        "## Generated by apigee-service edge-router from router.properties; edits are lost on restart.\n"
        "server {\n"
        "    listen 443 ssl;\n"
        f"    server_name {server_name};\n"
        f"    ssl_certificate {NGINX_CERT};\n"
        f"    ssl_certificate_key {NGINX_KEY};\n"
        f"    ssl_protocols {protocols};\n"
        f"    ssl_ciphers '{ciphers}';\n"
        "    location / { return 200; }\n"
        "}\n"
    )


def router_settings(defaults: dict[str, str], customer: dict[str, str]) -> tuple[str, str]:
    merged = {**defaults, **customer}
    return merged.get(ROUTER_PROTOCOLS_TOKEN, "TLSv1.2"), merged.get(ROUTER_CIPHERS_TOKEN, "HIGH:!aNULL:!MD5")


# ---------------------------------------------------------------- process helpers


def _log(component: Component, action: str, result: str) -> None:
    SERVICE_LOG.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().isoformat(timespec="milliseconds")
    with SERVICE_LOG.open("a") as fh:
        fh.write(f"{stamp} {component.name} {action} {result}\n")


def _alive(pid: int) -> bool:
    """True for a running process; zombies count as dead because PID 1 may reap them late."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _wait_dead(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _kill(pids: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if _wait_dead(pids, 3.0):
            return


def _listener_pid(component: Component) -> int | None:
    pid = _read_pid(component.pid_file)
    if pid is None or not _alive(pid):
        return None
    # Guard against a recycled pid: only our own listeners carry these markers in their command line
    # (python: the _serve argument; JVM: the path of the java source file it runs).
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    markers = (b"_serve", os.fsencode(component.java_source))
    return pid if any(marker in cmdline for marker in markers) else None


def _children(ppid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == ppid:
                found.append(int(entry))
    return found


# ---------------------------------------------------------------- component actions


def _check_owner(component: Component) -> None:
    path = component.customer_file
    if not path.exists():
        return  # no overrides: defaults only, like the real tool
    apigee = pwd.getpwnam("apigee")
    st = path.stat()
    if (st.st_uid, st.st_gid) != (apigee.pw_uid, apigee.pw_gid):
        raise ServiceError(
            f"{path} must be owned by apigee:apigee (uid {st.st_uid}, gid {st.st_gid} found); "
            f"run: chown apigee:apigee {path}"
        )


def _read_tokens(path: Path) -> dict[str, str]:
    return parse_properties(path.read_text()) if path.exists() else {}


def _render(component: Component) -> None:
    defaults = _read_tokens(component.defaults_file)
    customer = _read_tokens(component.customer_file)
    if component is MP:
        target = MP.home / "conf" / "system.properties"
        target.write_text(render_system_properties(defaults, customer))
    else:
        protocols, ciphers = router_settings(defaults, customer)
        NGINX_DEFAULT_CONF.write_text(render_router_conf(socket.gethostname(), protocols, ciphers))


def _nginx(args: list[str], what: str) -> None:
    with (NGINX_ROOT / "logs" / "control.log").open("a") as log:
        proc = subprocess.run(
            NGINX_CMD + args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.PIPE,
            timeout=20,
            check=False,
        )
    if proc.returncode != 0:
        raise ServiceError(f"{what} failed: {proc.stderr.decode(errors='replace').strip()}")


def _nginx_start_or_reload() -> None:
    _nginx(["-t", "-q"], "nginx -t")  # a broken config must leave the running nginx untouched
    master = _read_pid(NGINX_PID)
    if master is None or not _alive(master):
        _nginx([], "nginx start")
        return
    old_workers = _children(master)
    _nginx(["-s", "reload"], "nginx reload")
    # reload is asynchronous: wait until the old workers are gone so callers see the new settings.
    _wait_dead(old_workers, 5.0)


def _nginx_stop() -> None:
    master = _read_pid(NGINX_PID)
    if master is not None and _alive(master):
        workers = _children(master)
        _kill([master])
        _wait_dead(workers, 3.0)


def _java_binary() -> str:
    """``<JDK>/bin/java`` by its full path: the directory of ``readlink -f $(command -v java)``."""
    import shutil

    found = shutil.which("java")
    if found is None:
        raise ServiceError(f"knob {JAVA_KNOB} is set but there is no java on PATH ({os.environ.get('PATH')})")
    real = os.path.realpath(found)
    if os.path.basename(real) != "java" or not os.access(real, os.X_OK):
        raise ServiceError(f"java on PATH ({found}) resolves to {real}, not an executable .../bin/java")
    return real


def _listener_argv(component: Component) -> list[str]:
    if component is MP and JAVA_KNOB.exists():
        source = component.java_source
        if not source.is_file():
            raise ServiceError(f"knob {JAVA_KNOB} is set but {source} is missing")
        return [
            _java_binary(),
            f"-Dcomponent={component.name}",
            *JAVA_FLAGS,
            str(source),
            str(component.port),
            str(VAR / "never-ready"),
        ]
    return [sys.executable, os.path.realpath(sys.argv[0]), "_serve", component.name]


def _start_listener(component: Component) -> None:
    component.pid_file.parent.mkdir(parents=True, exist_ok=True)
    argv = _listener_argv(component)
    log = (VAR / "log" / f"{component.name}-listener.log").open("a")
    with log:
        # A new session detaches the listener from the SSH channel, so the caller's exec returns.
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    component.pid_file.write_text(f"{proc.pid}\n")


def _stop(component: Component, stop_nginx: bool = True) -> None:
    pid = _listener_pid(component)
    if pid is not None:
        _kill([pid])
    component.pid_file.unlink(missing_ok=True)
    if component is ROUTER and stop_nginx:
        _nginx_stop()


def _start(component: Component) -> None:
    if (VAR / "fail-restart").exists():
        raise ServiceError(f"{component.name} failed to start (knob {VAR / 'fail-restart'} present)")
    _check_owner(component)
    _render(component)
    if component is ROUTER:
        _nginx_start_or_reload()
    if _listener_pid(component) is None:
        _start_listener(component)


def _ready(component: Component) -> bool:
    import urllib.request  # imported here: it costs ~30 ms and most actions never need it

    url = f"http://127.0.0.1:{component.port}/v1/servers/self/up"
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:
            body: bytes = resp.read()
    except OSError:  # URLError is an OSError
        return False
    return body.strip() == b"true"


def _ready_timeout() -> float:
    try:
        return float((VAR / "ready-timeout").read_text().strip())
    except (OSError, ValueError):
        return DEFAULT_READY_TIMEOUT


def _configure_search(component: Component, token: str) -> int:
    for path in (component.customer_file, component.defaults_file):
        tokens = _read_tokens(path)
        if token in tokens:
            print(f"Found key {token}, with value, {tokens[token]}, in {path}")
            return 0
    print(f"Key {token} not found")
    return 1


def run_action(component: Component, action: str, args: list[str]) -> int:
    if not component.home.is_dir():
        raise ServiceError(f"component {component.name} is not installed on this node")
    if action == "start":
        if _listener_pid(component) is not None:
            print(f"{component.name} is already running")
            return 0
        try:
            _start(component)
        except ServiceError:
            _log(component, "start", "failed")
            raise
        _log(component, "start", "ok")
        print(f"Starting {component.name} ... done")
    elif action == "stop":
        _stop(component)
        _log(component, "stop", "ok")
        print(f"Stopping {component.name} ... done")
    elif action == "restart":
        try:
            _check_owner(component)  # refused before stopping: the running component stays up
            if component is ROUTER:
                # Like the real router: nginx is reloaded, not stopped, so a config that fails
                # nginx -t leaves the old one serving.
                _render(component)
                _nginx(["-t", "-q"], "nginx -t")
            _stop(component, stop_nginx=(VAR / "fail-restart").exists())
            _start(component)
        except ServiceError:
            _log(component, "restart", "failed")
            raise
        _log(component, "restart", "ok")
        print(f"Restarting {component.name} ... done")
    elif action == "status":
        pid = _listener_pid(component)
        if pid is None:
            print(f"{component.name} is not running")
            return 1
        print(f"{component.name} is running (pid {pid})")
    elif action == "wait_for_ready":
        deadline = time.monotonic() + _ready_timeout()
        while not _ready(component):
            if time.monotonic() > deadline:
                print(f"Timed out waiting for {component.name} to be ready")
                return 1
            time.sleep(0.05)
        print(f"{component.short} is up")
    elif action == "configure" and len(args) == 2 and args[0] == "-search":
        return _configure_search(component, args[1])
    else:
        raise ServiceError(f"unknown action {action!r}")
    return 0


# ---------------------------------------------------------------- readiness listener


def _answer(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(5.0)
        request = b""
        while b"\r\n\r\n" not in request and len(request) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            request += chunk
        parts = request.split(b"\r\n", 1)[0].split()
        path = parts[1].decode(errors="replace") if len(parts) >= 2 else ""
        if len(parts) >= 2 and parts[0] == b"GET" and path.rstrip("/") == "/v1/servers/self/up":
            status, body = "200 OK", b"false" if (VAR / "never-ready").exists() else b"true"
        else:
            status, body = "404 Not Found", b"not found"
        head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        conn.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)


def serve(component: Component) -> None:
    """Readiness endpoint. Plain sockets rather than http.server: ~40 ms less start-up per node,
    which adds up when a lab starts dozens of components on two cores."""
    import threading

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    with socket.create_server(("127.0.0.1", component.port)) as server:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=_answer, args=(conn,), daemon=True).start()


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "_serve":
        serve(ALIASES[argv[1]])
        return 0
    if len(argv) < 2:
        print("usage: apigee-service <component> start|stop|restart|status|wait_for_ready", file=sys.stderr)
        return 2
    name, action, rest = argv[0], argv[1], argv[2:]
    if name == "apigee-all":
        components = [c for c in (ROUTER, MP) if c.home.is_dir()]
    elif name in ALIASES:
        components = [ALIASES[name]]
    else:
        print(f"ERROR: unknown component {name}", file=sys.stderr)
        return 1
    code = 0
    for component in components:
        try:
            code = max(code, run_action(component, action, rest))
        except ServiceError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
