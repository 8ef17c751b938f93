"""fixer.certs: chain verification agrees with `openssl verify`, failing links are named, RFC 6125 hostnames."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from fixer.certs import load_certificates, match_hostname, verify_chain
from fixer.certs.hostname import dns_pattern_matches
from fixer.certs.verify import VerifyResult
from tests.unit.pki import DAY, NOW, Pki, build_pki, issue, pem

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")

# case -> (expected code, expected depth); every case is also checked against the real `openssl verify`
EXPECTED = {
    "good": (0, 0),
    "expired": (10, 0),
    "notyet": (9, 0),
    "wronghost": (0, 0),
    "wildcard": (0, 0),
    "selfsigned": (18, 0),
    "nointer": (20, 0),
    "rogue": (19, 2),
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return build_pki(tmp_path_factory.mktemp("pki"))


def _untrusted_file(pki: Pki, case: str) -> Path:
    return pki.dir / ("rogue-chain.pem" if case == "rogue" else "inter.pem")


def _fixer(pki: Pki, case: str, hostname: str | None = None, at: dt.datetime | None = None) -> VerifyResult:
    leaf = load_certificates(pki.path(case)).first
    untrusted = load_certificates(_untrusted_file(pki, case)).certificates
    roots = load_certificates(pki.dir / "root.pem").certificates
    return verify_chain(leaf, untrusted, roots, None, hostname, at)


def openssl_verify(*args: str) -> tuple[int, int]:
    """(code, depth) of the first error `openssl verify` prints, (0, 0) when it says OK."""
    assert OPENSSL is not None
    proc = subprocess.run([OPENSSL, "verify", *args], capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    m = re.search(r"error (\d+) at (\d+) depth lookup", out)
    if m:
        assert proc.returncode != 0
        return int(m.group(1)), int(m.group(2))
    assert proc.returncode == 0 and ": OK" in out, out
    return 0, 0


@needs_openssl
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_agrees_with_openssl_verify(pki: Pki, case: str) -> None:
    ours = _fixer(pki, case)
    theirs = openssl_verify("-CAfile", str(pki.dir / "root.pem"), "-untrusted", str(_untrusted_file(pki, case)),
                            str(pki.path(case)))
    assert (ours.code, ours.depth) == theirs == EXPECTED[case]
    assert ours.ok is (theirs[0] == 0)


@needs_openssl
@pytest.mark.parametrize(("case", "hostname"), [
    ("good", "leaf.example.com"), ("good", "LEAF.example.com."), ("good", "www.example.com"),
    ("wronghost", "leaf.example.com"), ("wildcard", "api.example.com"), ("wildcard", "a.b.example.com"),
    ("wildcard", "example.com"),
])
def test_hostname_agrees_with_openssl_verify_hostname(pki: Pki, case: str, hostname: str) -> None:
    ours = _fixer(pki, case, hostname=hostname)
    theirs = openssl_verify("-CAfile", str(pki.dir / "root.pem"), "-untrusted", str(pki.dir / "inter.pem"),
                            "-verify_hostname", hostname.rstrip("."), str(pki.path(case)))
    assert ours.ok
    assert (0 if ours.hostname_ok else 62) == theirs[0]


@needs_openssl
@pytest.mark.parametrize(("case", "when"), [("expired", NOW - 100 * DAY), ("notyet", NOW + 100 * DAY),
                                            ("good", NOW + 5000 * DAY)])
def test_at_time_agrees_with_openssl_attime(pki: Pki, case: str, when: dt.datetime) -> None:
    ours = _fixer(pki, case, at=when)
    theirs = openssl_verify("-attime", str(int(when.timestamp())), "-CAfile", str(pki.dir / "root.pem"),
                            "-untrusted", str(pki.dir / "inter.pem"), str(pki.path(case)))
    assert (ours.code, ours.depth) == theirs
    assert ours.at is not None


def test_ok_names_the_verified_chain(pki: Pki) -> None:
    r = _fixer(pki, "good", hostname="leaf.example.com")
    assert r.ok and r.valid and r.kind == "ok"
    assert [c.split(",")[0] for c in r.chain] == ["CN=leaf.example.com", "CN=Test Intermediate CA", "CN=Test Root CA"]
    assert "CN=Test Root CA" in r.failing_link


def test_missing_intermediate_names_the_missing_issuer(pki: Pki) -> None:
    r = _fixer(pki, "nointer")
    assert not r.ok and r.kind == "chain-incomplete"
    assert r.missing_issuer is not None and "CN=Unknown Intermediate CA" in r.missing_issuer
    assert "CN=Unknown Intermediate CA" in r.failing_link and "CN=orphan.example.com" in r.failing_link


def test_expired_names_certificate_and_date(pki: Pki) -> None:
    r = _fixer(pki, "expired")
    leaf = pki.leaves["expired"].cert
    assert r.kind == "expired" and r.failing_subject is not None and "CN=expired.example.com" in r.failing_subject
    assert r.not_after == leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert r.not_after in r.failing_link


def test_expired_intermediate_is_the_failing_link(tmp_path: Path) -> None:
    root = issue("Root", None, ca=True)
    inter = issue("Old Intermediate", root, ca=True, not_before=NOW - 900 * DAY, not_after=NOW - DAY)
    leaf = issue("svc.example.com", inter, sans=["svc.example.com"])
    r = verify_chain(leaf.cert, [inter.cert], [root.cert], None)
    assert (r.code, r.depth) == (10, 1)
    assert r.failing_subject is not None and "CN=Old Intermediate" in r.failing_subject
    if OPENSSL:
        for n, c in (("root", root), ("inter", inter), ("leaf", leaf)):
            (tmp_path / f"{n}.pem").write_bytes(pem(c.cert))
        assert openssl_verify("-CAfile", str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "inter.pem"),
                              str(tmp_path / "leaf.pem")) == (10, 1)


def test_not_yet_valid_and_untrusted_roots(pki: Pki) -> None:
    r = _fixer(pki, "notyet")
    assert r.kind == "not-yet-valid" and r.not_before is not None and r.not_before in r.failing_link
    r = _fixer(pki, "selfsigned")
    assert r.kind == "untrusted-root" and "self-signed leaf" in r.failing_link
    r = _fixer(pki, "rogue")
    assert r.kind == "untrusted-root" and "CN=Rogue Root CA" in r.failing_link


def test_wrong_hostname_lists_unmatched_sans(pki: Pki) -> None:
    r = _fixer(pki, "wronghost", hostname="leaf.example.com")
    assert r.ok and not r.valid and r.hostname_ok is False
    assert r.hostname_unmatched == ("DNS:other.example.com", "DNS:www.other.example.com")
    assert r.hostname_message is not None and "DNS:www.other.example.com" in r.hostname_message


@needs_openssl
def test_capath(pki: Pki, tmp_path: Path) -> None:
    assert OPENSSL is not None
    h = subprocess.run([OPENSSL, "x509", "-hash", "-noout", "-in", str(pki.dir / "root.pem")],
                       capture_output=True, text=True, check=True).stdout.strip()
    shutil.copy(pki.dir / "root.pem", tmp_path / f"{h}.0")
    leaf = load_certificates(pki.path("good")).first
    r = verify_chain(leaf, [pki.inter.cert], None, str(tmp_path), None, None)
    assert r.ok and len(r.chain) == 3
    r = verify_chain(leaf, [], None, str(tmp_path), None, None)
    assert (r.code, r.depth) == (20, 0)


def test_modern_client_opinion(pki: Pki) -> None:
    leaf = pki.leaves["good"].cert
    r = verify_chain(leaf, [pki.inter.cert], [pki.root.cert], None, "leaf.example.com", None, modern_opinion=True)
    assert r.modern_client == "accepts"
    r = verify_chain(leaf, [pki.inter.cert], [pki.root.cert], None, "x.example.com", None, modern_opinion=True)
    assert r.modern_client is not None and r.modern_client.startswith("rejects")
    r = verify_chain(leaf, [pki.inter.cert], [pki.root.cert], None, None, None, modern_opinion=True)
    assert r.modern_client is not None and r.modern_client.startswith("not checked")


# --- RFC 6125 hostname table ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "host", "expected"), [
    ("www.example.com", "www.example.com", True),
    ("WWW.Example.COM", "www.example.com", True),
    ("www.example.com.", "www.example.com", True),
    ("www.example.com", "example.com", False),
    ("*.example.com", "foo.example.com", True),
    ("*.example.com", "FOO.EXAMPLE.COM", True),
    ("*.example.com", "example.com", False),  # a wildcard needs exactly one label
    ("*.example.com", "a.b.example.com", False),  # ... and only one
    ("*.example.com", ".example.com", False),
    ("f*o.example.com", "foo.example.com", False),  # no partial wildcards
    ("*oo.example.com", "foo.example.com", False),
    ("w*.example.com", "www.example.com", False),
    ("www.*.com", "www.example.com", False),  # only in the left-most label
    ("*.*.example.com", "a.b.example.com", False),
    ("*.com", "example.com", False),  # never a wildcard on a public suffix-like 2-label pattern
    ("*", "localhost", False),
    ("", "example.com", False),
])
def test_dns_pattern_table(pattern: str, host: str, expected: bool) -> None:
    assert dns_pattern_matches(pattern, host) is expected


def test_hostname_san_first_cn_fallback_and_ips() -> None:
    root = issue("Root", None, ca=True)
    san = issue("cn-only-name.example.com", root, sans=["api.example.com", "10.0.0.1", "2001:db8::1"])
    assert not match_hostname(san.cert, "cn-only-name.example.com").ok  # CN ignored when SAN DNS exists
    assert match_hostname(san.cert, "api.example.com").matched == "DNS:api.example.com"
    assert match_hostname(san.cert, "10.0.0.1").ok
    assert match_hostname(san.cert, "[2001:db8::1]").ok
    ip_miss = match_hostname(san.cert, "10.0.0.2")
    assert not ip_miss.ok and ip_miss.presented == ("IP:10.0.0.1", "IP:2001:db8::1")
    cn_only = issue("legacy.example.com", root)
    r = match_hostname(cn_only.cert, "legacy.example.com")
    assert r.ok and r.matched == "CN:legacy.example.com"
    assert not match_hostname(cn_only.cert, "other.example.com").ok
    ip_only = issue("10.0.0.9", root, sans=["10.0.0.9"])  # no DNS SAN: CN is used for DNS names only
    assert not match_hostname(ip_only.cert, "10.0.0.8").ok
    assert match_hostname(ip_only.cert, "10.0.0.9").ok


def test_verify_result_is_frozen_and_serializable(pki: Pki) -> None:
    r = _fixer(pki, "expired", hostname="expired.example.com")
    d = r.to_dict()
    assert d["valid"] is False and d["code"] == 10 and d["hostname_ok"] is True
    with pytest.raises(AttributeError):
        r.ok = True  # type: ignore[misc]
    assert isinstance(r.failing_link, str)
    assert isinstance(pki.leaves["good"].cert, x509.Certificate)
