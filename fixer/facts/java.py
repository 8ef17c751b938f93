"""Pure parsers for the Message Processor's Java: version, java.security, and JCE crypto policy."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence

from fixer.facts.properties import parse_properties

# `java -version` prints e.g. `openjdk version "17.0.15" 2025-04-15` or `java version "1.8.0_151"`
# (possibly after `Picked up _JAVA_OPTIONS: ...` lines).
_VERSION_LINE = re.compile(r'^\s*[\w.-]+ version "(?P<version>[^"]+)"', re.MULTILINE)
_RELEASE_LINE = re.compile(r'^\s*JAVA_VERSION\s*=\s*"?(?P<version>[^"\s]+)"?\s*$', re.MULTILINE)


def parse_java_release(text: str) -> str | None:
    """The `JAVA_VERSION="1.8.0_151"` value of `$JAVA_HOME/release`, None when absent."""
    match = _RELEASE_LINE.search(text)
    return match["version"] if match is not None else None


def parse_java_version_output(text: str) -> str | None:
    """The quoted version of `java -version` (stderr) output, None when absent.

    Handles OpenJDK (`openjdk version "21" 2023-09-19`), Oracle/IBM (`java version "1.8.0_151"`),
    Zulu/Temurin/Corretto builds, and leading `Picked up _JAVA_OPTIONS` noise.
    """
    match = _VERSION_LINE.search(text)
    return match["version"] if match is not None else None


def java_major_update(version: str) -> tuple[int | None, int | None]:
    """(major, update) of a Java version string; update only exists on Java <= 8.

    "1.8.0_151" -> (8, 151); "1.7.0_80" -> (7, 80); "1.8.0" -> (8, None); "17.0.15" -> (17, None);
    "21" -> (21, None); "22-ea" -> (22, None); unreadable -> (None, None).
    """
    legacy = re.match(r"1\.(\d+)(?:\.\d+)?(?:_(\d+))?", version.strip())
    if legacy is not None:
        update = legacy.group(2)
        return int(legacy.group(1)), int(update) if update is not None else None
    modern = re.match(r"(\d+)", version.strip())
    if modern is not None and int(modern.group(1)) >= 2:
        return int(modern.group(1)), None
    return None, None


def parse_java_security(text: str) -> dict[str, str]:
    """java.security (a .properties file) as a dict; the last occurrence of a key wins."""
    return {entry.key: entry.value for entry in parse_properties(text)}


def parse_disabled_algorithms(value: str) -> tuple[str, ...]:
    """`jdk.tls.disabledAlgorithms` entries: split on commas, whitespace-normalised, empties dropped.

    Constraints (`DH keySize < 1024`) and `include jdk.disabled.namedCurves` stay one entry each.
    """
    return tuple(" ".join(part.split()) for part in value.split(",") if part.strip())


# --- JCE policy --------------------------------------------------------------------------------------

_POLICY_FILES = ("default_local.policy", "default_US_export.policy")
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


def _policy_text_strength(text: str) -> str:
    code = _COMMENTS.sub("", text)
    if re.search(r"\bjavax\.crypto\.CryptoAllPermission\b", code):
        return "unlimited"
    if re.search(r"\bjavax\.crypto\.CryptoPermission\b", code):
        return "limited"
    return "unknown"


def policy_jar_strength(jar: bytes) -> str:
    """Crypto strength granted by a JCE policy jar (local_policy.jar or US_export_policy.jar).

    "unlimited" when every `default_*.policy` inside grants `javax.crypto.CryptoAllPermission`,
    "limited" when one grants only restricted `javax.crypto.CryptoPermission` entries, "unknown"
    otherwise (no such file, unreadable zip). Never raises.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(jar)) as archive:
            strengths = []
            for info in archive.infolist():
                if info.filename.rsplit("/", 1)[-1] in _POLICY_FILES:
                    text = archive.read(info).decode("utf-8", "replace")
                    strengths.append(_policy_text_strength(text))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, RuntimeError):
        return "unknown"
    if "limited" in strengths:
        return "limited"
    if strengths and all(strength == "unlimited" for strength in strengths):
        return "unlimited"
    return "unknown"


def _jar_decision(jar: bytes | None, where: str, note: str = "") -> tuple[str, str]:
    suffix = f" ({note})" if note else ""
    if jar is None:
        return "unknown", f"{where} could not be read{suffix}"
    strength = policy_jar_strength(jar)
    if strength == "unknown":
        return "unknown", f"{where} grants no recognisable JCE permission{suffix}"
    return strength, f"{where} grants {strength} strength{suffix}"


def decide_crypto_policy(
    major: int | None,
    update: int | None,
    crypto_policy_setting: str | None,
    policy_dirs: Sequence[str],
    local_policy_jar: bytes | None,
) -> tuple[str, str]:
    """(policy, evidence) for the JCE crypto strength of a Java installation.

    `policy_dirs` lists the directory names found under `.../security/policy` (Java 8: `jre/lib/
    security/policy`, Java 9+: `conf/security/policy`); `local_policy_jar` is the legacy
    `jre/lib/security/local_policy.jar` when present. Rules (Oracle 8u151/8u161 release notes, JDK 9):
    - Java 9+: `crypto.policy` if set, else "unlimited" (the default);
    - Java 8 with `policy/limited` + `policy/unlimited` (8u151+): `crypto.policy` if set; unset means
      the legacy jars in jre/lib/security if any, else "limited" before 8u161 and "unlimited" from it;
    - older layouts (Java <= 8 without policy dirs): the strength of local_policy.jar;
    - a chosen policy directory that does not exist, or nothing known: "unknown".
    """
    setting = (crypto_policy_setting or "").strip() or None
    dirs = set(policy_dirs)
    if major is None:
        if local_policy_jar is not None:
            return _jar_decision(local_policy_jar, "local_policy.jar", "Java version unknown")
        return "unknown", "the Java version is unknown"
    if major >= 9:
        if setting is None:
            return "unlimited", f"crypto.policy is not set: Java {major} defaults to unlimited"
        return _chosen_dir(setting, dirs, "conf/security/policy", check_dirs=bool(dirs))
    has_policy_dirs = major == 8 and bool(dirs & {"limited", "unlimited"})
    if has_policy_dirs:
        if setting is not None:
            return _chosen_dir(setting, dirs, "jre/lib/security/policy", check_dirs=True)
        if local_policy_jar is not None:
            legacy = "crypto.policy is not set; jre/lib/security/local_policy.jar"
            return _jar_decision(local_policy_jar, legacy)
        if update is None:
            return "unknown", "crypto.policy is not set and the Java 8 update is unknown"
        default = "limited" if update < 161 else "unlimited"
        why = f"crypto.policy is not set: 8u{update} defaults to {default}"
        return _chosen_dir(default, dirs, "jre/lib/security/policy", check_dirs=True, why=why)
    layout = f"Java {major} without policy directories: the pre-8u151 layout"
    return _jar_decision(local_policy_jar, "jre/lib/security/local_policy.jar", layout)


def _chosen_dir(
    name: str, dirs: set[str], base: str, check_dirs: bool, why: str | None = None
) -> tuple[str, str]:
    reason = why or f"crypto.policy={name} in java.security"
    if check_dirs and name not in dirs:
        return "unknown", f"{reason}, but {base}/{name} does not exist"
    if name in ("limited", "unlimited"):
        return name, reason
    return "unknown", f"{reason} names a custom policy directory"
