"""Names of TLS protocol versions, cipher suites, alerts, extensions and record types (pure tables).

Unknown codes are written in hex ("0x7f1c" for a version or suite, "0x00fe" for an extension, "0x7b" for an
alert), so a name is never lost, only not known.
"""

from __future__ import annotations

from fixer.pcap.suite_names import CIPHER_SUITE_NAMES

VERSIONS: dict[int, str] = {0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2",
                            0x0304: "TLSv1.3"}
_RANK = {name: i for i, name in enumerate(VERSIONS.values())}
_RANK["SSLv2"] = -1  # older than SSLv3, ranked with the unknown codes


# The shortest TLS 1.3 Finished record body (5-byte record header excluded): 4-byte handshake header + a 32- or
# 48-byte MAC + the inner content type + a 16-byte AEAD tag = 53 or more. An encrypted alert is 2 + 1 + 16 = 19
# bytes plus padding (35 from Java 17). The parser (handshake completion) and the verdicts (encrypted alert
# patterns) share this bar.
TLS13_FINISHED_MIN = 53


def version_name(code: int) -> str:
    return VERSIONS.get(code, f"0x{code:04x}")


def version_rank(name: str) -> int:
    """Order of versions for max(): unknown codes (and SSLv2) rank below SSLv3."""
    return _RANK.get(name, -1)


def is_grease(code: int) -> bool:
    """RFC 8701 GREASE values (0x0a0a, 0x1a1a, ... 0xfafa) in suites, versions, extensions, groups."""
    return (code & 0x0F0F) == 0x0A0A and (code >> 8) == (code & 0xFF)


# IANA names for the signalling suites dpkt names differently; pre-RFC ChaCha20 suites keep dpkt's names
_SUITE_FIXES = {0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", 0x5600: "TLS_FALLBACK_SCSV"}
CIPHER_SUITES: dict[int, str] = dict(CIPHER_SUITE_NAMES)
CIPHER_SUITES.update(_SUITE_FIXES)

# SSLv2 CIPHER-SPECs (3 bytes, first byte not 0; those with a 0 first byte are TLS suites)
SSL2_CIPHER_SPECS: dict[int, str] = {
    0x010080: "SSL_CK_RC4_128_WITH_MD5", 0x020080: "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
    0x030080: "SSL_CK_RC2_128_CBC_WITH_MD5", 0x040080: "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
    0x050080: "SSL_CK_IDEA_128_CBC_WITH_MD5", 0x060040: "SSL_CK_DES_64_CBC_WITH_MD5",
    0x0700C0: "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
}


def suite_name(code: int) -> str:
    """IANA name of a cipher suite, or "0x1234"."""
    return CIPHER_SUITES.get(code) or f"0x{code:04x}"


def ssl2_spec_name(code: int) -> str:
    if code >> 16 == 0:
        return suite_name(code)
    return SSL2_CIPHER_SPECS.get(code) or f"0x{code:06x}"


# IANA TLS ExtensionType values (plus a few widely deployed unregistered ones)
EXTENSIONS: dict[int, str] = {
    0: "server_name", 1: "max_fragment_length", 2: "client_certificate_url", 3: "trusted_ca_keys",
    4: "truncated_hmac", 5: "status_request", 6: "user_mapping", 7: "client_authz", 8: "server_authz",
    9: "cert_type", 10: "supported_groups", 11: "ec_point_formats", 12: "srp", 13: "signature_algorithms",
    14: "use_srtp", 15: "heartbeat", 16: "application_layer_protocol_negotiation", 17: "status_request_v2",
    18: "signed_certificate_timestamp", 19: "client_certificate_type", 20: "server_certificate_type",
    21: "padding", 22: "encrypt_then_mac", 23: "extended_master_secret", 24: "token_binding", 25: "cached_info",
    26: "tls_lts", 27: "compress_certificate", 28: "record_size_limit", 29: "pwd_protect", 30: "pwd_clear",
    31: "password_salt", 32: "ticket_pinning", 33: "tls_cert_with_extern_psk", 34: "delegated_credential",
    35: "session_ticket", 36: "TLMSP", 37: "TLMSP_proxying", 38: "TLMSP_delegate", 39: "supported_ekt_ciphers",
    41: "pre_shared_key", 42: "early_data", 43: "supported_versions", 44: "cookie",
    45: "psk_key_exchange_modes", 47: "certificate_authorities", 48: "oid_filters", 49: "post_handshake_auth",
    50: "signature_algorithms_cert", 51: "key_share", 52: "transparency_info", 53: "connection_id_deprecated",
    54: "connection_id", 55: "external_id_hash", 56: "external_session_id", 57: "quic_transport_parameters",
    58: "ticket_request", 59: "dnssec_chain", 60: "sequence_number_encryption_algorithms", 61: "rrc",
    13172: "next_protocol_negotiation", 17513: "application_settings", 30032: "channel_id",
    65037: "encrypted_client_hello", 65281: "renegotiation_info",
}


def extension_name(code: int) -> str:
    return EXTENSIONS.get(code) or f"0x{code:04x}"


# RFC 8446 6.2 AlertDescription (and the older ones of RFC 5246 / 6066 / 8701-era registries)
ALERTS: dict[int, str] = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
    22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
    42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
    46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
    51: "decrypt_error", 60: "export_restriction", 70: "protocol_version", 71: "insufficient_security",
    80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
    109: "missing_extension", 110: "unsupported_extension", 111: "certificate_unobtainable",
    112: "unrecognized_name", 113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
    115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol", 121: "ech_required",
}
ALERT_LEVELS: dict[int, str] = {1: "warning", 2: "fatal"}


def alert_name(code: int) -> str:
    return ALERTS.get(code) or f"0x{code:02x}"


CONTENT_TYPES: dict[int, str] = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data",
                                 24: "heartbeat", 25: "tls12_cid"}


def content_type_name(code: int) -> str:
    return CONTENT_TYPES.get(code) or f"0x{code:02x}"


HANDSHAKE_TYPES: dict[int, str] = {
    0: "hello_request", 1: "client_hello", 2: "server_hello", 4: "new_session_ticket", 5: "end_of_early_data",
    8: "encrypted_extensions", 11: "certificate", 12: "server_key_exchange", 13: "certificate_request",
    14: "server_hello_done", 15: "certificate_verify", 16: "client_key_exchange", 20: "finished",
    22: "certificate_status", 24: "key_update", 254: "message_hash",
}


def handshake_type_name(code: int) -> str:
    return HANDSHAKE_TYPES.get(code) or f"0x{code:02x}"
