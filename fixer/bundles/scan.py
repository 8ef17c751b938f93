"""Find the TargetEndpoints of API proxy bundles: exploded directories, zips, or directories of them.

A PATH is one of
- an exploded bundle: a directory holding `apiproxy/` (its `apiproxy/targets/*.xml` are read);
- a bundle zip (as the Management API exports it: `apiproxy/...` at the top), read in memory: a zip with
  any member named absolute or with `..` is refused whole, and members are read with a size bound;
- a directory of several bundles: its sub-directories holding `apiproxy/` and its `*.zip` files.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

from fixer.bundles.parse import MAX_XML_BYTES, TargetEndpoint, parse_target_endpoint
from fixer.errors import UsageError

MAX_MEMBERS = 20_000
_TARGET_MEMBER = re.compile(r"apiproxy/targets/[^/]+\.xml")


def _unsafe_member(name: str) -> bool:
    normal = name.replace("\\", "/")
    return (normal.startswith("/") or bool(re.match(r"[A-Za-z]:", normal)) or "\0" in normal
            or ".." in normal.split("/"))


Source = tuple[TargetEndpoint, bytes]  # an endpoint and its file's bytes (for patches)


def scan_zip(path: Path, data: bytes | None = None) -> list[TargetEndpoint]:
    """The TargetEndpoints of a bundle zip (`data`: its bytes, else read from `path`)."""
    return [ep for ep, _ in _zip_sources(path, data)]


def _zip_sources(path: Path, data: bytes | None = None) -> list[Source]:
    label = str(path)
    try:
        source = io.BytesIO(data) if data is not None else path
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_MEMBERS:
                raise UsageError(f"{label}: {len(infos)} zip members: refused, more than {MAX_MEMBERS}")
            bad = [i.filename for i in infos if _unsafe_member(i.filename)]
            if bad:
                raise UsageError(f"{label}: zip member {bad[0]!r} has an absolute path or '..': bundle refused")
            if not any(i.filename.replace("\\", "/").startswith("apiproxy/") for i in infos):
                raise UsageError(f"{label}: not an API proxy bundle (no apiproxy/ at the top of the zip)")
            out = []
            for info in sorted(infos, key=lambda i: i.filename):
                member = info.filename.replace("\\", "/")
                if info.is_dir() or not _TARGET_MEMBER.fullmatch(member):
                    continue
                if info.file_size > MAX_XML_BYTES:
                    raise UsageError(f"{label}!{member}: {info.file_size} bytes: refused, larger than "
                                     f"{MAX_XML_BYTES} bytes")
                with archive.open(info) as handle:
                    content = handle.read(MAX_XML_BYTES + 1)  # the header's size may lie (zip bomb)
                if len(content) > MAX_XML_BYTES:
                    raise UsageError(f"{label}!{member}: refused, larger than {MAX_XML_BYTES} bytes")
                out.append((parse_target_endpoint(content, f"{label}!{member}", bundle=label), content))
            return out
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, OSError,
            zlib.error) as exc:
        raise UsageError(f"{label}: cannot read the zip: {exc}") from None


def scan_exploded(path: Path) -> list[TargetEndpoint]:
    """The TargetEndpoints of an exploded bundle directory (holding `apiproxy/`)."""
    return [ep for ep, _ in _exploded_sources(path)]


def _exploded_sources(path: Path) -> list[Source]:
    targets = path / "apiproxy" / "targets"
    if not targets.is_dir():
        return []
    out = []
    for xml in sorted(targets.glob("*.xml")):
        if not xml.is_file():
            continue
        try:
            size = xml.stat().st_size
            if size > MAX_XML_BYTES:
                raise UsageError(f"{xml}: {size} bytes: refused, larger than {MAX_XML_BYTES} bytes")
            content = xml.read_bytes()
        except OSError as exc:
            raise UsageError(f"{xml}: cannot read: {exc.strerror or exc}") from None
        out.append((parse_target_endpoint(content, str(xml), bundle=str(path)), content))
    return out


def scan_path(path: Path) -> list[TargetEndpoint]:
    return [ep for ep, _ in _path_sources(path)]


def _path_sources(path: Path) -> list[Source]:
    if path.is_dir():
        if (path / "apiproxy").is_dir():
            return _exploded_sources(path)
        bundles = [p for p in sorted(path.iterdir())
                   if (p.is_dir() and (p / "apiproxy").is_dir()) or (p.is_file() and p.suffix.lower() == ".zip")]
        if not bundles:
            raise UsageError(f"{path}: no API proxy bundle here (a directory holding apiproxy/, a bundle zip, "
                             "or a directory of those)")
        out: list[Source] = []
        for bundle in bundles:
            out.extend(_exploded_sources(bundle) if bundle.is_dir() else _zip_sources(bundle))
        return out
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise UsageError(f"{path}: not a zip file (give a bundle zip or a directory holding apiproxy/)")
        return _zip_sources(path)
    raise UsageError(f"{path}: no such file or directory")


def scan_paths(paths: Iterable[str | Path]) -> list[TargetEndpoint]:
    """Every TargetEndpoint under `paths`, in order; UsageError (naming the file) on bad input."""
    return [ep for ep, _ in scan_sources(paths)]


def scan_sources(paths: Iterable[str | Path]) -> list[Source]:
    """`scan_paths` with each endpoint's file bytes (what `fixer check --bundles` patches)."""
    out: list[Source] = []
    for path in paths:
        out.extend(_path_sources(Path(path)))
    return out
