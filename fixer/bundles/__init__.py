"""Apigee API proxy bundles: TargetEndpoint XML parsed safely (`parse`), bundles scanned (`scan`), and
TargetEndpoint `<SSLInfo>` edited byte-preservingly (`edit`, used by the `target_endpoint` module)."""

from __future__ import annotations

from fixer.bundles.parse import SSLInfo, TargetEndpoint, parse_target_endpoint, safe_parse
from fixer.bundles.scan import scan_paths

__all__ = ["SSLInfo", "TargetEndpoint", "parse_target_endpoint", "safe_parse", "scan_paths"]
