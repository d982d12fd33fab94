"""The report as Markdown (``InspectReport.to_markdown()``): for an issue, a pull request or a chat.

A title, the fact matrix (``launcher.inspector.matrix``) as a table with a level word per cell,
then each scheme's verdicts as a list, the redirect chain, and the proxy lens.  Text that came from
the network (URLs, header values, notes) is escaped so it cannot break the table or start
Markdown of its own: ``|``, backticks, ``*``, ``_``, ``[``, ``]``, ``<`` and ``>`` get a
backslash, and line breaks become spaces.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from launcher.inspector.matrix import Cell, fact_matrix

if TYPE_CHECKING:
    from launcher.inspector.report import InspectReport, SchemeReport

#: The word each level gets in the Markdown (no colour there).
LEVEL_TAG = {"ok": "OK", "warn": "WARN", "bad": "BAD", "info": "note"}
_SPECIAL = re.compile(r"([\\|`*_\[\]<>#])")


def md_escape(text: object) -> str:
    """*text* safe inside a Markdown table cell or list item (one line, specials escaped)."""
    one_line = " ".join(str(text).split())
    return _SPECIAL.sub(r"\\\1", one_line)


def _cell(cell: Cell) -> str:
    return f"**{LEVEL_TAG[cell.level]}** {md_escape(cell.text)}"


def _column(c: SchemeReport) -> list[str]:
    lines = [f"### {c.scheme.upper()}: {md_escape(c.url)}", ""]
    if c.skipped:
        lines.append(f"Not probed: {md_escape(c.skipped)}")
        return lines
    lines += [f"- **{LEVEL_TAG[v.level]}** {md_escape(v.text)}" for v in c.verdicts] or ["- (no verdicts)"]
    if c.hops:
        lines += ["", "Redirect chain:", ""]
        for i, hop in enumerate(c.hops, 1):
            outcome = hop.error if hop.error else f"{hop.status} {hop.reason}".strip()
            loc = f" (Location: {md_escape(hop.location)})" if hop.location else ""
            lines.append(f"{i}. GET {md_escape(hop.url)} → {md_escape(outcome)}{loc}")
    return lines


def render_markdown(report: InspectReport) -> str:
    """*report* as GitHub-flavoured Markdown (see the module docstring)."""
    lines = [f"## Inspecting {md_escape(report.target)}", ""]
    lines.append(f"CA file: {md_escape(report.cafile or 'none (system trust store only)')}")
    lines += [f"> {md_escape(note)}" for note in report.notes]
    lines += ["", "| Fact | HTTP | HTTPS |", "|---|---|---|"]
    for row in fact_matrix(report):
        lines.append(f"| {md_escape(row.fact)} | {_cell(row.http)} | {_cell(row.https)} |")
    for column in report.columns:
        lines.append("")
        lines += _column(column)
    behind = report.behind
    if behind is not None:
        lines += ["", f"### Behind a proxy: {md_escape(behind.url)}", ""]
        lines.append(f"Proxy: {md_escape(behind.proxy or 'not named')} ({md_escape(behind.detected_by)})")
        lines.append("")
        lines += [f"- **{LEVEL_TAG[v.level]}** {md_escape(v.text)}" for v in behind.verdicts]
        for hop in behind.hops:
            lines += ["", f"**{md_escape(hop.label)}**", "", "| Fact | Value |", "|---|---|"]
            lines += [f"| {md_escape(k)} | {md_escape(v)} |" for k, v in hop.facts]
    lens = report.proxy_lens
    if lens is not None:
        lines += ["", "### Behind a proxy: X-Forwarded-Proto over HTTP", ""]
        lines += [f"- **{LEVEL_TAG[v.level]}** {md_escape(v.text)}" for v in lens.verdicts]
        lines += ["", md_escape(lens.explanation), "", md_escape(lens.fix)]
        if lens.fix_code:
            lines += ["", "```python", lens.fix_code.replace("```", "`\u200b``"), "```"]
    return "\n".join(lines) + "\n"
