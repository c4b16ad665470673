"""`bertprep classifier` options, and how they read the rows (`plan_for`: format, columns, labels; the job's
plan holds it)."""
import dataclasses
from typing import Optional, Tuple, Union

from bertprep.errors import BertprepError
from bertprep.options.common import (COMMON_GROUP, CommonJobOptions, ShardedOutputOptions, TokenizerOptions,
                                     seed_not_drawn_from)
from bertprep.options.fields import flag_option, switch_option, value_option
from bertprep.options.labels_option import read_labels_option

INPUT_GROUP = "input"
LABELS_GROUP = "labels"
FEATURES_GROUP = "features"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClassifierOptions(TokenizerOptions, ShardedOutputOptions, CommonJobOptions):
    """The options of `bertprep classifier`."""

    seed: int = seed_not_drawn_from()
    input: Optional[str] = value_option(required=True, group=COMMON_GROUP,
        help="TSV/CSV/JSONL/Parquet/text files (file, glob or list)")
    format: str = value_option("auto", choices=("auto", "tsv", "csv", "jsonl", "parquet", "text"), group=INPUT_GROUP,
        help="input format (auto: from the file extension; .txt is plain text with ||| pairs)")
    preset: Optional[str] = value_option(choices=("chnsenticorp", "cola", "mnli", "mrpc", "xnli", "xnli-train"),
                                         group=INPUT_GROUP,
        help="column layout and labels of a GLUE/CLUE processor from run_classifier.py")
    text_a: Optional[str] = value_option(group=INPUT_GROUP,
        help="column of the first sentence: header name, key, or 0-based index (default: text_a, or the preset's)")
    text_b: Optional[str] = value_option(group=INPUT_GROUP,
        help="column of the second sentence of a pair (none: single sentences)")
    label: Optional[str] = value_option(group=INPUT_GROUP,
        help="column of the label (default: label, or the preset's; none with --unlabeled)")
    header: Optional[bool] = switch_option(None, group=INPUT_GROUP,
        help="TSV/CSV files start with a header row (default: yes, or the preset's)")
    language: str = value_option("zh", group=INPUT_GROUP,
        help="with --preset xnli: keep rows of this language")
    labels: Optional[str] = value_option(group=LABELS_GROUP,
        help="label list in id order: a,b,c or a file with one label a line (default: discovered from the data and "
             "sorted)")
    multi_label: bool = flag_option(group=LABELS_GROUP,
        help="several labels a row: label_ids is a multi-hot vector of num_labels")
    label_delimiter: str = value_option(",", group=LABELS_GROUP,
        help="separator of labels in a multi-label cell")
    label_type: str = value_option("int", choices=("int", "float"), group=LABELS_GROUP,
        help="float: regression targets (label_ids is a float)")
    unlabeled: bool = flag_option(group=LABELS_GROUP,
        help="no label column (a test set): label_ids 0, as run_classifier.py does for test examples")
    max_seq_length: int = value_option(128, type=int, group=FEATURES_GROUP,
        help="tokens per record, [CLS]/[SEP] included")

    def __post_init__(self):
        super().__post_init__()
        if self.max_seq_length is None or int(self.max_seq_length) < 3:
            raise BertprepError("--max-seq-length must be at least 3 (room for [CLS] and [SEP]), got %s"
                                % self.max_seq_length)
        if self.label_type == "float" and self.multi_label:
            raise BertprepError("--multi-label and --label-type float cannot be combined")

    def to_config(self, plan: Optional["ClassifierPlan"] = None):
        """info.json's `config`: the options, with the `plan`'s format, header, labels and columns in place
        of what the user typed (the keys and values the job has always recorded)."""
        config = super().to_config()
        if plan is not None:
            config.update(format=plan.format, header=plan.header, unlabeled=plan.unlabeled,
                          labels=list(plan.labels) if plan.labels is not None else None,
                          columns=dict(plan.columns), label_rename=[list(pair) for pair in plan.label_rename])
        return dict(sorted(config.items()))


Column = Union[int, str]


@dataclasses.dataclass(frozen=True)
class ClassifierPlan:
    """What the options and the preset decide together: how to read the rows and which labels exist."""

    format: str  # tsv, csv, jsonl, parquet or text (never auto)
    columns: Tuple[Tuple[str, Column], ...]  # (text_a/text_b/label/language, header name, key or index)
    header: bool
    labels: Optional[Tuple[str, ...]]  # None: discovered from the data
    unlabeled: bool
    label_rename: Tuple[Tuple[str, str], ...]


def plan_for(options: ClassifierOptions) -> ClassifierPlan:
    """The plan of a classifier run: explicit options first, then the preset's layout, then the defaults."""
    from bertprep.transforms.finetune.classifier_features import PRESETS

    preset = PRESETS.get(options.preset or "")
    input_format = options.format
    if input_format == "auto":
        input_format = preset.format if preset else _format_from_name(options.input)
    columns = {}
    for name in ("text_a", "text_b", "label"):
        value = getattr(options, name)
        if value is None and preset is not None:
            value = getattr(preset, name)
        if value is None and name in ("text_a", "label") and input_format != "text":
            value = name
        columns[name] = value
    unlabeled = options.unlabeled or input_format == "text"
    if unlabeled:
        columns["label"] = None
    if preset is not None and preset.language is not None:
        columns["language"] = preset.language
    header = options.header if options.header is not None else (preset.header if preset else True)
    labels = read_labels_option(options.labels)
    if labels is None and preset is not None and options.label_type == "int":
        labels = list(preset.labels)
    if unlabeled and options.multi_label and not labels:
        raise BertprepError("--unlabeled --multi-label needs --labels (the vector length)")
    return ClassifierPlan(
        format=input_format,
        columns=tuple((name, _as_column(value)) for name, value in columns.items() if value is not None),
        header=bool(header), labels=tuple(labels) if labels is not None else None, unlabeled=unlabeled,
        label_rename=tuple(tuple(pair) for pair in preset.rename) if preset else ())


def _format_from_name(pattern: str) -> str:
    from bertprep.io import formats

    return formats.guess_format(pattern.split(",")[0].lower(), default="text")


def _as_column(value) -> Column:
    """A column given as digits is a 0-based index; anything else names a header or a key."""
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text
