"""The lab's nodes: fixed host names, addresses and the problem each one carries.

fixer's tests depend on these names, so they never change. The last octet of every address is fixed
too (127.77.X.<host>), only X varies per lab run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from tests.lab.apigee_service import ROUTER_CIPHERS_TOKEN, ROUTER_PROTOCOLS_TOKEN

NodeKind = Literal["mp", "router", "plain", "absent"]
SudoMode = Literal["nopasswd", "password", "none"]

MP_GROUP, ROUTER_GROUP, BASTION_GROUP = "message_processors", "routers", "bastions"
SNI_TRUE = "conf_system_jsse.enableSNIExtension=true"
HEALTHY_CIPHERS = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"

MP_DEFAULT_TOKENS = (
    "# Component defaults shipped with edge-message-processor (lab stand-in)",
    "conf_system_https.protocols=TLSv1.2,TLSv1.3",
    "conf_system_java.net.preferIPv4Stack=true",
    "conf_message-processor_some.other.key=0",
)
ROUTER_DEFAULT_TOKENS = (
    "# Component defaults shipped with edge-router (lab stand-in)",
    f"{ROUTER_PROTOCOLS_TOKEN}=TLSv1.2",
    f"{ROUTER_CIPHERS_TOKEN}=HIGH:!aNULL:!MD5",
)


@dataclass(frozen=True)
class JavaSpec:
    home: str  # path inside the node, e.g. /opt/java/jdk8u161
    update: int
    crypto_policy: str | None


@dataclass
class NodeSpec:
    name: str
    host: int  # last octet of the node's address
    kind: NodeKind
    group: str
    customer: tuple[str, ...] = ()  # customer file as built (and rendered by the first start)
    # Applied after the components started, to model edits an operator made since the last restart.
    customer_after_start: tuple[str, ...] | None = None
    customer_root_owned: bool = False  # chown root:root after start
    customer_mode: int = 0o644  # mode applied together with customer_root_owned
    drift_protocols: str | None = None  # hand edit of 0-default.conf after start
    stale_cert: bool = False  # server.crt overwritten after start by a wrong cert, no reload (rt-cert-bad)
    sudo: SudoMode = "nopasswd"
    java: JavaSpec | None = None
    # The MP listener is a real JVM (java-component knob) instead of python3: /proc/<pid>/exe is bin/java.
    java_process: bool = False
    wrong_known_host_key: bool = False
    tcp_forwarding: bool = True  # False: sshd_config AllowTcpForwarding no (direct-tcpip administratively prohibited)
    host_vars: dict[str, object] = field(default_factory=dict)


def _mp_customer(scenario: str, *tokens: str) -> tuple[str, ...]:
    return (
        f"# Customer overrides for the Message Processor (lab scenario {scenario})",
        *tokens,
        "conf_message-processor_some.other.key=1",
    )


def _router_customer(scenario: str, protocols: str, ciphers: str) -> tuple[str, ...]:
    return (
        f"# Customer overrides for the Router (lab scenario {scenario})",
        f"{ROUTER_PROTOCOLS_TOKEN}={protocols}",
        f"{ROUTER_CIPHERS_TOKEN}={ciphers}",
    )


def _mp(name: str, host: int, *tokens: str) -> NodeSpec:
    return NodeSpec(name, host, "mp", MP_GROUP, customer=_mp_customer(name, *tokens))


def _jce(name: str, host: int, update: int, policy: str | None) -> NodeSpec:
    java = JavaSpec(f"/opt/java/jdk8u{update}", update, policy)
    return replace(_mp(name, host, SNI_TRUE), java=java, host_vars={"fixer_java_home": java.home})


# the lab's main nginx.conf is not at Apigee's /opt/nginx/conf/nginx.conf (router-tls.yml's `nginx -t` reads it)
ROUTER_VARS: dict[str, object] = {"nginx_main_conf": "/opt/nginx/nginx.conf"}


def _router(name: str, host: int, protocols: str, ciphers: str) -> NodeSpec:
    return NodeSpec(name, host, "router", ROUTER_GROUP, customer=_router_customer(name, protocols, ciphers),
                    host_vars=dict(ROUTER_VARS))


def scenario_specs(sudo_password: str) -> list[NodeSpec]:
    return [
        NodeSpec("bastion", 2, "plain", BASTION_GROUP),
        _mp("mp-healthy", 11, SNI_TRUE),
        _mp("mp-sni-off", 12),
        _mp("mp-sni-false", 13, "conf_system_jsse.enableSNIExtension=false"),
        replace(
            _mp("mp-restart-pending", 14), customer_after_start=_mp_customer("mp-restart-pending", SNI_TRUE)
        ),
        _mp("mp-plus-form", 15, "conf/system.properties+jsse.enableSNIExtension=true"),
        replace(_mp("mp-owner", 16, SNI_TRUE), customer_root_owned=True, customer_mode=0o600),
        _jce("mp-jce-limited", 17, 161, "limited"),
        _jce("mp-jce-old", 18, 144, None),
        _jce("mp-jce-ok", 19, 202, "unlimited"),
        replace(
            _mp("mp-sudo-pass", 20, SNI_TRUE),
            sudo="password",
            host_vars={"ansible_become_password": sudo_password},
        ),
        replace(_mp("mp-nosudo", 21, SNI_TRUE), sudo="none"),
        replace(_mp("mp-badkey", 22, SNI_TRUE), wrong_known_host_key=True),
        replace(_mp("mp-java-proc", 23, SNI_TRUE), java_process=True),
        replace(_mp("mp-noforward", 24, SNI_TRUE), tcp_forwarding=False),
        _mp("mp-sni-e2e", 25),  # like mp-sni-off; only tests/integration/test_java_sni_lab.py changes it
        NodeSpec("mp-down", 99, "absent", MP_GROUP),
        _router("rt-healthy", 31, "TLSv1.2 TLSv1.3", HEALTHY_CIPHERS),
        _router("rt-weak-protocol", 32, "TLSv1 TLSv1.1 TLSv1.2", HEALTHY_CIPHERS),
        _router("rt-weak-cipher", 33, "TLSv1.2", "HIGH:aNULL:NULL-SHA256:@SECLEVEL=0"),
        replace(
            _router("rt-cipher-mismatch", 34, "TLSv1.2", "ECDHE-RSA-AES256-GCM-SHA384"),
            host_vars={**ROUTER_VARS, "fixer_client_ciphers": ["AES128-SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256"]},
        ),
        replace(_router("rt-drift", 35, "TLSv1.2 TLSv1.3", HEALTHY_CIPHERS), drift_protocols="TLSv1.2"),
        replace(_router("rt-owner", 36, "TLSv1.2 TLSv1.3", HEALTHY_CIPHERS), customer_root_owned=True),
        replace(_router("rt-cert-bad", 37, "TLSv1.2 TLSv1.3", HEALTHY_CIPHERS), stale_cert=True),
    ]


MAX_BENCH = 250  # one /24 per lab; .254 is the bridge


def bench_specs(count: int) -> list[NodeSpec]:
    if not 1 <= count <= MAX_BENCH:
        raise ValueError(f"bench size must be 1..{MAX_BENCH}")
    return [_mp(f"mp{i:03d}", i, SNI_TRUE) for i in range(1, count + 1)]
