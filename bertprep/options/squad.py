"""`bertprep squad` options."""
import dataclasses
from typing import Optional

from bertprep.errors import BertprepError
from bertprep.options.common import (COMMON_GROUP, CommonJobOptions, ShardedOutputOptions, TokenizerOptions,
                                     seed_not_drawn_from)
from bertprep.options.fields import flag_option, switch_option, value_option

FEATURES_GROUP = "features (defaults are the reference's)"
ANSWERS_AND_TEXT_GROUP = "answers and text"
SIDE_FILES_GROUP = "side files"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SquadOptions(TokenizerOptions, ShardedOutputOptions, CommonJobOptions):
    """The options of `bertprep squad`."""

    seed: int = seed_not_drawn_from()
    input: Optional[str] = value_option(required=True, group=COMMON_GROUP,
        help="SQuAD-format JSON files (file, glob or list)")
    split: str = value_option("train", choices=("train", "eval"), group=FEATURES_GROUP,
        help="train: with answer positions; eval: with side files for squad-predict")
    version_2_with_negative: bool = flag_option(group=FEATURES_GROUP,
        help="SQuAD 2.0: questions may be unanswerable (is_impossible)")
    max_seq_length: int = value_option(384, type=int, group=FEATURES_GROUP,
        help="tokens per window, [CLS]/[SEP] included")
    doc_stride: int = value_option(128, type=int, group=FEATURES_GROUP,
        help="distance between the starts of windows")
    max_query_length: int = value_option(64, type=int, group=FEATURES_GROUP,
        help="question pieces kept (the rest is cut)")
    cjk_words: str = value_option("auto", choices=("auto", "split", "keep"), group=ANSWERS_AND_TEXT_GROUP,
        help="split CJK ideographs into one-character words: auto (paragraphs written without spaces), split (always), "
             "keep (never, as the reference)")
    unusable_answers: str = value_option("dead-letter", choices=("dead-letter", "keep"), group=ANSWERS_AND_TEXT_GROUP,
        help="training answers that start or end inside a word piece, or that no window holds whole: dead-letter them, "
             "or keep them as the reference does (whole words labelled; every window labelled 0)")
    side_file: Optional[bool] = switch_option(None, group=SIDE_FILES_GROUP,
        help="write the feature/example side files (default: with --split eval)")
    side_file_format: str = value_option("jsonl", choices=("jsonl", "parquet"), group=SIDE_FILES_GROUP,
        help="side file format")

    def __post_init__(self):
        super().__post_init__()
        for name in ("max_seq_length", "doc_stride", "max_query_length"):
            value = getattr(self, name)
            if value is None or int(value) <= 0:
                raise BertprepError("--%s must be positive, got %s" % (name.replace("_", "-"), value))
        if self.max_seq_length <= self.max_query_length + 3:
            raise BertprepError("--max-seq-length (%d) must be greater than --max-query-length (%d) + 3"
                                % (self.max_seq_length, self.max_query_length))

    @property
    def is_training(self) -> bool:
        """run_squad.py's is_training: answer positions in the records, no side files by default."""
        return self.split == "train"

    @property
    def kind(self) -> str:
        return "squad_train" if self.is_training else "squad_eval"

    @property
    def writes_side_files(self) -> bool:
        """--side-file / --no-side-file, or by default: for evaluation only (squad-predict reads them)."""
        return self.side_file if self.side_file is not None else not self.is_training

    def to_config(self):
        """info.json's `config`: the options, with side_file decided (true or false, never null)."""
        return {**super().to_config(), "side_file": self.writes_side_files}


def options_of_run(info: dict) -> SquadOptions:
    """The options a `squad` run recorded in its info.json, as its typed options (the class's defaults for
    what the record leaves out): squad-predict tokenizes answers back as that run did."""
    known = {field.name for field in dataclasses.fields(SquadOptions)}
    return SquadOptions(**{name: value for name, value in info.get("config", {}).items() if name in known})
