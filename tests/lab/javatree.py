"""Fake Java 8 installations for the JCE scenarios.

Only what fixer reads is built: ``release``, ``jre/lib/security/java.security`` and the policy jars,
which are real zip files holding the JDK's own policy texts, so a checker can open them like on a
real node. Layout follows the JDK: up to 8u144 only the limited jars sit directly in
``jre/lib/security``; from 8u151 ``policy/limited`` and ``policy/unlimited`` exist and
``crypto.policy`` in java.security chooses.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

MANIFEST = "Manifest-Version: 1.0\nCreated-By: 1.8.0 (Oracle Corporation)\nCrypto-Strength: {strength}\n\n"

LIMITED_LOCAL = """\
// Some countries have import limits on crypto strength. This policy file
// is worldwide importable.

grant {
    permission javax.crypto.CryptoPermission "DES", 64;
    permission javax.crypto.CryptoPermission "DESede", *;
    permission javax.crypto.CryptoPermission "RC2", 128,
                                     "javax.crypto.spec.RC2ParameterSpec", 128;
    permission javax.crypto.CryptoPermission "RC4", 128;
    permission javax.crypto.CryptoPermission "RC5", 128,
          "javax.crypto.spec.RC5ParameterSpec", *, 12, *;
    permission javax.crypto.CryptoPermission "AES", 128;
    permission javax.crypto.CryptoPermission "*", 128;
};
"""

EXEMPT_LOCAL = """\
// Some countries have import limits on crypto strength, but may allow for
// these exemptions if the exemption mechanism is used.

grant {
    // There is no restriction to any algorithms if KeyRecovery is enforced.
    permission javax.crypto.CryptoPermission *, "KeyRecovery";

    // There is no restriction to any algorithms if KeyEscrow is enforced.
    permission javax.crypto.CryptoPermission *, "KeyEscrow";

    // There is no restriction to any algorithms if KeyWeakening is enforced.
    permission javax.crypto.CryptoPermission *, "KeyWeakening";
};
"""

UNLIMITED_LOCAL = """\
// Country-specific policy file for countries with no limits on crypto strength.

grant {
    // There is no restriction to any algorithms.
    permission javax.crypto.CryptoAllPermission;
};
"""

US_EXPORT = """\
// Default US Export policy file.

grant {
    // There is no restriction to any algorithms.
    permission javax.crypto.CryptoAllPermission;
};
"""

JAVA_SECURITY_HEAD = """\
#
# This is the "master security properties file".
#
# An alternate java.security properties file may be specified
# from the command line via the system property
#
#    -Djava.security.properties=<URL>
#
security.provider.1=sun.security.provider.Sun
security.provider.2=sun.security.rsa.SunRsaSign
security.provider.3=sun.security.ec.SunEC
security.provider.4=com.sun.net.ssl.internal.ssl.Provider
security.provider.5=com.sun.crypto.provider.SunJCE
security.provider.6=sun.security.jgss.SunProvider
security.provider.7=com.sun.security.sasl.Provider
security.provider.8=org.jcp.xml.dsig.internal.dom.XMLDSigRI
security.provider.9=sun.security.smartcardio.SunPCSC

securerandom.source=file:/dev/random
securerandom.strongAlgorithms=NativePRNGBlocking:SUN

login.configuration.provider=sun.security.provider.ConfigFile
policy.provider=sun.security.provider.PolicyFile
keystore.type=jks
"""

CRYPTO_POLICY_BLOCK = """
#
# Cryptographic Jurisdiction Policy defaults
#
# Import and export control rules on cryptographic software vary from
# country to country.  By default, the JDK provides two different sets of
# cryptographic policy files:
#
#     unlimited:  These policy files contain no restrictions on cryptographic
#                 strengths or algorithms.
#
#     limited:    These policy files contain more restricted cryptographic
#                 strengths, and are still available if your country or
#                 usage requires the traditional restrictive policy.
#
# The JDK JCE framework uses the unlimited policy files by default.
# However the user may explicitly choose a set either by defining the
# "crypto.policy" Security property or by installing valid JCE policy
# jar files into the traditional JDK installation location.
#
crypto.policy={policy}
"""

JAVA_SECURITY_TAIL = """
jdk.certpath.disabledAlgorithms=MD2, MD5, SHA1 jdkCA & usage TLSServer, \\
    RSA keySize < 1024, DSA keySize < 1024, EC keySize < 224

jdk.jar.disabledAlgorithms=MD2, MD5, RSA keySize < 1024, \\
    DSA keySize < 1024

# Algorithm restrictions for Secure Socket Layer/Transport Layer Security
# (SSL/TLS/DTLS) processing
jdk.tls.disabledAlgorithms=SSLv3, RC4, DES, MD5withRSA, DH keySize < 1024, \\
    EC keySize < 224, 3DES_EDE_CBC, anon, NULL

jdk.tls.legacyAlgorithms= \\
        K_NULL, C_NULL, M_NULL, \\
        DH_anon, ECDH_anon, \\
        RC4_128, RC4_40, DES_CBC, DES40_CBC, \\
        3DES_EDE_CBC

jdk.tls.keyLimits=AES/GCM/NoPadding KeyUpdate 2^37
"""


def _jar(path: Path, entry: str, text: str, strength: str, extra: dict[str, str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr("META-INF/MANIFEST.MF", MANIFEST.format(strength=strength))
        jar.writestr(entry, text)
        for name, content in (extra or {}).items():
            jar.writestr(name, content)


def _policy_set(directory: Path, unlimited: bool) -> None:
    if unlimited:
        _jar(directory / "local_policy.jar", "default_local.policy", UNLIMITED_LOCAL, "unlimited")
    else:
        _jar(
            directory / "local_policy.jar",
            "default_local.policy",
            LIMITED_LOCAL,
            "limited",
            {"exempt_local.policy": EXEMPT_LOCAL},
        )
    # The US export policy is unrestricted in both sets; the local policy is what limits strength.
    _jar(directory / "US_export_policy.jar", "default_US_export.policy", US_EXPORT, "unlimited")


def build_java8(home: Path, update: int, crypto_policy: str | None) -> None:
    """Create a Java 1.8.0_<update> tree at ``home``; ``crypto_policy`` is ignored before 8u151."""
    security = home / "jre" / "lib" / "security"
    security.mkdir(parents=True, exist_ok=True)
    (home / "release").write_text(
        f'JAVA_VERSION="1.8.0_{update}"\nOS_NAME="Linux"\nOS_VERSION="2.6"\nOS_ARCH="amd64"\n'
        'SOURCE=""\nBUILD_TYPE="commercial"\n'
    )
    text = JAVA_SECURITY_HEAD
    if update >= 151:
        text += CRYPTO_POLICY_BLOCK.format(policy=crypto_policy or "unlimited")
        _policy_set(security / "policy" / "limited", unlimited=False)
        _policy_set(security / "policy" / "unlimited", unlimited=True)
    else:
        _policy_set(security, unlimited=False)
    (security / "java.security").write_text(text + JAVA_SECURITY_TAIL)
