"""The summary a job's command ends with: counts, dead-letter reasons, what ran, the files written, and
the data's warnings after it. Read from the published info.json, so it shows what the output holds."""
import sys
from typing import List, Optional, Sequence


def format_summary(output_dir: str, elapsed: Optional[float] = None, max_files: int = 6,
                   options: Sequence[str] = (), runner: Optional[str] = None, info: Optional[dict] = None) -> str:
    """One screen: what was read, written and dead-lettered, how fast, what ran (the `options` that
    differ from their defaults, one a line, and the `runner`), and the paths written. `info`: the
    directory's info.json when the caller has read it already."""
    from bertprep.io import fs
    from bertprep.io import output as output_lib

    directory = output_lib.OutputDirectory(output_dir)
    info = directory.read_info() if info is None else info
    counts = info.get("counts", {})
    lines = []
    headline = "bertprep %s: %s" % (info.get("kind", "job"), "complete" if directory.is_complete() else "INCOMPLETE")
    if elapsed:
        headline += " in %.1f s" % elapsed
        rates = ["%s %s/s" % (format(int(counts[name] / elapsed), ","), label)
                 for name, label in (("read", "read"), ("records_out", "written")) if counts.get(name)]
        if rates:
            headline += " (%s)" % ", ".join(rates)
    lines.append(headline)
    accounting = info.get("accounting") or ["read", "written", "dead_lettered"]
    first = [name for name in accounting if name in counts]
    for name in first + sorted(set(counts) - set(first)):
        value = counts[name]
        lines.append("  %-22s %s" % (name, format(value, ",") if isinstance(value, int) else value))
    reasons = info.get("dead_letters_by_reason") or {}
    for reason, number in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:5]:
        lines.append("    dead letter: %-40s %s" % (reason[:40], format(number, ",")))
    if len(reasons) > 5:
        lines.append("    … %d more reasons (see report.html)" % (len(reasons) - 5))
    lines.extend(_what_ran(options, runner))
    lines.append("wrote %s:" % output_dir)
    shards = info.get("shards") or []
    for shard in shards[:max_files]:
        lines.append("  %s  (%s records)" % (shard["file"], format(shard.get("records", 0), ",")))
    if len(shards) > max_files:
        lines.append("  … %d more shards" % (len(shards) - max_files))
    extra = [output_lib.INFO_FILE, "report.html", "report.json", output_lib.COMPLETE_MARKER]
    for name in extra:
        if fs.exists(directory.file(name)):
            lines.append("  %s" % name)
    dead_dir = directory.file(output_lib.DEAD_LETTER_DIR, "*.jsonl*")
    for path, size in fs.list_sizes(dead_dir):
        if size:
            lines.append("  %s/%s" % (output_lib.DEAD_LETTER_DIR, fs.basename(path)))
    return "\n".join(lines)


def _what_ran(options: Sequence[str], runner: Optional[str]) -> List[str]:
    """The options a person checks after a run (info.json holds the whole config)."""
    lines = []
    if options:
        lines.append("options (not at their defaults):")
        lines.extend("  %s" % option for option in options)
    if runner:
        lines.append("runner: %s" % runner)
    return lines


def print_summary(output_dir: str, elapsed: Optional[float] = None, stream=None, options: Sequence[str] = (),
                  runner: Optional[str] = None) -> None:
    """The summary, then one `WARNING:` line for each thing the data says about the settings (info.json read
    once for both)."""
    from bertprep.publish import data_warnings
    from bertprep.io import output as output_lib

    stream = stream or sys.stdout
    info = output_lib.OutputDirectory(output_dir).read_info()
    print(format_summary(output_dir, elapsed, options=options, runner=runner, info=info), file=stream)
    for line in data_warnings.lines(info):
        print(line, file=stream)
