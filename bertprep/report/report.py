"""The run report: `report.json` (figures) and a self-contained `report.html` (tables and PNG plots).

It is built from an output directory's info.json — its "counts", "dead_letters_by_reason", "config"
and "stats" — plus the table files a job wrote (mask-probs TSVs) and the run's timing. Every plot is
optional: it is drawn only when its statistic is present. Stats are looked up by the names and shapes
listed in bertprep/report/stats.py (the names of bertprep.schemas.statistics); any other stat that is a
number or a {label: number} mapping is still shown, in a generic table or bar chart, so nothing a job
records is hidden.
"""
import dataclasses
from typing import Callable, Dict, List, Optional

from bertprep.io import output as output_lib
from bertprep.report import plots, tables
from bertprep.report.stats import KIND_ORDER, as_counts, as_histogram, histogram_mean, number
from bertprep.schemas import statistics

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
REPORT_VERSION = 1

CONFUSION_TABLE = "confusion_pairs.tsv"
CONFUSION_SETS_TABLE = "confusion_sets.tsv"
MASK_PROBABILITY_TABLE = "mask_probability.tsv"


@dataclasses.dataclass
class Plot:
    id: str
    title: str
    description: str
    png: bytes = b""
    error: str = ""


class ReportBuilder:
    """Collects summary figures and plots from one output directory's info and tables."""

    def __init__(self, directory: str, info: dict, timing: Optional[dict] = None):
        self.directory = directory
        self.info = info
        self.stats = dict(info.get("stats") or {})
        self.config = dict(info.get("config") or {})
        self.timing = dict(timing or {})
        self.summary: Dict[str, object] = {}
        self.plots: List[Plot] = []
        self.notes: List[str] = []
        self.font_note = ""  # set when a plot has Chinese labels and no installed font can draw them
        self.used_stats = set()

    def add_plot(self, plot_id: str, title: str, description: str, draw: Callable[[], bytes]) -> None:
        plot = Plot(plot_id, title, description)
        try:
            plot.png = draw()
        except Exception as error:  # a drawing bug must not cost the user the run's output
            plot.error = "%s: %s" % (type(error).__name__, error)
            self.notes.append("plot %r could not be drawn (%s)" % (plot_id, plot.error))
        self.plots.append(plot)

    def stat(self, name: str) -> tuple:
        """(name, value) of the statistic, (None, None) when the job did not record it; a section that can
        use it calls `used`."""
        return (name, self.stats[name]) if name in self.stats else (None, None)

    def used(self, name) -> None:
        self.used_stats.add(name)

    # ------------------------------------------------------------------ sections, in report order
    def build(self) -> None:
        for section in (self.counts, self.timing_section, self.sequence_length, self.tokens_per_instance,
                        self.unk_rate, self.masked_kinds, self.nsp_labels, self.labels, self.answers,
                        self.confusion_pairs, self.confusion_sets, self.mask_probabilities, self.other_stats):
            section()

    def counts(self) -> None:
        counts = self.info.get("counts") or {}
        # The names that must balance, as the job gave them to Finalize (pretraining: read = used + dead).
        accounting = list(self.info.get("accounting") or (statistics.READ, statistics.WRITTEN,
                                                          statistics.DEAD_LETTERED))
        names = [name for name in accounting if name in counts]
        if accounting and accounting[0] in counts:
            read, parts = accounting[0], accounting[1:]
            self.summary["accounting"] = dict({name: counts.get(name, 0) for name in accounting},
                                              balanced=counts[read] == sum(counts.get(name, 0) for name in parts),
                                              equation="%s = %s" % (read, " + ".join(parts)))
        items = [(name, counts[name]) for name in names]
        if items:
            title = "Records: %s" % ", ".join(names)
            self.add_plot("counts", title, "Accounting: %s; every input is accounted for."
                          % self.summary.get("accounting", {}).get("equation", ""),
                          lambda: plots.bars(items, title, shares=False))
        reasons = sorted((self.info.get("dead_letters_by_reason") or {}).items(), key=lambda item: (-item[1], item[0]))
        if reasons:
            self.add_plot("dead_letters", "Dead letters by reason",
                          "Records that did not become output, by reason (details in dead_letters/).",
                          lambda: plots.bars(reasons, "Dead letters by reason", horizontal=True))

    def timing_section(self) -> None:
        counts = self.info.get("counts") or {}
        started, finished = self.timing.get("started_at"), self.timing.get("finished_at")
        elapsed = self.timing.get("elapsed_seconds")
        if elapsed is None and started and finished:
            elapsed = max(0.0, float(finished) - float(started))
        if not elapsed:
            return
        timing = {"elapsed_seconds": round(elapsed, 3)}
        rates = []
        for name in (statistics.READ, statistics.WRITTEN):
            if counts.get(name) is not None:
                timing["%s_per_second" % name] = round(counts[name] / elapsed, 3)
                rates.append((name, counts[name] / elapsed))
        build_time, window = self.timing.get(statistics.BUILD_TIME), self.timing.get(statistics.BUILD_WINDOW)
        if build_time and build_time.get("cpu_seconds"):
            # The job's main stage alone, without start-up and the report: what a larger input scales with.
            timing["build_cpu_seconds"] = round(build_time["cpu_seconds"], 3)
            if counts.get(statistics.RECORDS_OUT):
                timing["records_out_per_build_cpu_second"] = round(counts[statistics.RECORDS_OUT]
                                                                   / build_time["cpu_seconds"], 1)
        if window:
            timing["build_span_seconds"] = round(window["last_finished_at"] - window["first_started_at"], 3)
        self.summary["timing"] = timing
        samples = [list(sample) for sample in self.timing.get("samples") or []]
        read = counts.get(statistics.READ)
        if samples and read is not None and read > samples[-1][1]:
            samples.append([round(elapsed, 3), read])  # the last reads finished after the last sample
        if len(samples) >= 2:
            self.add_plot("throughput", "Throughput and elapsed time",
                          "Records read over the run (elapsed %.1f s) and the read rate between samples." % elapsed,
                          lambda: plots.throughput(samples, "Records read over time (%.1f s elapsed)" % elapsed))
        elif rates:
            self.add_plot("throughput", "Throughput and elapsed time", "Elapsed time and average records/s.",
                          lambda: plots.timing_bars(elapsed, rates, "Average throughput"))
        stages = [stage for stage in self.timing.get("stages") or [] if stage.get("end") is not None]
        if stages:
            self.add_plot("stages", "Where the time went",
                          "Each stage of the run from its start to its end on the run's time axis (%.1f s): "
                          "reading, counting, ranking, building, writing, publishing (the report itself is "
                          "drawn inside publishing)." % elapsed,
                          lambda: plots.stage_spans(stages, elapsed, "Stages over time (%.1f s elapsed)" % elapsed))

    def sequence_length(self) -> None:
        name, value = self.stat(statistics.SEQUENCE_LENGTH_HISTOGRAM)
        histogram = as_histogram(value)
        if not histogram:
            return
        self.used(name)
        total = sum(histogram.values())
        maximum = self.config.get("max_seq_length")
        summary = {"instances": total, "mean": round(histogram_mean(histogram), 3)}
        if maximum:
            summary["share_at_max_seq_length"] = round(histogram.get(float(maximum), 0) / total, 4) if total else 0
        self.summary["sequence_length"] = summary
        self.add_plot("sequence_length", "Sequence length", "Real tokens per instance (mean %.2f)." % summary["mean"],
                      lambda: plots.histogram(histogram, "Sequence length (real tokens)", "tokens", "instances",
                                              mark=maximum, mark_label="max_seq_length %s" % maximum))

    def tokens_per_instance(self) -> None:
        name, value = self.stat(statistics.TOKENS_PER_INSTANCE)
        histogram = as_histogram(value)
        if histogram:
            self.used(name)
            mean = histogram_mean(histogram)
            self.summary["tokens_per_instance_mean"] = round(mean, 3)
            self.add_plot("tokens_per_instance", "Tokens per instance", "Mean %.2f tokens per instance." % mean,
                          lambda: plots.histogram(histogram, "Tokens per instance", "tokens", "instances"))
        elif number(value) is not None:
            self.used(name)
            self.summary["tokens_per_instance_mean"] = number(value)

    def unk_rate(self) -> None:
        name, value = self.stat(statistics.UNK_RATE)
        rate = None
        if number(value) is not None:
            rate = number(value)
        elif isinstance(value, dict) and "unk" in value:
            unk = number(value["unk"]) or 0.0
            tokens = number(value.get("tokens")) or 0.0
            rate = unk / tokens if tokens else 0.0
        else:
            histogram = as_histogram(value)
            if histogram:
                self.used(name)
                self.summary["unk_rate_mean_per_instance"] = round(histogram_mean(histogram), 6)
                self.add_plot("unk_rate", "[UNK] rate", "Share of [UNK] tokens per instance.",
                              lambda: plots.histogram(histogram, "[UNK] rate per instance", "[UNK] share",
                                                      "instances"))
            return
        if rate is None:
            return
        self.used(name)
        self.summary["unk_rate"] = rate
        unknown = self.stats.get(statistics.UNKNOWN_WORDS)
        if isinstance(unknown, dict) and unknown.get("top"):  # the words that became [UNK] (data_warnings)
            self.used(statistics.UNKNOWN_WORDS)
            self.summary["unknown_words_top"] = [list(item) for item in unknown["top"]]
        sample = self.stats.get(statistics.UNKNOWN_WORD_SAMPLE)
        if isinstance(sample, dict):
            self.used(statistics.UNKNOWN_WORD_SAMPLE)
            self.summary["unknown_words_sentences_looked_at"] = sample.get("sentences")
        self.add_plot("unk_rate", "[UNK] rate", "%.3f%% of tokens are [UNK]." % (100 * rate),
                      lambda: plots.share_bar([("known tokens", 1.0 - rate), ("[UNK]", rate)], "[UNK] rate"))

    def masked_kinds(self) -> None:
        name, value = self.stat(statistics.MASKED_POSITION_KINDS)
        counts = as_counts(value)
        if not counts:
            return
        self.used(name)
        order = {kind: index for index, kind in enumerate(KIND_ORDER)}
        counts.sort(key=lambda item: (order.get(item[0], len(order)), item[0]))
        total = sum(count for _, count in counts)
        self.summary["masked_position_kinds"] = {kind: round(count / total, 4) if total else 0
                                                 for kind, count in counts}
        self.add_plot("masked_position_kinds", "Masked-position kinds",
                      "How the %s predicted positions were replaced." % format(int(total), ","),
                      lambda: plots.bars(counts, "Masked positions by kind", "predictions"))

    def nsp_labels(self) -> None:
        name, value = self.stat(statistics.NEXT_SENTENCE_LABELS)
        counts = as_counts(value)
        if not counts:
            return
        self.used(name)
        sop = self.config.get("next_sentence") == "sop"
        # The label numbers are the job's; the bars say what they mean (1 = the unusual case in both).
        meaning = {"0": "0: in order", "1": "1: swapped"} if sop else {"0": "0: actual next", "1": "1: random next"}
        counts.sort()
        labelled = [(meaning.get(label, label), count) for label, count in counts]
        total = sum(count for _, count in counts)
        self.summary["next_sentence_labels"] = {label: round(count / total, 4) if total else 0
                                                for label, count in counts}
        self.add_plot("next_sentence_labels", "NSP label balance" if not sop else "SOP label balance",
                      "Share of each next-sentence label over %s instances." % format(int(total), ","),
                      lambda: plots.bars(labelled, "Next-sentence labels", "instances"))

    def labels(self) -> None:
        """Classifier labels or tagging tags: a job writes one of the two."""
        for name in (statistics.LABEL_DISTRIBUTION, statistics.TAG_DISTRIBUTION):
            counts = as_counts(self.stats.get(name))
            if counts:
                break
        else:
            return
        self.used(name)
        counts.sort(key=lambda item: (-item[1], item[0]) if len(counts) > 12 else (item[0], 0))
        total = sum(count for _, count in counts)
        self.summary["label_distribution"] = {label: round(count / total, 4) if total else 0 for label, count in counts}
        what = "Tag" if name == statistics.TAG_DISTRIBUTION else "Label"
        self.add_plot("label_distribution", "%s distribution" % what, "%d %ss." % (len(counts), what.lower()),
                      lambda: plots.bars(counts, "%s distribution" % what, "tokens" if what == "Tag" else "examples",
                                         horizontal=len(counts) > 12))

    def answers(self) -> None:
        name, value = self.stat(statistics.ANSWERS)
        items = []
        if isinstance(value, dict):
            for key, count in value.items():
                if isinstance(count, dict):  # {"dropped": {reason: n}} → one bar per reason
                    items.extend(("dropped: %s" % reason, n) for reason, n in sorted(count.items())
                                 if number(n) is not None)
                elif number(count) is not None:
                    items.append((str(key), number(count)))
        if not items:
            return
        self.used(name)
        items.sort(key=lambda item: (item[0] != "kept", item[0]))
        total = sum(count for _, count in items)
        kept = sum(count for label, count in items if label == "kept")
        self.summary["answers"] = {"kept": kept, "total": total, "kept_share": round(kept / total, 4) if total else 0}
        self.add_plot("answers", "Answers kept vs dropped", "%s of %s answers kept." % (format(int(kept), ","),
                                                                                    format(int(total), ",")),
                      lambda: plots.bars(items, "Answers kept vs dropped", "answers"))

    def confusion_pairs(self) -> None:
        name, value = self.stat(statistics.TOP_CONFUSION_PAIRS)
        pairs = []
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    item = (item.get("correct"), item.get("wrong"), item.get("count"))
                if isinstance(item, (list, tuple)) and len(item) == 3 and number(item[2]) is not None:
                    pairs.append((str(item[0]), str(item[1]), number(item[2])))
        elif isinstance(value, dict):
            pairs = [(str(key), "", number(count)) for key, count in value.items() if number(count) is not None]
        if pairs:
            self.used(name)
        else:
            pairs = tables.top_confusion_pairs(output_lib.join(self.directory, CONFUSION_TABLE)) or []
        if not pairs:
            return
        pairs.sort(key=lambda item: (-item[2], item[0], item[1]))
        pairs = pairs[:20]
        self.summary["top_confusion_pairs"] = [list(pair) for pair in pairs]
        labelled = [("%s → %s" % (c, w) if w else c, n) for c, w, n in pairs]
        self.check_font([label for label, _ in labelled])
        self.add_plot("confusion_pairs", "Top confusion pairs", "The most frequent correct → wrong substitutions.",
                      lambda: plots.bars(labelled, "Top confusion pairs (correct → wrong)", "times", shares=False,
                                         horizontal=True))

    def check_font(self, labels: List[str]) -> None:
        """Note once when labels hold characters no installed font draws (they become U+XXXX)."""
        if any(plots.drawable(label) != label for label in labels):
            self.font_note = plots.NO_CJK_FONT_NOTE

    def confusion_sets(self) -> None:
        """What the confusion sets are made of: candidates by source, set sizes, held-out coverage."""
        name, mixture = self.stat(statistics.CONFUSION_MIXTURE)
        if isinstance(mixture, dict):  # model weights: figures a reader may look up, not a plot
            self.used(name)
            self.summary[name] = mixture
        found = tables.confusion_set_summary(output_lib.join(self.directory, CONFUSION_SETS_TABLE))
        if found and found["candidates"]:
            by_source = sorted(found["by_source"].items(), key=lambda item: (-sum(item[1]), item[0]))
            self.summary["confusion_sets"] = {
                "characters": found["characters"], "candidates": found["candidates"],
                "mean_set_size": round(found["candidates"] / found["characters"], 3),
                "candidates_by_source": {source: sum(counts) for source, counts in by_source}}
            if by_source:
                self.add_plot("confusion_candidates_by_source", "Candidates by source",
                              "Where the %s candidates of %s characters come from; a candidate several sources "
                              "found counts for each." % (format(found["candidates"], ","),
                                                          format(found["characters"], ",")),
                              lambda: plots.stacked_bars(by_source, ("this source only", "also another source"),
                                                         "Confusion-set candidates by source", "candidates"))
            sizes = {float(size): float(count) for size, count in found["set_sizes"].items()}
            mean = self.summary["confusion_sets"]["mean_set_size"]
            same = "; every character has %d (--top-k)" % next(iter(found["set_sizes"])) \
                if len(found["set_sizes"]) == 1 else ""
            self.add_plot("confusion_set_sizes", "Confusion-set sizes",
                          "Candidates per character (mean %.2f%s)." % (mean, same),
                          lambda: plots.histogram(sizes, "Confusion-set size per character", "candidates",
                                                  "characters", mark=mean, mark_label="mean %.1f" % mean,
                                                  integer=True))
        name, coverage = self.stat(statistics.CONFUSION_COVERAGE_BY_SET_SIZE)
        points = as_histogram(coverage)
        if points and max(points.values()) > 1.0:  # given in percent
            points = {size: share / 100.0 for size, share in points.items()}
        if points:
            self.used(name)
            self.summary["confusion_coverage_by_set_size"] = {("%g" % size): share for size, share in
                                                              sorted(points.items())}
            top_k = self.config.get("top_k")
            self.add_plot("confusion_coverage", "Coverage by set size",
                          "Share of held-out errors whose wrong character is in the correct character's set, "
                          "by set size.",
                          lambda: plots.curve(points, "Held-out errors covered by set size", "set size",
                                              "errors covered", mark=top_k,
                                              mark_label="--top-k %s" % top_k if top_k else ""))

    def mask_probabilities(self) -> None:
        name, value = self.stat(statistics.MASK_PROBABILITY_HISTOGRAM)
        histogram = as_histogram(value)
        if histogram:
            self.used(name)
            found = [{"column": name, "histogram": histogram, "top": [], "mean": histogram_mean(histogram),
                      "characters": sum(histogram.values())}]
        else:
            found = tables.mask_probability_summary(output_lib.join(self.directory, MASK_PROBABILITY_TABLE)) or []
        for column in found:
            summary = {"characters": column["characters"], "mean": round(column["mean"], 4)}
            if column["top"]:
                summary["top"] = [[c, p] for c, p in column["top"]]
            self.summary.setdefault("mask_probability", {})[column["column"]] = summary
            self.add_plot("mask_probabilities_%s" % column["column"], "Mask probabilities (%s)" % column["column"],
                          "Distribution of %s over %s characters (mean %.4f)."
                          % (column["column"], format(int(summary["characters"]), ","), summary["mean"]),
                          lambda h=column["histogram"], c=column["column"]: plots.histogram(
                              h, "Mask probability per character (%s)" % c, "probability", "characters"))

    def other_stats(self) -> None:
        """Stats the sections above do not know: numbers go to the summary, mappings get a bar chart."""
        for name in sorted(set(self.stats) - self.used_stats):
            value = self.stats[name]
            if number(value) is not None:
                self.summary.setdefault("other", {})[name] = value
                continue
            histogram = as_histogram(value) if isinstance(value, dict) else None
            counts = as_counts(value)
            title = name.replace("_", " ").capitalize()
            if histogram and len(histogram) > 12:
                self.add_plot(name, title, "Statistic %r recorded by the job." % name,
                              lambda h=histogram, t=title, n=name: plots.histogram(h, t, n, "count"))
            elif counts:
                self.add_plot(name, title, "Statistic %r recorded by the job." % name,
                              lambda c=counts, t=title: plots.bars(c, t, shares=False))
            else:
                self.summary.setdefault("other", {})[name] = value


def build_report(directory: str, info: dict, timing: Optional[dict] = None) -> tuple:
    """(report dict for report.json, list of Plot) for one output directory."""
    builder = ReportBuilder(directory, info, timing)
    builder.build()
    report = {
        "report_version": REPORT_VERSION,
        "path": directory,
        "kind": info.get("kind"),
        "tool_version": info.get("tool_version"),
        "counts": info.get("counts") or {},
        "dead_letters_by_reason": info.get("dead_letters_by_reason") or {},
        "warnings": list(info.get("warnings") or []),
        "data_notes": list(info.get("data_notes") or []),
        "timing": {key: value for key, value in (timing or {}).items()},
        "summary": builder.summary,
        "plots": [{"id": plot.id, "title": plot.title, "description": plot.description,
                   **({"error": plot.error} if plot.error else {})} for plot in builder.plots],
        "notes": builder.notes,
    }
    if builder.font_note:
        report["font_note"] = builder.font_note
    return report, builder.plots


def write_report(directory: str, info: dict, timing: Optional[dict] = None) -> Dict[str, str]:
    """Write report.json and report.html into `directory` (atomically); return their paths."""
    from bertprep.report import html

    report, drawn = build_report(directory, info, timing)
    page = html.render(report, drawn, info)
    paths = {"json": output_lib.write_json_atomically(output_lib.join(directory, REPORT_JSON), report),
             "html": output_lib.write_bytes_atomically(output_lib.join(directory, REPORT_HTML), page.encode("utf-8"))}
    return paths


def regenerate(directory: str) -> Dict[str, str]:
    """Rebuild the report of an existing output directory, keeping the timing the run recorded."""
    from bertprep.io import fs

    info = output_lib.read_json(output_lib.join(directory, output_lib.INFO_FILE))
    timing = {}
    previous = output_lib.join(directory, REPORT_JSON)
    if fs.exists(previous):
        try:
            timing = output_lib.read_json(previous).get("timing") or {}
        except Exception:  # an unreadable old report is replaced, its timing lost
            timing = {}
    return write_report(directory, info, timing)
