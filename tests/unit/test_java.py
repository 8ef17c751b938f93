"""Tests of fixer.facts.java: versions, java.security, JCE policy jars and the crypto policy decision."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from fixer.facts.java import (
    decide_crypto_policy,
    java_major_update,
    parse_disabled_algorithms,
    parse_java_release,
    parse_java_security,
    parse_java_version_output,
    policy_jar_strength,
)

DATA = Path(__file__).parent / "data" / "parsers" / "java"
MANIFEST = "Manifest-Version: 1.0\r\nCrypto-Strength: {strength}\r\nCreated-By: 1.8.0_141 (Oracle)\r\n\r\n"


def _policy(kind: str, name: str) -> str:
    """Real policy texts copied from OpenJDK 17's conf/security/policy/{limited,unlimited}."""
    return (DATA / "policy" / kind / name).read_text(encoding="utf-8")


def _jar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def local_policy_jar(kind: str) -> bytes:
    """A local_policy.jar laid out like the ones of JDK 7 / 8 before 8u151."""
    files = {
        "META-INF/MANIFEST.MF": MANIFEST.format(strength=kind),
        "META-INF/ORACLE_J.SF": "Signature-Version: 1.0\r\n",
        "default_local.policy": _policy(kind, "default_local.policy"),
    }
    if kind == "limited":
        files["exempt_local.policy"] = _policy("limited", "exempt_local.policy")
    return _jar(files)


LIMITED_JAR = local_policy_jar("limited")
UNLIMITED_JAR = local_policy_jar("unlimited")
US_EXPORT_JAR = _jar({"default_US_export.policy": _policy("unlimited", "default_US_export.policy")})

# --- versions ----------------------------------------------------------------------------------------

# data/parsers/java/version/*.txt: `java -version 2>&1` of many vendors (debian-openjdk-17 is real).
JAVA_VERSION_OUTPUTS = [
    ("oracle-7u80.txt", "1.7.0_80"),
    ("oracle-8u151.txt", "1.8.0_151"),
    ("openjdk-8u412.txt", "1.8.0_412"),
    ("zulu-8u392.txt", "1.8.0_392"),
    ("ibm-j9-8.txt", "1.8.0_231"),
    ("redhat-11.txt", "11.0.23"),
    ("semeru-11.txt", "11.0.22"),
    ("debian-openjdk-17.txt", "17.0.15"),
    ("openjdk-21-ga.txt", "21"),
    ("temurin-21.txt", "21.0.7"),
    ("picked-up-java-options.txt", "1.8.0_151"),
    ("openjdk-22-ea.txt", "22-ea"),
    ("missing-binary.txt", None),
]


@pytest.mark.parametrize(("name", "version"), JAVA_VERSION_OUTPUTS)
def test_parse_java_version_output(name: str, version: str | None) -> None:
    text = (DATA / "version" / name).read_text(encoding="utf-8")
    assert parse_java_version_output(text) == version


def test_parse_java_version_output_empty() -> None:
    assert parse_java_version_output("") is None


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ((DATA / "release-oracle-8u151").read_text(encoding="utf-8"), "1.8.0_151"),
        ((DATA / "release-openjdk-17").read_text(encoding="utf-8"), "17.0.15"),
        ('JAVA_VERSION="21"\nOS_NAME="Linux"\n', "21"),
        ("JAVA_VERSION=11.0.2\n", "11.0.2"),
        ('IMPLEMENTOR="Eclipse Adoptium"\nJAVA_RUNTIME_VERSION="21.0.7+6-LTS"\n', None),
        ("cat: /opt/jdk/release: No such file or directory\n", None),
    ],
)
def test_parse_java_release(text: str, version: str | None) -> None:
    assert parse_java_release(text) == version


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.8.0_151", (8, 151)),
        ("1.8.0_412-b08", (8, 412)),
        ("1.7.0_80", (7, 80)),
        ("1.6.0_45", (6, 45)),
        ("1.8.0", (8, None)),
        ("9.0.4", (9, None)),
        ("11.0.23", (11, None)),
        ("17.0.15", (17, None)),
        ("21", (21, None)),
        ("21.0.7+6-LTS", (21, None)),
        ("22-ea", (22, None)),
        ("", (None, None)),
        ("unknown", (None, None)),
        ("1", (None, None)),
    ],
)
def test_java_major_update(version: str, expected: tuple[int | None, int | None]) -> None:
    assert java_major_update(version) == expected


# --- java.security -----------------------------------------------------------------------------------


def test_parse_java_security_17() -> None:
    props = parse_java_security((DATA / "java.security-17").read_text(encoding="utf-8"))
    assert props["crypto.policy"] == "unlimited"
    assert props["security.provider.2"] == "SunRsaSign"
    assert parse_disabled_algorithms(props["jdk.tls.disabledAlgorithms"]) == (
        "SSLv3", "TLSv1", "TLSv1.1", "DTLSv1.0", "RC4", "DES", "MD5withRSA", "DH keySize < 1024",
        "EC keySize < 224", "3DES_EDE_CBC", "anon", "NULL", "ECDH",
    )  # fmt: skip


def test_parse_java_security_8u151_has_commented_policy() -> None:
    props = parse_java_security((DATA / "java.security-8u151").read_text(encoding="utf-8"))
    assert "crypto.policy" not in props
    assert "TLSv1" not in parse_disabled_algorithms(props["jdk.tls.disabledAlgorithms"])


def test_parse_java_security_last_wins() -> None:
    props = parse_java_security((DATA / "java.security-8u161-limited").read_text(encoding="utf-8"))
    assert props["crypto.policy"] == "limited"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("SSLv3, RC4", ("SSLv3", "RC4")),
        ("SSLv3,RC4,,", ("SSLv3", "RC4")),
        ("  DH keySize < 1024 ,EC  keySize <\t224", ("DH keySize < 1024", "EC keySize < 224")),
        ("SSLv3, include jdk.disabled.namedCurves", ("SSLv3", "include jdk.disabled.namedCurves")),
        ("", ()),
        (" , ", ()),
    ],
)
def test_parse_disabled_algorithms(value: str, expected: tuple[str, ...]) -> None:
    assert parse_disabled_algorithms(value) == expected


# --- policy jars -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jar", "strength"),
    [
        pytest.param(LIMITED_JAR, "limited", id="limited-local-policy"),
        pytest.param(UNLIMITED_JAR, "unlimited", id="unlimited-local-policy"),
        pytest.param(US_EXPORT_JAR, "unlimited", id="us-export-policy"),
        pytest.param(
            _jar(
                {
                    "default_local.policy": _policy("limited", "default_local.policy"),
                    "default_US_export.policy": _policy("unlimited", "default_US_export.policy"),
                }
            ),
            "limited",
            id="both-files-weakest-wins",
        ),
        pytest.param(
            _jar(
                {
                    "default_local.policy": "// javax.crypto.CryptoAllPermission is not granted here\n"
                    'grant {\n permission javax.crypto.CryptoPermission "*", 128;\n};\n'
                }
            ),
            "limited",
            id="comment-mentions-all-permission",
        ),
        pytest.param(
            _jar({"sub/dir/default_local.policy": _policy("unlimited", "default_local.policy")}),
            "unlimited",
            id="policy-in-subdirectory",
        ),
        pytest.param(
            _jar({"exempt_local.policy": _policy("limited", "exempt_local.policy")}),
            "unknown",
            id="no-default-policy",
        ),
        pytest.param(_jar({"default_local.policy": "grant {\n};\n"}), "unknown", id="grants-nothing"),
        pytest.param(_jar({}), "unknown", id="empty-zip"),
        pytest.param(b"", "unknown", id="no-bytes"),
        pytest.param(b"PK\x03\x04garbage", "unknown", id="corrupt-zip"),
        pytest.param(b"Permission denied", "unknown", id="not-a-zip"),
    ],
)
def test_policy_jar_strength(jar: bytes, strength: str) -> None:
    assert policy_jar_strength(jar) == strength


def test_policy_jar_strength_truncated_jar() -> None:
    assert policy_jar_strength(LIMITED_JAR[: len(LIMITED_JAR) // 2]) == "unknown"


# --- crypto policy decision --------------------------------------------------------------------------

BOTH = ("limited", "unlimited")
LIM, UNL = LIMITED_JAR, UNLIMITED_JAR

# id, major, update, crypto.policy, policy dirs, local_policy.jar -> policy, part of the evidence
# fmt: off
DECISIONS = [
    # Java 9+: crypto.policy, else unlimited
    ("17-default",       17, None, None,        BOTH,  None, "unlimited", "Java 17 defaults to unlimited"),
    ("21-set",           21, None, "unlimited", BOTH,  None, "unlimited", "crypto.policy=unlimited"),
    ("11-limited",       11, None, "limited",   BOTH,  None, "limited",   "=limited in java.security"),
    ("11-dirs-unlisted", 11, None, " limited ", (),    None, "limited",   "crypto.policy=limited"),
    ("11-empty-setting", 11, None, "",          BOTH,  None, "unlimited", "defaults to unlimited"),
    ("17-dir-missing",   17, None, "limited",   ("unlimited",), None, "unknown",
     "conf/security/policy/limited does not exist"),
    ("17-custom-dir",    17, None, "custom",    ("custom", *BOTH), None, "unknown", "custom policy dir"),
    # Java 8u151+ layout: crypto.policy, else legacy jar, else limited < 8u161 <= unlimited
    ("8u151-default",    8, 151,  None,        BOTH,  None, "limited",   "8u151 defaults to limited"),
    ("8u152-default",    8, 152,  None,        BOTH,  None, "limited",   "8u152 defaults to limited"),
    ("8u161-default",    8, 161,  None,        BOTH,  None, "unlimited", "8u161 defaults to unlimited"),
    ("8u412-default",    8, 412,  None,        BOTH,  None, "unlimited", "8u412 defaults to unlimited"),
    ("8u151-set",        8, 151,  "unlimited", BOTH,  None, "unlimited", "crypto.policy=unlimited"),
    ("8u202-limited",    8, 202,  "limited",   BOTH,  None, "limited",   "crypto.policy=limited"),
    ("8u151-dir-gone",   8, 151,  "unlimited", ("limited",), None, "unknown",
     "jre/lib/security/policy/unlimited does not exist"),
    ("8u161-dir-gone",   8, 161,  None,        ("limited",), None, "unknown", "unlimited does not exist"),
    ("8-update-unknown", 8, None, None,        BOTH,  None, "unknown",   "update is unknown"),
    ("8u152-legacy-jar", 8, 152,  None,        BOTH,  UNL,  "unlimited", "local_policy.jar grants unlimited"),
    ("8u152-set-beats-jar", 8, 152, "limited", BOTH,  UNL,  "limited",   "crypto.policy=limited"),
    # before 8u151 (no policy dirs): local_policy.jar decides, crypto.policy means nothing
    ("8u144-jar",        8, 144,  None,        (),    LIM,  "limited",   "local_policy.jar grants limited"),
    ("8u131-jce",        8, 131,  None,        (),    UNL,  "unlimited", "grants unlimited strength"),
    ("7-jar",            7, 80,   None,        (),    LIM,  "limited",   "Java 7"),
    ("8u144-no-jar",     8, 144,  None,        (),    None, "unknown",   "could not be read"),
    ("8u144-bad-jar",    8, 144,  None,        (),    b"x", "unknown",   "no recognisable"),
    ("8u144-setting",    8, 144,  "unlimited", (),    LIM,  "limited",   "pre-8u151 layout"),
    # nothing known
    ("unknown",          None, None, None,     (),    None, "unknown",   "version is unknown"),
    ("unknown-setting",  None, None, "unlimited", BOTH, None, "unknown", "version is unknown"),
    ("unknown-with-jar", None, None, None,     (),    LIM,  "limited",   "Java version unknown"),
]
# fmt: on


@pytest.mark.parametrize(
    ("major", "update", "setting", "dirs", "jar", "policy", "evidence"),
    [pytest.param(*row[1:], id=str(row[0])) for row in DECISIONS],
)
def test_decide_crypto_policy(
    major: int | None,
    update: int | None,
    setting: str | None,
    dirs: tuple[str, ...],
    jar: bytes | None,
    policy: str,
    evidence: str,
) -> None:
    got_policy, got_evidence = decide_crypto_policy(major, update, setting, list(dirs), jar)
    assert got_policy == policy
    assert evidence in got_evidence
