"""TLS over one TCP connection: what its two record streams saw -> the TLS fields of a ConnectionObs.

    fixer.pcap.records.TlsStream (one per direction): bytes -> records -> handshake messages, alerts
    fixer.pcap.hello: handshake message bodies -> ClientHello, ServerHello, certificates
    TlsConn (here, both directions): hellos, certificates, alerts, the record types after the hello, whether
        the handshake completed, notes on what could not be read

The TCP layer (fixer.pcap.tcp) makes one TlsConn per connection and feeds its two streams; the streams report
each record, handshake message and alert to it. Roles (client, server) are the TCP layer's to decide: a TlsConn
knows directions 0 and 1, and which one sent the ClientHello.
"""

from __future__ import annotations

from fixer.pcap import names
from fixer.pcap.hello import (
    HS_CERTIFICATE,
    HS_CLIENT_HELLO,
    HS_SERVER_HELLO,
    Malformed,
    intern_tuple,
    parse_certificates,
    parse_client_hello,
    parse_server_hello,
    parse_sslv2_client_hello,
)
from fixer.pcap.model import Alert, ClientHello, ServerHello, Side
from fixer.pcap.records import CT_APPDATA, CT_CCS, CT_HANDSHAKE, TlsStream
from fixer.probe.model import CertSummary

RECORDS_KEPT = 64  # record types kept per side after the hello
ALERTS_KEPT = 32
NOTES_KEPT = 16
# handshake_done counts only application_data records at least as long as a TLS 1.3 Finished; shorter ones are
# left to the verdicts' alert patterns: counting Java's 35-byte alert as a Finished would call a refused
# certificate ok
FINISHED_MIN = names.TLS13_FINISHED_MIN


class TlsConn:
    """Both directions of one connection: the TLS facts for its ConnectionObs (roles are the TCP layer's)."""

    __slots__ = ("after_hello", "alerts", "certificates", "client_dir", "client_hello", "hellos", "notes", "order",
                 "records", "server_hello", "streams", "tls13", "tls_seen")

    def __init__(self, limit: int) -> None:
        self.streams: tuple[TlsStream, ...] = (TlsStream(self, 0, limit), TlsStream(self, 1, limit))
        self.tls_seen = False
        self.tls13 = False  # a ServerHello (or HelloRetryRequest) selected TLS 1.3
        self.client_dir: int | None = None  # the direction that sent the ClientHello
        self.client_hello: ClientHello | None = None
        self.server_hello: ServerHello | None = None
        self.hellos = 0
        self.certificates: tuple[CertSummary, ...] = ()
        self.alerts: list[tuple[int, Alert]] = []
        self.after_hello = False
        self.order = 0
        # per direction: (content type, length, order) of the records after the hello
        self.records: tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]] = ([], [])
        self.notes: list[tuple[int | None, str]] = []

    # ---- events from the streams ----------------------------------------------------------------------

    def note(self, d: int | None, text: str) -> None:
        if len(self.notes) < NOTES_KEPT:
            self.notes.append((d, text))

    def record(self, d: int, rtype: int, length: int, t: float) -> None:
        self.order += 1
        if not self.after_hello:
            if rtype not in (CT_CCS, CT_APPDATA):
                return
            self.after_hello = True  # the ServerHello was not seen (lost, or the capture began later)
        recs = self.records[d]
        if len(recs) < RECORDS_KEPT:
            recs.append((rtype, length, self.order))

    def handshake(self, d: int, msg_type: int, msg: bytes, record_version: int, t: float) -> None:
        try:
            if msg_type == HS_CLIENT_HELLO:
                self.hellos += 1
                if self.client_hello is None:
                    self.client_dir = d
                    hello, damaged = parse_client_hello(msg, t, record_version)
                    self.client_hello = hello
                    if damaged:
                        self.note(d, "the ClientHello's extensions are damaged: the ones before the damage are shown")
                elif self.hellos == 2:
                    self.note(d, "a second ClientHello (after a HelloRetryRequest): the first one is shown")
            elif msg_type == HS_SERVER_HELLO:
                hello_s = parse_server_hello(msg, t)
                if self.client_dir is None:
                    self.client_dir = 1 - d
                self.tls13 = hello_s.version == "TLSv1.3"
                if hello_s.hello_retry_request:
                    self.note(d, f"HelloRetryRequest ({hello_s.cipher_suite})")
                    if self.server_hello is None:
                        self.server_hello = hello_s
                elif self.server_hello is None or self.server_hello.hello_retry_request:
                    self.server_hello = hello_s
                    self.after_hello = True
            elif (msg_type == HS_CERTIFICATE and d != self.client_dir and not self.certificates
                  and (self.server_hello is None or self.server_hello.version != "TLSv1.3")):
                certs, damaged = parse_certificates(msg)
                self.certificates = certs
                if damaged:
                    self.note(d, "the Certificate message is damaged: the certificates before the damage are shown")
        except Malformed as exc:
            self.note(d, f"unreadable {names.handshake_type_name(msg_type)}: {exc}")
            if msg_type == HS_CLIENT_HELLO and self.client_dir is None:
                self.client_dir = d

    def sslv2_hello(self, d: int, body: bytes, t: float) -> None:
        if body and body[0] == HS_CLIENT_HELLO and self.client_hello is None:
            self.client_dir = d
            self.hellos += 1
            try:
                self.client_hello = parse_sslv2_client_hello(body, t)
            except Malformed as exc:
                self.note(d, f"unreadable SSLv2 ClientHello: {exc}")

    def alert_record(self, d: int, body: bytes, after_ccs: bool, length: int, t: float) -> None:
        if len(self.alerts) >= ALERTS_KEPT:
            return
        pairs = len(body) // 2
        plain = len(body) == 2 or (not after_ccs and len(body) % 2 == 0)
        if plain and pairs and all(body[2 * i] in names.ALERT_LEVELS for i in range(pairs)):
            for i in range(pairs):
                self.alerts.append((d, Alert(time=t, sender="client", encrypted=False,
                                             level=names.ALERT_LEVELS[body[2 * i]],
                                             description=names.alert_name(body[2 * i + 1]))))
        else:
            self.alerts.append((d, Alert(time=t, sender="client", encrypted=True, length=length)))

    # ---- the result ---------------------------------------------------------------------------------------

    def handshake_done(self, client_dir: int | None = None) -> bool:
        """TLS <= 1.2: both sides sent ChangeCipherSpec then an (encrypted) handshake record. TLS 1.3 (and
        whenever application data flows): a client record too long to be an alert, then a server record too long
        to be an alert (its session ticket or data) after it."""
        cd = self.client_dir if client_dir is None else client_dir
        if cd is None:
            cd = 0
        client, server = self.records[cd], self.records[1 - cd]
        sh = self.server_hello
        if (sh is None or sh.version != "TLSv1.3") and _finished_after_ccs(client) and _finished_after_ccs(server):
            return True
        first = next((o for rtype, length, o in client if rtype == CT_APPDATA and length >= FINISHED_MIN), None)
        if first is None:
            return False
        return any(rtype == CT_APPDATA and length >= FINISHED_MIN and o > first for rtype, length, o in server)

    def finish(self) -> None:
        for stream in self.streams:
            stream.finish()

    def release(self) -> None:
        """Drop the streams (they point back here): the connection is read."""
        self.streams = ()

    def alerts_for(self, client_dir: int) -> tuple[Alert, ...]:
        out: list[Alert] = []
        for d, alert in self.alerts:
            sender: Side = "client" if d == client_dir else "server"
            out.append(alert if sender == "client" else _with_sender(alert, sender))
        return tuple(out)

    def records_for(self, d: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
        recs = self.records[d]
        return (intern_tuple(tuple(names.content_type_name(r[0]) for r in recs)), tuple(r[1] for r in recs))


def _with_sender(alert: Alert, sender: Side) -> Alert:
    return Alert(time=alert.time, sender=sender, encrypted=alert.encrypted, level=alert.level,
                 description=alert.description, inferred=alert.inferred, length=alert.length)


def _finished_after_ccs(recs: list[tuple[int, int, int]]) -> bool:
    ccs = False
    for rtype, _length, _order in recs:
        if rtype == CT_CCS:
            ccs = True
        elif ccs and rtype == CT_HANDSHAKE:
            return True
    return False
