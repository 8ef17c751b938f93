"""Report renderers of a CheckRun: JSON (schema.json), terminal text, and a self-contained HTML page."""

from __future__ import annotations

from fixer.report.html import render_html
from fixer.report.json_report import load_schema, render_json, run_to_dict, validate_report
from fixer.report.text import render_text

__all__ = ["load_schema", "render_html", "render_json", "render_text", "run_to_dict", "validate_report"]
