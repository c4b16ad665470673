"""`bertprep tagging` options, and the plan resolved from them once (input format, tag list)."""
import dataclasses
from typing import Optional, Tuple

from bertprep.errors import BertprepError
from bertprep.options.common import (COMMON_GROUP, CommonJobOptions, ShardedOutputOptions, TokenizerOptions,
                                     seed_not_drawn_from)
from bertprep.options.fields import flag_option, value_option
from bertprep.options.labels_option import read_labels_option

INPUT_GROUP = "input"
TAGS_AND_FEATURES_GROUP = "tags and features"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaggingOptions(TokenizerOptions, ShardedOutputOptions, CommonJobOptions):
    """The options of `bertprep tagging`."""

    seed: int = seed_not_drawn_from()
    input: Optional[str] = value_option(required=True, group=COMMON_GROUP,
        help="CoNLL-style or JSONL files (file, glob or list)")
    format: str = value_option("auto", choices=("auto", "conll", "jsonl"), group=INPUT_GROUP,
        help="auto: .jsonl/.json are JSONL, anything else CoNLL-style")
    tokens_field: str = value_option("tokens", group=INPUT_GROUP,
        help="JSONL key of the token list")
    tags_field: str = value_option("tags", group=INPUT_GROUP,
        help="JSONL key of the tag list")
    labels: Optional[str] = value_option(group=TAGS_AND_FEATURES_GROUP,
        help="tag list in id order: B-PER,I-PER,O or a file with one tag a line (default: discovered from the data and "
             "sorted)")
    max_seq_length: int = value_option(128, type=int, group=TAGS_AND_FEATURES_GROUP,
        help="tokens per record, [CLS]/[SEP] included")
    split_long: bool = flag_option(group=TAGS_AND_FEATURES_GROUP,
        help="cut sentences that do not fit into several records at word boundaries instead of dead-lettering them")

    def __post_init__(self):
        super().__post_init__()
        if self.max_seq_length is None or int(self.max_seq_length) < 3:
            raise BertprepError("--max-seq-length must be at least 3, got %s" % self.max_seq_length)

    def to_config(self, plan: Optional["TaggingPlan"] = None):
        """info.json's `config`: the options, with the `plan`'s format and tag list in place of what the user
        typed (the keys and values the job has always recorded)."""
        config = super().to_config()
        if plan is not None:
            config.update(format=plan.format, labels=list(plan.labels) if plan.labels is not None else None)
        return config


@dataclasses.dataclass(frozen=True)
class TaggingPlan:
    """The input format (never auto) and the tag list in id order (None: discovered from the data)."""

    format: str
    labels: Optional[Tuple[str, ...]]


def plan_for(options: TaggingOptions) -> TaggingPlan:
    input_format = options.format
    if input_format == "auto":
        from bertprep.io import formats

        first = options.input.split(",")[0].lower()
        input_format = "jsonl" if formats.guess_format(first) == "jsonl" else "conll"
    labels = read_labels_option(options.labels)
    return TaggingPlan(format=input_format, labels=tuple(labels) if labels is not None else None)
