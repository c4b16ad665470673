"""`bertprep tagging` options."""
import dataclasses
from typing import Optional

from bertprep.options.common import COMMON_GROUP, CommonJobOptions, ShardedOutputOptions, TokenizerOptions
from bertprep.options.fields import flag_option, list_option, switch_option, value_option

INPUT_GROUP = "input"
TAGS_AND_FEATURES_GROUP = "tags and features"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaggingOptions(TokenizerOptions, ShardedOutputOptions, CommonJobOptions):
    """The options of `bertprep tagging`."""

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
