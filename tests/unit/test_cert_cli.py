"""`fixer cert verify`: exit codes 0/1/2, JSON output, PEM/DER/PKCS#12 input (password never shown)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from fixer.certs import load_certificates
from fixer.cli import main
from fixer.errors import UsageError
from tests.unit.pki import Pki, build_pki, pem

SECRET = "s3cret-p12-pass"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return build_pki(tmp_path_factory.mktemp("pki-cli"))


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["cert", "verify", *args], env=env)


def base(pki: Pki, case: str) -> list[str]:
    return [str(pki.path(case)), "--untrusted", str(pki.dir / "inter.pem"), "--cafile", str(pki.dir / "root.pem")]


def test_exit_0_valid_and_text(pki: Pki) -> None:
    r = run(*base(pki, "good"), "--hostname", "leaf.example.com")
    assert r.exit_code == 0, r.output
    assert "OK" in r.stdout and "CN=Test Root CA" in r.stdout


@pytest.mark.parametrize(("case", "code"), [("expired", 10), ("notyet", 9), ("selfsigned", 18), ("nointer", 20)])
def test_exit_1_invalid_chain_json(pki: Pki, case: str, code: int) -> None:
    r = run(*base(pki, case), "--format", "json")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["valid"] is False and doc["code"] == code
    assert doc["failing_link"]


def test_exit_1_hostname_mismatch_json(pki: Pki) -> None:
    r = run(*base(pki, "wronghost"), "--hostname", "leaf.example.com", "--format", "json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["hostname_ok"] is False
    assert doc["hostname_unmatched"] == ["DNS:other.example.com", "DNS:www.other.example.com"]


def test_at_makes_expired_valid(pki: Pki) -> None:
    r = run(*base(pki, "expired"), "--at", "2020-01-01T00:00:00Z")
    assert r.exit_code == 1  # long before its notBefore: not yet valid
    before_expiry = pki.leaves["expired"].cert.not_valid_after_utc.replace(microsecond=0).isoformat()
    r = run(*base(pki, "expired"), "--at", before_expiry.replace("+00:00", "Z"), "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["at"]


def test_fullchain_leaf_file_feeds_untrusted(pki: Pki, tmp_path: Path) -> None:
    full = tmp_path / "fullchain.pem"
    full.write_bytes(pem(pki.leaves["good"].cert, pki.inter.cert))
    assert run(str(full), "--cafile", str(pki.dir / "root.pem")).exit_code == 0


def test_der_input(pki: Pki, tmp_path: Path) -> None:
    der = tmp_path / "leaf.der"
    der.write_bytes(pki.leaves["good"].cert.public_bytes(serialization.Encoding.DER))
    assert load_certificates(der).format == "der"
    r = run(str(der), "--untrusted", str(pki.dir / "inter.pem"), "--cafile", str(pki.dir / "root.pem"))
    assert r.exit_code == 0, r.output


def _p12(pki: Pki, tmp_path: Path) -> Path:
    leaf = pki.leaves["good"]
    data = pkcs12.serialize_key_and_certificates(b"leaf", leaf.key, leaf.cert, [pki.inter.cert],
                                                 serialization.BestAvailableEncryption(SECRET.encode()))
    path = tmp_path / "leaf.p12"
    path.write_bytes(data)
    return path


def test_pkcs12_with_password_env(pki: Pki, tmp_path: Path) -> None:
    p12 = _p12(pki, tmp_path)
    loaded = load_certificates(p12, SECRET)
    assert loaded.format == "pkcs12" and len(loaded.certificates) == 2
    r = run(str(p12), "--cafile", str(pki.dir / "root.pem"), "--password-env", "P12PW", env={"P12PW": SECRET})
    assert r.exit_code == 0, r.output
    assert SECRET not in r.output


def test_pkcs12_wrong_or_missing_password_is_usage_error(pki: Pki, tmp_path: Path) -> None:
    p12 = _p12(pki, tmp_path)
    r = run(str(p12), "--cafile", str(pki.dir / "root.pem"), "--password-env", "P12PW", env={"P12PW": "nope"})
    assert r.exit_code == 2 and "PKCS#12" in r.output and "nope" not in r.output
    r = run(str(p12), "--cafile", str(pki.dir / "root.pem"))
    assert r.exit_code == 2 and "password" in r.output
    r = run(str(p12), "--cafile", str(pki.dir / "root.pem"), "--password-env", "UNSET_FIXER_VAR_X")
    assert r.exit_code == 2 and "UNSET_FIXER_VAR_X" in r.output
    with pytest.raises(UsageError):
        load_certificates(p12, "wrong")
    prompted = load_certificates(p12, None, password_prompt=lambda: SECRET)
    assert len(prompted.certificates) == 2


@pytest.mark.parametrize("content", [b"", b"garbage that is no certificate", b"-----BEGIN PRIVATE KEY-----\nAA\n",
                                     b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"])
def test_exit_2_unreadable_input(pki: Pki, tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_bytes(content)
    r = run(str(bad), "--cafile", str(pki.dir / "root.pem"))
    assert r.exit_code == 2, r.output
    assert "fixer: error:" in r.output and "bad.pem" in r.output


def test_exit_2_bad_options(pki: Pki, tmp_path: Path) -> None:
    leaf = str(pki.path("good"))
    assert run(leaf).exit_code == 2  # neither --cafile nor --capath
    assert run(leaf, "--cafile", str(pki.dir / "root.pem"), "--capath", str(tmp_path)).exit_code == 2
    assert run(str(tmp_path / "missing.pem"), "--cafile", str(pki.dir / "root.pem")).exit_code == 2
    assert run(leaf, "--cafile", str(tmp_path / "missing.pem")).exit_code == 2
    assert run(leaf, "--cafile", str(pki.dir / "root.pem"), "--at", "yesterday").exit_code == 2
    assert run(leaf, "--capath", str(tmp_path / "nodir")).exit_code == 2


def test_modern_flag_reports_info(pki: Pki) -> None:
    r = run(*base(pki, "good"), "--hostname", "leaf.example.com", "--modern")
    assert r.exit_code == 0 and "strict web-PKI client (cryptography) accepts" in r.stdout
