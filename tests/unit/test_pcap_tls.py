"""TLS over reassembled TCP: real Python `ssl` handshakes (TLS 1.2 / 1.3, SNI or not, refused certificate,
protocol mismatch) and hand-built records for what Python cannot send (SSLv2 hello, GREASE, HelloRetryRequest,
encrypted alerts, damaged messages)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from fixer.pcap import names
from fixer.pcap.hello import HRR_RANDOM
from fixer.pcap.model import ConnectionObs
from fixer.pcap.tls import FINISHED_MIN, TlsConn
from fixer.pcap.verdicts import judge
from tests.unit import pcap_build as b
from tests.unit.pcap_build import alert, client_hello_body, handshake_msg, record, server_hello_body


def read(tmp_path: Path, flights: list[b.Flight], **kw: object) -> ConnectionObs:
    return b.only(b.read_segments(tmp_path, b.session(flights, **kw)))  # type: ignore[arg-type]


def ch_record(**kw: object) -> bytes:
    return record(22, handshake_msg(1, client_hello_body(**kw)), version=0x0301)  # type: ignore[arg-type]


def sh_record(**kw: object) -> bytes:
    return record(22, handshake_msg(2, server_hello_body(**kw)))  # type: ignore[arg-type]


# ---- real handshakes ----------------------------------------------------------------------------------------

def test_tls13_ok_with_sni(tmp_path: Path) -> None:
    obs = read(tmp_path, b.handshake())
    ch, sh = obs.client_hello, obs.server_hello
    assert ch is not None and sh is not None
    assert ch.record_version == "TLSv1" and ch.legacy_version == "TLSv1.2"
    assert ch.supported_versions[0] == "TLSv1.3" and ch.max_version == "TLSv1.3"
    assert "TLS_AES_256_GCM_SHA384" in ch.cipher_suites
    assert "TLS_EMPTY_RENEGOTIATION_INFO_SCSV" in ch.cipher_suites
    assert not any(s.startswith("0x") for s in ch.cipher_suites)
    assert ch.server_name == "backend.example.com" and ch.sni_present
    assert ch.extensions[0] == "server_name" and "supported_versions" in ch.extensions and "key_share" in ch.extensions
    assert sh.version == "TLSv1.3" and sh.legacy_version == "TLSv1.2" and not sh.hello_retry_request
    assert sh.cipher_suite.startswith("TLS_AES_")
    assert obs.certificates == ()  # encrypted in TLS 1.3
    assert obs.alerts == ()
    assert obs.handshake_done
    assert obs.server_records_after_hello[:2] == ("change_cipher_spec", "application_data")
    assert obs.client_records_after_hello[0] == "change_cipher_spec"
    assert len(obs.client_record_lengths_after_hello) == len(obs.client_records_after_hello)
    assert obs.closed_by == "client" and obs.close_kind == "fin" and obs.syn_seen
    assert (str(obs.client), str(obs.server)) == ("10.0.0.1:40000", "10.0.0.2:443")
    assert obs.notes == ()


def test_tls12_ok_shows_the_chain(tmp_path: Path) -> None:
    obs = read(tmp_path, b.handshake(client_max="1.2"))
    assert obs.client_hello is not None and obs.client_hello.supported_versions == ()
    assert obs.client_hello.max_version == "TLSv1.2"
    assert obs.server_hello is not None and obs.server_hello.version == "TLSv1.2"
    assert "_WITH_" in obs.server_hello.cipher_suite
    assert [c.subject for c in obs.certificates] == ["CN=backend.example.com,O=fixer test",
                                                      "CN=Pcap Test Intermediate,O=fixer test"]
    assert obs.certificates[0].sans == ("DNS:backend.example.com",) and obs.certificates[0].der
    assert obs.handshake_done
    assert obs.client_records_after_hello[:3] == ("handshake", "change_cipher_spec", "handshake")


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_no_sni(tmp_path: Path, version: str) -> None:
    obs = read(tmp_path, b.handshake(client_max=version, sni=None))
    assert obs.client_hello is not None
    assert obs.client_hello.server_name is None and not obs.client_hello.sni_present
    assert "server_name" not in obs.client_hello.extensions
    assert obs.handshake_done


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_client_refuses_the_certificate(tmp_path: Path, version: str) -> None:
    obs = read(tmp_path, b.handshake(client_max=version, verify="bad"))
    # OpenSSL's client alerts before it switches keys: plaintext even in TLS 1.3
    assert [(a.sender, a.level, a.description, a.encrypted) for a in obs.alerts] == [
        ("client", "fatal", "unknown_ca", False)]
    assert not obs.handshake_done
    assert obs.server_hello is not None and obs.server_hello.version == f"TLSv{version}"
    assert bool(obs.certificates) == (version == "1.2")


def test_client_trusts_the_certificate(tmp_path: Path) -> None:
    obs = read(tmp_path, b.handshake(client_max="1.2", verify="good"))
    assert obs.handshake_done and obs.alerts == ()


def test_server_refuses_the_version(tmp_path: Path) -> None:
    obs = read(tmp_path, b.handshake(client_max="1.2", server_min="1.3"))
    assert obs.server_hello is None
    assert [(a.sender, a.level, a.description) for a in obs.alerts] == [("server", "fatal", "protocol_version")]
    assert not obs.handshake_done


def test_no_shared_cipher(tmp_path: Path) -> None:
    obs = read(tmp_path, b.handshake(client_max="1.2", ciphers="AES128-SHA",
                                     server_ciphers="ECDHE-RSA-AES256-GCM-SHA384"))
    assert obs.client_hello is not None
    assert obs.client_hello.cipher_suites == ("TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV")
    assert [(a.sender, a.description) for a in obs.alerts] == [("server", "handshake_failure")]


def test_handshake_messages_split_over_many_small_segments(tmp_path: Path) -> None:
    obs = read(tmp_path, b.handshake(client_max="1.2"), mss=7)
    assert obs.client_hello is not None and obs.client_hello.server_name == "backend.example.com"
    assert len(obs.certificates) == 2 and obs.handshake_done


def test_records_of_one_flight_in_one_segment(tmp_path: Path) -> None:
    flights = b.handshake(client_max="1.2")
    joined = [("client", flights[0][1]), ("server", b"".join(d for s, d in flights[1:] if s == "server"))]
    obs = read(tmp_path, joined, mss=65000)
    assert len(obs.certificates) == 2
    assert obs.server_records_after_hello.count("handshake") >= 3


# ---- hand-built records -----------------------------------------------------------------------------------------

def test_grease_dropped_alpn_and_unknown_codes(tmp_path: Path) -> None:
    hello = ch_record(suites=(0x2A2A, 0x1301, 0xC02F, 0x00FF, 0x5600, 0xFFFE), versions=(0x7A7A, 0x0304, 0x0303),
                      alpn=("h2", "http/1.1"), extra=((0xDADA, b""), (0xFE0D, b"x"), (0x7777, b"")))
    obs = read(tmp_path, [("client", hello)])
    ch = obs.client_hello
    assert ch is not None
    assert ch.cipher_suites == ("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", "TLS_FALLBACK_SCSV", "0xfffe")
    assert ch.supported_versions == ("TLSv1.3", "TLSv1.2")
    assert ch.alpn == ("h2", "http/1.1")
    assert ch.extensions == ("server_name", "supported_versions", "application_layer_protocol_negotiation",
                             "encrypted_client_hello", "0x7777")
    assert obs.server_hello is None and not obs.handshake_done


def test_empty_server_name_extension(tmp_path: Path) -> None:
    obs = read(tmp_path, [("client", ch_record(sni=None, extra=((0, b""),)))])
    assert obs.client_hello is not None and obs.client_hello.sni_present and obs.client_hello.server_name is None


def test_client_hello_split_over_two_records_and_segments(tmp_path: Path) -> None:
    msg = handshake_msg(1, client_hello_body(sni="split.example"))
    flights = [("client", record(22, msg[:10]) + record(22, msg[10:])), ("server", alert(40))]
    obs = read(tmp_path, flights, mss=9)
    assert obs.client_hello is not None and obs.client_hello.server_name == "split.example"
    assert [(a.sender, a.description) for a in obs.alerts] == [("server", "handshake_failure")]


def test_several_handshake_messages_in_one_record(tmp_path: Path) -> None:
    server = record(22, handshake_msg(2, server_hello_body(suite=0x009C)) + handshake_msg(14, b""))
    obs = read(tmp_path, [("client", ch_record()), ("server", server)])
    assert obs.server_hello is not None and obs.server_hello.cipher_suite == "TLS_RSA_WITH_AES_128_GCM_SHA256"


def test_two_alerts_in_one_record_and_a_warning(tmp_path: Path) -> None:
    obs = read(tmp_path, [("client", ch_record()), ("server", record(21, b"\x01\x70\x02\x28"))])
    assert [(a.level, a.description) for a in obs.alerts] == [("warning", "unrecognized_name"),
                                                               ("fatal", "handshake_failure")]


def test_hello_retry_request_then_server_hello(tmp_path: Path) -> None:
    hrr = sh_record(suite=0x1301, selected=0x0304, random=HRR_RANDOM)
    obs = read(tmp_path, [("client", ch_record(versions=(0x0304,))), ("server", hrr)], closer="server")
    assert obs.server_hello is not None and obs.server_hello.hello_retry_request
    assert obs.server_hello.version == "TLSv1.3"
    real = sh_record(suite=0x1301, selected=0x0304)
    obs = read(tmp_path, [("client", ch_record(versions=(0x0304,))), ("server", hrr),
                          ("client", record(20, b"\x01") + ch_record(versions=(0x0304,))), ("server", real)])
    assert obs.server_hello is not None and not obs.server_hello.hello_retry_request
    assert any("HelloRetryRequest" in n for n in obs.notes)
    assert any("second ClientHello" in n for n in obs.notes)


def test_tls12_encrypted_alert_after_change_cipher_spec(tmp_path: Path) -> None:
    server = sh_record() + record(22, handshake_msg(14, b""))
    client = record(22, handshake_msg(16, bytes(66))) + record(20, b"\x01") + record(22, bytes(40))
    obs = read(tmp_path, [("client", ch_record()), ("server", server), ("client", client),
                          ("server", record(21, bytes(26)))], closer="server")
    assert [(a.sender, a.encrypted, a.length, a.level) for a in obs.alerts] == [("server", True, 26, None)]
    assert not obs.handshake_done


def test_tls13_java_pattern_short_application_data_record(tmp_path: Path) -> None:
    server = sh_record(suite=0x1302, selected=0x0304) + record(20, b"\x01") + record(23, bytes(2000))
    client = record(20, b"\x01") + record(23, bytes(19))
    obs = read(tmp_path, [("client", ch_record(versions=(0x0304, 0x0303))), ("server", server), ("client", client)])
    assert obs.server_hello is not None and obs.server_hello.version == "TLSv1.3"
    assert obs.client_records_after_hello == ("change_cipher_spec", "application_data")
    assert obs.client_record_lengths_after_hello == (1, 19)
    assert obs.alerts == () and not obs.handshake_done and obs.closed_by == "client"


def test_tls13_handshake_done_needs_the_server_after_the_client_finished() -> None:
    conn = TlsConn(1 << 20)
    c, s = conn.streams
    c.feed(ch_record(versions=(0x0304,)), 1.0)
    s.feed(sh_record(suite=0x1301, selected=0x0304) + record(20, b"\x01") + record(23, bytes(900)), 2.0)
    c.feed(record(20, b"\x01") + record(23, bytes(53)), 3.0)
    assert not conn.handshake_done()
    s.feed(record(23, bytes(19)), 4.0)  # an alert-sized record: not a ticket
    assert not conn.handshake_done()
    s.feed(record(23, bytes(250)), 5.0)
    assert conn.handshake_done()


def test_tls13_a_35_byte_record_after_the_hello_is_not_a_finished() -> None:
    """Java 17's encrypted alert is 35 bytes; a TLS 1.3 Finished record is 53 or more (4 + 32 + 1 + 16)."""
    conn = TlsConn(1 << 20)
    c, s = conn.streams
    c.feed(ch_record(versions=(0x0304,)), 1.0)
    s.feed(sh_record(suite=0x1301, selected=0x0304) + record(20, b"\x01") + record(23, bytes(900)), 2.0)
    c.feed(record(20, b"\x01") + record(23, bytes(35)), 3.0)  # the client refuses the certificate
    s.feed(record(23, bytes(250)), 4.0)  # the rest of the server's flight, captured after the alert
    assert not conn.handshake_done()
    c.feed(record(23, bytes(FINISHED_MIN - 1)), 5.0)
    s.feed(record(23, bytes(250)), 6.0)
    assert not conn.handshake_done()
    c.feed(record(23, bytes(FINISHED_MIN)), 7.0)  # the shortest Finished (SHA-256)
    s.feed(record(23, bytes(250)), 8.0)
    assert conn.handshake_done()


def test_tls13_java_35_byte_alert_then_more_server_records_is_a_refused_certificate(tmp_path: Path) -> None:
    server = sh_record(suite=0x1302, selected=0x0304) + record(20, b"\x01") + record(23, bytes(2000))
    flights = [("client", ch_record(versions=(0x0304, 0x0303))), ("server", server),
               ("client", record(20, b"\x01") + record(23, bytes(35))), ("server", record(23, bytes(300)))]
    obs = read(tmp_path, flights)
    assert obs.client_record_lengths_after_hello == (1, 35) and not obs.handshake_done
    verdict = judge(obs)
    assert verdict.kind == "certificate-rejected" and verdict.inferred


def test_sslv2_client_hello(tmp_path: Path) -> None:
    specs = bytes.fromhex("010080") + bytes.fromhex("00002f") + bytes.fromhex("0000ff")
    body = b"\x01" + struct.pack("!HHHH", 0x0301, len(specs), 0, 16) + specs + bytes(16)
    v2 = struct.pack("!H", 0x8000 | len(body)) + body
    obs = read(tmp_path, [("client", v2), ("server", alert(40))])
    ch = obs.client_hello
    assert ch is not None and ch.record_version == "SSLv2" and ch.legacy_version == "TLSv1"
    assert ch.cipher_suites == ("SSL_CK_RC4_128_WITH_MD5", "TLS_RSA_WITH_AES_128_CBC_SHA",
                                "TLS_EMPTY_RENEGOTIATION_INFO_SCSV")
    assert not ch.sni_present


def test_damaged_extensions_keep_what_came_before(tmp_path: Path) -> None:
    body = client_hello_body(sni="keep.example", alpn=("h2",))
    body = body[:-3]  # cut inside the last extension; the message length says so
    obs = read(tmp_path, [("client", record(22, handshake_msg(1, body)))])
    assert obs.client_hello is not None and obs.client_hello.server_name == "keep.example"
    assert any("damaged" in n for n in obs.notes)


def test_unreadable_client_hello_is_a_note(tmp_path: Path) -> None:
    obs = read(tmp_path, [("client", record(22, handshake_msg(1, b"\x03\x03" + bytes(5)))), ("server", alert(50))])
    assert obs.client_hello is None
    assert any("unreadable client_hello" in n for n in obs.notes)
    assert obs.client.port == 40000 and obs.alerts[0].description == "decode_error"


def test_garbage_certificate_is_still_data(tmp_path: Path) -> None:
    certs = b"\x00\x00\x05" + b"junk!"
    msg = handshake_msg(11, len(certs).to_bytes(3, "big") + certs)
    obs = read(tmp_path, [("client", ch_record()), ("server", sh_record() + record(22, msg))])
    assert len(obs.certificates) == 1 and obs.certificates[0].parse_error


def test_server_stream_not_tls_after_a_client_hello(tmp_path: Path) -> None:
    obs = read(tmp_path, [("client", ch_record()), ("server", b"HTTP/1.1 400 Bad Request\r\n\r\n")])
    assert obs.client_hello is not None and obs.server_hello is None and obs.alerts == ()


# ---- gaps inside the TLS layer ------------------------------------------------------------------------------------

def test_gap_inside_a_record_keeps_the_record_boundaries() -> None:
    conn = TlsConn(1 << 20)
    s = conn.streams[1]
    data = record(23, bytes(100)) + alert(0, level=1)
    s.feed(data[:30], 1.0)
    s.gap(50, 1.1)
    s.feed(data[80:], 1.2)
    conn.client_dir = 0
    assert [(a.description, a.sender) for a in conn.alerts_for(0)] == [("close_notify", "server")]
    assert any("inside an application_data record" in text for _d, text in conn.notes)


def test_gap_over_a_header_resynchronises_on_the_next_records() -> None:
    conn = TlsConn(1 << 20)
    s = conn.streams[1]
    data = record(23, bytes(100)) + record(23, bytes(30)) + alert(48) + record(23, bytes(10))
    s.feed(data[:50], 1.0)
    s.gap(70, 1.1)  # the second header is lost
    s.feed(data[120:], 1.2)
    assert [a.description for _d, a in conn.alerts] == ["unknown_ca"]
    assert any("boundary found again" in text for _d, text in conn.notes)


def test_stream_start_not_captured_finds_records() -> None:
    conn = TlsConn(1 << 20)
    s = conn.streams[1]
    s.start_known = False
    data = record(23, bytes(300)) + record(23, bytes(40)) + alert(0, level=1)
    s.feed(data[17:], 1.0)
    assert conn.tls_seen
    assert [a.description for _d, a in conn.alerts] == ["close_notify"]


def test_stream_limit_stops_reading() -> None:
    conn = TlsConn(4096)
    s = conn.streams[0]
    s.feed(record(23, bytes(5000)), 1.0)
    assert not s.active
    s.feed(alert(40), 1.1)
    assert conn.alerts == []


def test_names() -> None:
    assert names.suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert names.suite_name(0xFFFF) == "0xffff"
    assert names.version_name(0x7F1C) == "0x7f1c"
    assert names.version_rank("TLSv1.3") > names.version_rank("TLSv1.2") > names.version_rank("SSLv3")
    assert names.version_rank("SSLv2") < names.version_rank("SSLv3")
    assert names.alert_name(112) == "unrecognized_name" and names.alert_name(200) == "0xc8"
    assert names.is_grease(0xFAFA) and not names.is_grease(0xFAFB) and not names.is_grease(0x0A1A)
    assert names.extension_name(0xFF01) == "renegotiation_info"


def test_many_bad_headers_in_one_segment_do_not_recurse() -> None:
    conn = TlsConn(1 << 20)
    s = conn.streams[1]
    s.start_known = False
    unit = record(23, b"x") + record(23, b"y") + bytes(5)  # two records, then a header that is none
    s.feed(unit * 3000 + record(23, b"z") + alert(46), 1.0)
    assert [a.description for _d, a in conn.alerts] == ["certificate_unknown"]
    assert len(conn.notes) <= 16


def test_a_last_lone_record_after_a_gap_is_read_at_the_end() -> None:
    conn = TlsConn(1 << 20)
    s = conn.streams[1]
    s.feed(record(23, bytes(100)), 1.0)
    s.gap(30, 1.1)  # a whole record lost, then only an alert comes
    s.feed(alert(40), 1.2)
    assert conn.alerts == []  # one header alone is no proof of a boundary ...
    conn.finish()  # ... unless it ends exactly where the stream ends
    assert [(a.description, a.time) for _d, a in conn.alerts] == [("handshake_failure", 1.2)]
