"""`bertprep classifier` options."""
import dataclasses
from typing import Optional

from bertprep.options.common import COMMON_GROUP, CommonJobOptions, ShardedOutputOptions, TokenizerOptions
from bertprep.options.fields import flag_option, list_option, switch_option, value_option

INPUT_GROUP = "input"
LABELS_GROUP = "labels"
FEATURES_GROUP = "features"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClassifierOptions(TokenizerOptions, ShardedOutputOptions, CommonJobOptions):
    """The options of `bertprep classifier`."""

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
