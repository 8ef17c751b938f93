"""The JSON report: its shape, its summary, its schema, and that secrets never reach it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest

import fixer
from fixer.checks.model import CAUSES, SEVERITIES, Evidence, Finding
from fixer.errors import HOST_ERROR_CATEGORIES, FixerError
from fixer.report.json_report import (
    REDACTED,
    ReportSchemaError,
    is_secret_key,
    load_schema,
    render_json,
    run_to_dict,
    validate_report,
)
from fixer.result import STATUSES, CheckRun, HostFailure, HostResult
from tests.unit.sample_run import (
    MP_RESTART,
    SECRET_KEY,
    SECRET_VALUE,
    SNI_DIFF,
    clean_run,
    findings_run,
    make_run,
    mp_with_findings,
    sample_run,
)


def _empty_run() -> CheckRun:
    return make_run()


RUNS: dict[str, Callable[[], CheckRun]] = {
    "sample": sample_run, "clean": clean_run, "findings": findings_run, "empty": _empty_run,
}


@pytest.fixture
def doc() -> dict[str, Any]:
    return run_to_dict(sample_run())


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_sample_run_validates(name: str) -> None:
    validate_report(run_to_dict(RUNS[name]()))


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_enums_match_the_models() -> None:
    defs = load_schema()["$defs"]
    assert tuple(defs["status"]["enum"]) == STATUSES
    assert tuple(defs["severity"]["enum"]) == SEVERITIES
    assert tuple(defs["cause"]["enum"]) == CAUSES
    assert tuple(defs["category"]["enum"]) == HOST_ERROR_CATEGORIES
    summary = defs["summary"]["properties"]
    assert tuple(summary["by_status"]["required"]) == STATUSES
    assert tuple(summary["findings_by_severity"]["required"]) == SEVERITIES


def test_top_level_shape(doc: dict[str, Any]) -> None:
    assert list(doc) == ["schema_version", "tool", "inventory", "started_at", "duration_s", "hosts", "targets",
                         "summary"]
    assert doc["schema_version"] == "1.2"
    assert doc["tool"] == {"name": "fixer", "version": fixer.__version__}
    assert doc["inventory"] == "inventory/prod.yml"
    assert doc["started_at"] == "2024-05-14T09:30:00Z"
    assert [h["name"] for h in doc["hosts"]] == ["mp1", "mp2", "r1", "mp3", "r2"]  # run order kept
    assert list(doc["hosts"][0]) == [
        "name", "address", "role", "status", "error", "facts", "findings", "duration_s",
    ]


def test_render_json_round_trips(doc: dict[str, Any]) -> None:
    text = render_json(sample_run())
    assert text.endswith("}\n")
    assert text.startswith('{\n  "schema_version": "1.2",')
    assert json.loads(text) == doc
    assert render_json(sample_run()) == text  # deterministic


def test_summary_counts(doc: dict[str, Any]) -> None:
    assert doc["summary"] == {
        "hosts": 5,
        "by_status": {"ok": 1, "findings": 2, "unreachable": 1, "error": 1},
        "findings_by_severity": {"error": 2, "warning": 1, "info": 0},
        "findings_by_id": {"mp-sni-disabled": 1, "properties-owner": 1, "router-weak-protocol": 1},
        "exit_code": 3,
    }


def test_summary_of_other_runs() -> None:
    clean = run_to_dict(clean_run())["summary"]
    assert clean["exit_code"] == 0
    assert clean["by_status"] == {"ok": 2, "findings": 0, "unreachable": 0, "error": 0}
    assert clean["findings_by_id"] == {}
    assert run_to_dict(findings_run())["summary"]["exit_code"] == 1
    empty = run_to_dict(make_run())["summary"]
    assert empty["hosts"] == 0
    assert empty["exit_code"] == 0


def test_findings_by_id_counts_repeats_across_hosts() -> None:
    run = make_run(mp_with_findings("a"), mp_with_findings("b"))
    assert run_to_dict(run)["summary"]["findings_by_id"] == {"mp-sni-disabled": 2, "properties-owner": 2}


def test_host_failure_and_findings(doc: dict[str, Any]) -> None:
    hosts = {h["name"]: h for h in doc["hosts"]}
    assert hosts["mp3"]["status"] == "unreachable"
    assert hosts["mp3"]["error"]["category"] == "unreachable"
    assert hosts["mp3"]["facts"] is None
    assert hosts["r2"]["error"] == {
        "category": "become", "message": "sudo: a password is required (set ansible_become_password)",
    }
    assert hosts["mp1"]["error"] is None
    assert hosts["mp1"]["findings"] == []
    sni = next(f for f in hosts["mp2"]["findings"] if f["id"] == "mp-sni-disabled")
    assert list(sni) == [
        "id", "severity", "cause", "message", "evidence", "remediation", "playbook", "diff", "actions", "target",
        "apply_args",
    ]
    assert sni["severity"] == "error"
    assert sni["cause"] == "sni"
    assert sni["evidence"][0] == {
        "file": "/opt/apigee/edge-message-processor/conf/system.properties",
        "line": 12,
        "values": {"jsse.enableSNIExtension": "false"},
    }
    owner = next(f for f in hosts["mp2"]["findings"] if f["id"] == "properties-owner")
    assert owner["evidence"][0]["line"] is None


def test_facts_are_plain_json_with_kind(doc: dict[str, Any]) -> None:
    hosts = {h["name"]: h for h in doc["hosts"]}
    mp = hosts["mp1"]["facts"]
    assert mp["kind"] == "message_processor"
    assert mp["role"] == "message_processor"
    assert mp["sni_enabled"] is True
    assert mp["https_protocols"] == ["TLSv1.2", "TLSv1.3"]  # tuples become lists
    assert mp["customer"]["stat"] == {"owner": "apigee", "group": "apigee", "mode": "0644"}
    assert mp["java"]["crypto_policy"] == "unlimited"
    router = hosts["r1"]["facts"]
    assert router["kind"] == "router"
    assert router["role"] == "router"
    assert router["servers"][0]["ssl_protocols"] == ["TLSv1", "TLSv1.1", "TLSv1.2"]
    assert router["servers"][0]["listen"] == ["9443 ssl"]
    json.dumps(doc)  # everything serialisable


def test_secrets_are_masked_in_facts(doc: dict[str, Any]) -> None:
    assert SECRET_VALUE not in render_json(sample_run())
    facts = next(h for h in doc["hosts"] if h["name"] == "mp2")["facts"]
    entry = next(e for e in facts["customer"]["entries"] if e["key"] == SECRET_KEY)
    assert entry["value"] == REDACTED
    token = next(t for t in facts["tokens"] if t["raw_key"] == SECRET_KEY)
    assert token["value"] == REDACTED
    sni = next(t for t in facts["tokens"] if t["key"] == "jsse.enableSNIExtension")
    assert sni["value"] == "false"  # override tokens themselves are not secrets


def test_secret_evidence_values_are_masked() -> None:
    finding = Finding(
        id="mp-restart-pending", severity="warning", cause="config", message="pending",
        evidence=(Evidence("/f", 2, {"conf_http_client.keystore.password": "hunter2", "other": "shown"}),),
        remediation="restart",
    )
    host = HostResult("mp9", "10.0.0.9", "message_processor", "findings", findings=(finding,))
    text = render_json(make_run(host))
    assert "hunter2" not in text
    assert json.loads(text)["hosts"][0]["findings"][0]["evidence"][0]["values"] == {
        "conf_http_client.keystore.password": REDACTED, "other": "shown",
    }


@pytest.mark.parametrize("key", [
    "conf_http_client.keystore.password", "ldap.passwd", "oauth.client_secret", "ssl.private.key",
    "db.credentials", "analytics.apikey", "conf_x_api_key", "API-KEY", "keystore.pass", "Passphrase",
])
def test_secret_key_names(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", [
    "conf_system_jsse.enableSNIExtension", "conf_load_balancing_load.balancing.driver.server.ssl.ciphers",
    "oauth.tokens.enabled", "conf_system_token.expiry", "https.protocols", "ssl_certificate_key", "bypass",
])
def test_non_secret_key_names(key: str) -> None:
    assert not is_secret_key(key)


def test_non_ascii_is_kept_readable() -> None:
    host = HostResult("mp-é", "10.0.0.1", "message_processor", "ok")
    assert '"mp-é"' in render_json(make_run(host))


def _broken(doc: dict[str, Any], path: list[str | int], value: Any = ..., delete: bool = False) -> dict[str, Any]:
    bad = copy.deepcopy(doc)
    target: Any = bad
    for part in path[:-1]:
        target = target[part]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return bad


@pytest.mark.parametrize(("path", "value", "delete", "where"), [
    (["summary"], None, True, "(document)"),
    (["hosts", 0, "status"], None, True, "hosts/0"),
    (["hosts", 1, "findings", 0, "remediation"], None, True, "hosts/1/findings/0"),
    (["hosts", 0, "status"], "broken", False, "hosts/0/status"),
    (["hosts", 1, "findings", 0, "severity"], "critical", False, "hosts/1/findings/0/severity"),
    (["hosts", 1, "findings", 0, "cause"], "dns", False, "hosts/1/findings/0/cause"),
    (["hosts", 4, "error", "category"], "oops", False, "hosts/4/error/category"),
    (["hosts", 4, "error"], None, False, "hosts/4/error"),
    (["hosts", 0, "facts", "kind"], "gateway", False, "hosts/0/facts/kind"),
    (["hosts", 1, "findings", 0, "evidence", 0, "line"], "12", False, "hosts/1/findings/0/evidence/0/line"),
    (["summary", "exit_code"], 2, False, "summary/exit_code"),
    (["summary", "by_status", "pending"], 1, False, "summary/by_status"),
    (["schema_version"], "2.0", False, "schema_version"),
    (["extra"], True, False, "(document)"),
])
def test_schema_rejects_broken_documents(
    doc: dict[str, Any], path: list[str | int], value: Any, delete: bool, where: str
) -> None:
    with pytest.raises(ReportSchemaError) as caught:
        validate_report(_broken(doc, path, value, delete))
    assert isinstance(caught.value, FixerError)
    assert str(caught.value).startswith(f"report does not match schema 1.2: at {where}: ")


def test_schema_error_mentions_the_bad_value(doc: dict[str, Any]) -> None:
    with pytest.raises(ReportSchemaError, match="'broken' is not one of"):
        validate_report(_broken(doc, ["hosts", 0, "status"], "broken"))


def test_validate_report_accepts_a_json_round_trip() -> None:
    validate_report(json.loads(render_json(sample_run())))


def test_empty_run_document() -> None:
    doc = run_to_dict(CheckRun(inventory="inv.ini", started_at="2024-01-01T00:00:00Z", duration_s=0.0))
    assert doc["hosts"] == []
    validate_report(doc)


def test_unknown_role_is_null() -> None:
    host = HostResult("x", "10.0.0.5", None, "unreachable", error=HostFailure("unreachable", "timed out"))
    doc = run_to_dict(make_run(host))
    assert doc["hosts"][0]["role"] is None
    validate_report(doc)


# -- schema 1.1: the dry run of the fixing playbook on each finding --------------------------------------


def test_findings_carry_playbook_diff_and_actions(doc: dict[str, Any]) -> None:
    hosts = {h["name"]: h for h in doc["hosts"]}
    sni = next(f for f in hosts["mp2"]["findings"] if f["id"] == "mp-sni-disabled")
    assert sni["playbook"] == "enable-sni.yml"
    assert sni["diff"] == SNI_DIFF
    assert "+conf_system_jsse.enableSNIExtension=true\n" in sni["diff"]
    assert sni["actions"] == [MP_RESTART]
    owner = next(f for f in hosts["mp2"]["findings"] if f["id"] == "properties-owner")
    assert owner["playbook"] == "fix-ownership.yml"
    assert owner["diff"] == "# owner root:root -> apigee:apigee\n"
    (weak,) = hosts["r1"]["findings"]
    assert weak["playbook"] == "router-tls.yml"
    assert weak["diff"].startswith("--- r1:/opt/apigee/customer/application/router.properties (before)\n")


def test_findings_without_a_playbook_have_nulls() -> None:
    finding = Finding(id="mp-https-protocols", severity="info", cause="protocol", message="m", evidence=(),
                      remediation="r")
    doc = run_to_dict(make_run(HostResult("mp9", "10.0.0.9", "message_processor", "findings",
                                          findings=(finding,))))
    (shown,) = doc["hosts"][0]["findings"]
    assert (shown["playbook"], shown["diff"], shown["actions"]) == (None, None, [])
    validate_report(doc)


@pytest.mark.parametrize(("diff", "actions"), [
    ("", [MP_RESTART]),  # restart only: no file changes
    ("could not plan: no play of enable-sni.yml targets mp9 (hosts: 'message_processors')", []),
    ("", ["note: jce-unlimited: no unlimited policy in this Java: install JCE"]),
])
def test_schema_accepts_every_kind_of_plan(doc: dict[str, Any], diff: str, actions: list[str]) -> None:
    finding = doc["hosts"][1]["findings"][0]
    finding["diff"], finding["actions"] = diff, actions
    validate_report(doc)


@pytest.mark.parametrize(("key", "value"), [
    ("diff", 3), ("actions", "restart"), ("actions", [1]), ("playbook", ""), ("playbook", None),
])
def test_schema_rejects_bad_plans(doc: dict[str, Any], key: str, value: Any) -> None:
    # a null playbook with a diff (or actions) is inconsistent too
    with pytest.raises(ReportSchemaError, match="at hosts/1/findings/0"):
        validate_report(_broken(doc, ["hosts", 1, "findings", 0, key], value))


def test_a_1_0_document_still_validates(doc: dict[str, Any]) -> None:
    old = copy.deepcopy(doc)
    old["schema_version"] = "1.0"
    for host in old["hosts"]:
        for finding in host["findings"]:
            for key in ("playbook", "diff", "actions"):
                del finding[key]
    validate_report(old)


def test_diffs_never_leak_secrets() -> None:
    text = render_json(sample_run())
    assert SECRET_VALUE not in text
    assert f"{SECRET_KEY}=********" in text  # the changed file's secret line, redacted by fixer.plan.diff
