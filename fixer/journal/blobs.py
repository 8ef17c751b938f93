"""Content-addressed backup bytes: sha256 → bytes, stored once however many runs or files use them.

Blobs are the exact bytes of the files (an exact rollback needs them); zlib-compressed when that is
smaller. Every read recomputes the sha256: a corrupt blob raises BlobIntegrityError, never restores.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import zlib

from fixer.journal.model import BlobIntegrityError, timestamp

_SHA = re.compile(r"[0-9a-f]{64}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_blob(conn: sqlite3.Connection, data: bytes) -> str:
    """Store `data` (inside the caller's transaction) unless a blob with its sha256 exists; return the sha."""
    sha = sha256(data)
    if conn.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha,)).fetchone() is None:
        packed = zlib.compress(data, 6)
        encoding, payload = ("zlib", packed) if len(packed) < len(data) else ("raw", data)
        conn.execute(
            "INSERT INTO blobs (sha256, size, encoding, data, created_at) VALUES (?, ?, ?, ?, ?)",
            (sha, len(data), encoding, payload, timestamp()),
        )
    return sha


def get_blob(conn: sqlite3.Connection, sha: str) -> bytes:
    """The bytes whose sha256 is `sha`, verified."""
    if not _SHA.fullmatch(sha):
        raise BlobIntegrityError(f"not a sha256: {sha!r}")
    row = conn.execute("SELECT size, encoding, data FROM blobs WHERE sha256 = ?", (sha,)).fetchone()
    if row is None:
        raise BlobIntegrityError(f"backup blob {sha[:12]} is missing from the journal")
    size, encoding, payload = int(row[0]), str(row[1]), bytes(row[2])
    try:
        data = zlib.decompress(payload) if encoding == "zlib" else payload
    except zlib.error as exc:
        raise BlobIntegrityError(f"backup blob {sha[:12]} is corrupt: {exc}") from exc
    if len(data) != size or sha256(data) != sha:
        raise BlobIntegrityError(
            f"backup blob {sha[:12]} is corrupt: its bytes hash to {sha256(data)[:12]} ({len(data)} bytes, "
            f"{size} expected); it must not be used to restore"
        )
    return data
