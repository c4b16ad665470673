"""report.html: one self-contained page (inline CSS, plots as base64 PNG data URLs, no scripts)."""
import base64
import copy
import datetime
import html
import json
from typing import List

STYLE = """
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", "Noto Sans CJK SC", sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.status { display: inline-block; padding: 0.1em 0.6em; border-radius: 4px; color: white; font-weight: bold; }
.ok { background: #2e7d32; } .bad { background: #c62828; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 0.2em 0.8em; border-bottom: 1px solid #eee;
        text-align: left; vertical-align: top; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; flex: 1 1 480px; max-width: 100%; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; } .note { color: #a15c00; } code { font-size: 0.9em; }
.warnings { border: 2px solid #c62828; background: #fff5f5; padding: 0.3em 1em; margin: 1em 0; }
.warnings h2 { border: none; color: #c62828; margin-top: 0.4em; }
.data-notes { border: 1px solid #1565c0; background: #f3f8ff; padding: 0.3em 1em; margin: 1em 0; }
.data-notes h2 { border: none; color: #1565c0; margin-top: 0.4em; }
"""


def _escape(value) -> str:
    return html.escape(str(value), quote=True)


def _number(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return format(value, ",")
    if isinstance(value, float):
        return format(value, ",.4g") if abs(value) < 1e6 else format(int(value), ",")
    return _escape(value)


def _table(rows, header=None) -> str:
    parts = ["<table>"]
    if header:
        parts.append("<tr>%s</tr>" % "".join("<th>%s</th>" % _escape(cell) for cell in header))
    for row in rows:
        cells = []
        for cell in row:
            numeric = isinstance(cell, (int, float)) and not isinstance(cell, bool)
            cells.append('<td class="n">%s</td>' % _number(cell) if numeric else "<td>%s</td>" % _escape(cell))
        parts.append("<tr>%s</tr>" % "".join(cells))
    parts.append("</table>")
    return "\n".join(parts)


def json_cell(value):
    """A table cell for any JSON value: numbers and text as they are, anything else as JSON."""
    if isinstance(value, (int, float, str)):
        return value
    return json.dumps(value, ensure_ascii=False)


def head(title: str) -> List[str]:
    """The page's opening: doctype, inline style and the title as heading."""
    return ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            "<title>%s</title><style>%s</style></head><body>" % (_escape(title), STYLE),
            "<h1>%s</h1>" % _escape(title)]


def figure(plot_id: str, title: str, description: str, png: bytes) -> str:
    """One plot, inline as a base64 PNG, with its caption."""
    data = base64.b64encode(png).decode("ascii")
    return ('<figure id="plot-%s"><img alt="%s" src="data:image/png;base64,%s">'
            "<figcaption><b>%s.</b> %s</figcaption></figure>"
            % (_escape(plot_id), _escape(title), data, _escape(title), _escape(description)))


def _flatten(prefix: str, value, rows: list) -> None:
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            _flatten("%s.%s" % (prefix, key) if prefix else str(key), value[key], rows)
    elif isinstance(value, list) and value and all(isinstance(item, (list, tuple)) for item in value):
        rows.append((prefix, "; ".join(" ".join(str(part) for part in item) for item in value[:20])))
    else:
        rows.append((prefix, json_cell(value)))


def render(report: dict, drawn: List, info: dict) -> str:
    """The whole page as a string."""
    counts = report.get("counts") or {}
    accounting = (report.get("summary") or {}).get("accounting") or {}
    balanced = accounting.get("balanced", True)
    title = "bertprep %s report" % (report.get("kind") or "run")
    parts = head(title) + [
             "<p><code>%s</code> &middot; tool version %s &middot; %s</p>" % (
                 _escape(report.get("path")), _escape(report.get("tool_version")),
                 '<span class="status ok">accounting balanced</span>' if balanced
                 else '<span class="status bad">accounting mismatch</span>')]

    warnings = report.get("warnings") or []
    if warnings:  # first thing after the title: what the data says about the run's settings
        parts.append('<div class="warnings" id="warnings"><h2>Warnings (%d)</h2><ul>' % len(warnings))
        for warning in warnings:
            message = warning.get("message", "") if isinstance(warning, dict) else warning
            parts.append("<li>%s</li>" % _escape(message))
        parts.append("</ul></div>")
    data_notes = report.get("data_notes") or []
    if data_notes:  # what the run should know that is not a mistake (bertprep.publish.data_warnings.notes_for)
        parts.append('<div class="data-notes" id="data-notes"><h2>Notes (%d)</h2><ul>' % len(data_notes))
        for note in data_notes:
            parts.append("<li>%s</li>" % _escape(note.get("message", "") if isinstance(note, dict) else note))
        parts.append("</ul></div>")

    timing = report.get("timing") or {}
    if timing.get("finished_at"):
        finished = datetime.datetime.fromtimestamp(float(timing["finished_at"]), datetime.timezone.utc)
        parts.append("<p>Finished %s UTC" % finished.strftime("%Y-%m-%d %H:%M:%S"))
        if timing.get("elapsed_seconds"):
            parts[-1] += ", elapsed %.1f s" % float(timing["elapsed_seconds"])
        parts[-1] += ".</p>"

    parts.append("<h2>Counts</h2>")
    parts.append(_table([(name, counts[name]) for name in sorted(counts)], ["count", "records"]))
    reasons = report.get("dead_letters_by_reason") or {}
    if reasons:
        parts.append("<h2>Dead letters</h2><p>Each one is in <code>dead_letters/</code> with its source file, "
                     "line and the original record.</p>")
        parts.append(_table(sorted(reasons.items(), key=lambda item: (-item[1], item[0])), ["reason", "records"]))

    drawn_ok = [plot for plot in drawn if plot.png]
    if drawn_ok:
        parts.append("<h2>Plots</h2>")
        if report.get("font_note"):
            parts.append('<p class="note">%s</p>' % _escape(report["font_note"]))
        parts.append("<div class=\"plots\">")
        for plot in drawn_ok:
            parts.append(figure(plot.id, plot.title, plot.description, plot.png))
        parts.append("</div>")

    summary = copy.deepcopy(report.get("summary") or {})  # the tables below take parts out
    pairs = summary.pop("top_confusion_pairs", None)
    if pairs:
        parts.append("<h2>Top confusion pairs</h2>")
        parts.append(_table([tuple(pair) for pair in pairs], ["correct", "wrong", "count"]))
    probabilities = summary.get("mask_probability") or {}
    tops = [(column, values.pop("top")) for column, values in probabilities.items()
            if isinstance(values, dict) and values.get("top")]
    if tops:
        parts.append("<h2>Highest mask probabilities</h2>")
        rows = []
        for rank in range(max(len(top) for _, top in tops)):
            row = [rank + 1]
            for _, top in tops:
                row.extend(top[rank] if rank < len(top) else ("", ""))
            rows.append(row)
        header = ["rank"] + [name for column, _ in tops for name in ("character", column)]
        parts.append(_table(rows, header))
    summary_rows = []
    _flatten("", summary, summary_rows)
    if summary_rows:
        parts.append("<h2>Summary figures</h2>")
        parts.append(_table(summary_rows, ["figure", "value"]))

    for note in report.get("notes") or []:
        parts.append('<p class="note">%s</p>' % _escape(note))

    shards = info.get("shards") or []
    if shards:
        parts.append("<h2>Files</h2>")
        parts.append(_table([(shard.get("file"), shard.get("records", 0)) for shard in shards[:200]],
                            ["shard", "records"]))
        if len(shards) > 200:
            parts.append("<p>… and %d more shards (see info.json).</p>" % (len(shards) - 200))

    config_rows = []
    _flatten("", info.get("config") or {}, config_rows)
    if config_rows:
        parts.append("<h2>Configuration</h2>")
        parts.append(_table(config_rows, ["option", "value"]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
