"""The wrong certificate rt-cert-bad's operator copied in (issue 4, northbound certificate checks).

After nginx started with the lab's good leaf, `/opt/nginx/ssl/server.crt` is overwritten with this certificate
and nginx is not reloaded: it is expired, made for another key than `server.key`, and names a host that is
not the router's server_name. Self-signed, so the chain itself is complete. nginx keeps serving the old leaf
(it would refuse this pair at the next reload: key values mismatch).
"""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

WRONG_NAME = "wrong-name.fixer.lab"


def stale_router_cert_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())  # a key the router does not have
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fixer lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, WRONG_NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=400))
        .not_valid_after(now - datetime.timedelta(days=3))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(WRONG_NAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)
