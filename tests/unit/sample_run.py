"""Builders of realistic CheckRun objects for report tests, made of the real dataclasses.

`sample_run()` holds five hosts, one of each kind a report must show:
  mp1   healthy message processor                                  status ok
  mp2   message processor with mp-sni-disabled + properties-owner  status findings
  r1    router with router-weak-protocol                           status findings
  mp3   unreachable host                                           status unreachable
  r2    host whose privilege escalation failed (category become)   status error
mp2's customer file also holds a password override: reports must never show SECRET_VALUE.
The findings of mp2 and r1 carry what `fixer check` attaches (fixer.remedy): the shipped playbook that
fixes each, its (redacted) diff on that host and the service actions it would run.
"""

from __future__ import annotations

from dataclasses import replace

from fixer.checks.model import Evidence, Finding
from fixer.facts.model import (
    FileStat,
    JavaFacts,
    MessageProcessorFacts,
    NginxServer,
    PropertiesFacts,
    PropertyEntry,
    RouterFacts,
    Token,
)
from fixer.result import CheckRun, HostFailure, HostResult

ROOT = "/opt/apigee"
MP_CUSTOMER = f"{ROOT}/customer/application/message-processor.properties"
MP_GENERATED = f"{ROOT}/edge-message-processor/conf/system.properties"
ROUTER_CUSTOMER = f"{ROOT}/customer/application/router.properties"
NGINX_CONF = "/opt/nginx/conf.d/0-default.conf"
MP_SERVICE = f"{ROOT}/apigee-service/bin/apigee-service edge-message-processor"
ROUTER_SERVICE = f"{ROOT}/apigee-service/bin/apigee-service edge-router"
SNI_TOKEN = "conf_system_jsse.enableSNIExtension"
SECRET_KEY = "conf_http_client.keystore.password"
SECRET_VALUE = "s3cr3t-Pa55"  # must never appear in any report
STARTED_AT = "2024-05-14T09:30:00Z"

MP_RESTART = (f"{MP_SERVICE} restart, then wait_for_ready and GET http://localhost:8082/v1/servers/self/up "
              "(timeout 300s)")
ROUTER_RESTART = (f"{ROUTER_SERVICE} restart, then wait_for_ready and GET "
                  "http://localhost:8081/v1/servers/self/up (timeout 300s)")
OWNER_DIFF = "# owner root:root -> apigee:apigee\n"
SNI_DIFF = (
    "# owner root:root -> apigee:apigee\n"
    "# mode 0600 -> 0644\n"
    f"--- mp2:{MP_CUSTOMER} (before)\n"
    f"+++ mp2:{MP_CUSTOMER} (after)\n"
    "@@ -1,5 +1,5 @@\n"
    " # Customer overrides for the Message Processor\n"
    f"-{SNI_TOKEN}=false\n"
    f"+{SNI_TOKEN}=true\n"
    f" {SECRET_KEY}=********\n"
)
ROUTER_TOKEN = "conf_load_balancing_load.balancing.driver.server.ssl.protocols"
ROUTER_DIFF = (
    f"--- r1:{ROUTER_CUSTOMER} (before)\n"
    f"+++ r1:{ROUTER_CUSTOMER} (after)\n"
    "@@ -1,2 +1,2 @@\n"
    f"-{ROUTER_TOKEN}=TLSv1 TLSv1.1 TLSv1.2\n"
    f"+{ROUTER_TOKEN}=TLSv1.2 TLSv1.3\n"
    " conf_load_balancing_load.balancing.driver.server.ssl.ciphers=HIGH:!aNULL:!MD5\n"
)

STRONG_CIPHERS = (
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
)


def java_facts(major: int = 8, update: int | None = 292, policy: str = "unlimited") -> JavaFacts:
    home = "/usr/lib/jvm/java-1.8.0-openjdk" if major == 8 else f"/usr/lib/jvm/java-{major}-openjdk"
    version = f"1.8.0_{update}" if major == 8 else f"{major}.0.15"
    security = f"{home}/{'jre/lib' if major == 8 else 'conf'}/security/java.security"
    return JavaFacts(
        java_home=home,
        source="process",
        version=version,
        major=major,
        update=update if major == 8 else None,
        security_file=security,
        crypto_policy=policy,
        crypto_policy_setting=policy,
        crypto_policy_evidence=f"crypto.policy={policy} in java.security",
        disabled_algorithms=("SSLv3", "RC4", "DES", "MD5withRSA", "DH keySize < 1024", "3DES_EDE_CBC"),
    )


def mp_facts(
    *,
    sni: bool,
    owner: tuple[str, str] = ("apigee", "apigee"),
    mode: int = 0o644,
    extra_customer: tuple[PropertyEntry, ...] = (),
) -> MessageProcessorFacts:
    sni_text = "true" if sni else "false"
    customer_entries = (PropertyEntry(SNI_TOKEN, sni_text, 3), *extra_customer)
    tokens = tuple(
        Token(
            file=e.key.split("_", 2)[1],
            key=e.key.split("_", 2)[2],
            value=e.value,
            line=e.line,
            raw_key=e.key,
        )
        for e in customer_entries
        if e.key.startswith("conf_")
    )
    customer = PropertiesFacts(
        path=MP_CUSTOMER, exists=True, stat=FileStat(owner[0], owner[1], mode), entries=customer_entries
    )
    generated = PropertiesFacts(
        path=MP_GENERATED,
        exists=True,
        stat=FileStat("apigee", "apigee", 0o644),
        entries=(
            PropertyEntry("jsse.enableSNIExtension", sni_text, 12),
            PropertyEntry("https.protocols", "TLSv1.2,TLSv1.3", 13),
            *(PropertyEntry(t.key, t.value, 20 + i) for i, t in enumerate(tokens) if t.file == "system"
              and t.key != "jsse.enableSNIExtension"),
        ),
    )
    return MessageProcessorFacts(
        customer=customer,
        generated=generated,
        tokens=tokens,
        java=java_facts(),
        sni_enabled=sni,
        https_protocols=("TLSv1.2", "TLSv1.3"),
        client_protocols=None,
    )


def nginx_server(protocols: tuple[str, ...] = ("TLSv1.2", "TLSv1.3"), line: int = 4) -> NginxServer:
    return NginxServer(
        file=NGINX_CONF,
        line=line,
        listen=("9443 ssl",),
        server_name=("api.example.com",),
        ssl=True,
        ssl_protocols=protocols,
        ssl_protocols_line=line + 6,
        ssl_protocols_source="server",
        ssl_ciphers="HIGH:!aNULL:!MD5",
        ssl_ciphers_line=line + 7,
        ssl_ciphers_source="server",
        ssl_certificate="/opt/nginx/conf.d/api.example.com.crt",
        ssl_certificate_key="/opt/nginx/conf.d/api.example.com.key",
        effective_ciphers=STRONG_CIPHERS,
        cipher_expansion="node",
    )


def router_facts(protocols: tuple[str, ...] = ("TLSv1.2", "TLSv1.3")) -> RouterFacts:
    plain = NginxServer(
        file=NGINX_CONF, line=30, listen=("9001",), server_name=("_",), ssl=False,
        ssl_protocols=("TLSv1.2", "TLSv1.3"), ssl_protocols_line=None, ssl_protocols_source="default",
        ssl_ciphers="HIGH:!aNULL:!MD5", ssl_ciphers_line=None, ssl_ciphers_source="default",
        ssl_certificate=None, ssl_certificate_key=None, effective_ciphers=(), cipher_expansion="node",
    )
    return RouterFacts(
        customer=PropertiesFacts(path=ROUTER_CUSTOMER, exists=True, stat=FileStat("apigee", "apigee", 0o644)),
        tokens=(),
        conf_dir="/opt/nginx/conf.d",
        conf_files=(NGINX_CONF,),
        servers=(nginx_server(protocols), plain),
        nginx_version="1.20.1",
    )


def sni_finding() -> Finding:
    return Finding(
        id="mp-sni-disabled",
        severity="error",
        cause="sni",
        message="SNI is disabled on this message processor: backends that need server_name in the "
        "ClientHello fail with handshake_failure or unrecognized_name",
        evidence=(
            Evidence(MP_GENERATED, 12, {"jsse.enableSNIExtension": "false"}),
            Evidence(MP_CUSTOMER, 3, {SNI_TOKEN: "false"}),
        ),
        remediation=f"set {SNI_TOKEN}=true in {MP_CUSTOMER}, chown apigee:apigee it, then "
        f"{MP_SERVICE} restart on every message processor, one at a time",
    )


def owner_finding() -> Finding:
    return Finding(
        id="properties-owner",
        severity="error",
        cause="config",
        message=f"{MP_CUSTOMER} is owned root:root (mode 0600), not apigee:apigee: "
        "the component running as apigee cannot read it, so its overrides are ignored",
        evidence=(Evidence(MP_CUSTOMER, None, {"owner": "root", "group": "root", "mode": "0600"}),),
        remediation=f"chown apigee:apigee {MP_CUSTOMER} && {MP_SERVICE} restart "
        "(restart the message processor so it picks up the overrides)",
    )


def weak_protocol_finding() -> Finding:
    return Finding(
        id="router-weak-protocol",
        severity="warning",
        cause="protocol",
        message="server api.example.com (listen 9443 ssl) enables TLSv1 TLSv1.1, below the minimum TLSv1.2",
        evidence=(Evidence(NGINX_CONF, 10, {"ssl_protocols": "TLSv1 TLSv1.1 TLSv1.2", "source": "server"}),),
        remediation="set conf_load_balancing_load.balancing.driver.server.ssl.protocols=TLSv1.2 in "
        f"{ROUTER_CUSTOMER}, chown apigee:apigee it, then {ROUTER_SERVICE} restart on each router "
        "(out of the load balancer first)",
    )


def healthy_mp(name: str = "mp1", address: str = "10.0.1.11") -> HostResult:
    return HostResult(
        name=name, address=address, role="message_processor", status="ok",
        facts=mp_facts(sni=True), duration_s=1.25,
    )


def mp_with_findings(name: str = "mp2", address: str = "10.0.1.12") -> HostResult:
    facts = mp_facts(
        sni=False, owner=("root", "root"), mode=0o600,
        extra_customer=(PropertyEntry(SECRET_KEY, SECRET_VALUE, 5),),
    )
    return HostResult(
        name=name, address=address, role="message_processor", status="findings",
        facts=facts,
        findings=(
            replace(owner_finding(), playbook="fix-ownership.yml", diff=OWNER_DIFF, actions=(MP_RESTART,)),
            replace(sni_finding(), playbook="enable-sni.yml", diff=SNI_DIFF.replace("mp2:", f"{name}:"),
                    actions=(MP_RESTART,)),
        ),
        duration_s=1.5,
    )


def router_weak_protocol(name: str = "r1", address: str = "10.0.2.21") -> HostResult:
    return HostResult(
        name=name, address=address, role="router", status="findings",
        facts=router_facts(("TLSv1", "TLSv1.1", "TLSv1.2")),
        findings=(replace(weak_protocol_finding(), playbook="router-tls.yml",
                          diff=ROUTER_DIFF.replace("r1:", f"{name}:"), actions=(ROUTER_RESTART,)),),
        duration_s=2.0,
    )


def unreachable_host(name: str = "mp3", address: str = "10.0.1.13") -> HostResult:
    return HostResult(
        name=name, address=address, role="message_processor", status="unreachable",
        error=HostFailure("unreachable", f"cannot connect to {address}:22: [Errno 113] No route to host"),
        duration_s=10.0,
    )


def become_error_host(name: str = "r2", address: str = "10.0.2.22") -> HostResult:
    return HostResult(
        name=name, address=address, role="router", status="error",
        error=HostFailure("become", "sudo: a password is required (set ansible_become_password)"),
        duration_s=0.75,
    )


def make_run(*hosts: HostResult, inventory: str = "inventory/prod.yml") -> CheckRun:
    return CheckRun(
        inventory=inventory, started_at=STARTED_AT, duration_s=round(sum(h.duration_s for h in hosts), 3),
        hosts=tuple(hosts),
    )


def sample_run() -> CheckRun:
    """All five kinds of host: exit code 3 (a host could not be inspected)."""
    return make_run(
        healthy_mp(), mp_with_findings(), router_weak_protocol(), unreachable_host(), become_error_host()
    )


def clean_run() -> CheckRun:
    """Only healthy hosts: exit code 0."""
    return make_run(healthy_mp("mp1"), healthy_mp("mp4", "10.0.1.14"))


def findings_run() -> CheckRun:
    """Error findings, every host inspected: exit code 1."""
    return make_run(healthy_mp(), mp_with_findings(), router_weak_protocol())
