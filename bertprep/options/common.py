"""The options every job shares: input and output, seed, workers, publish gates, runner; shards; tokenizer."""
import argparse
import dataclasses
from typing import Optional

from bertprep.errors import BertprepError
from bertprep.options.fields import JobOptions, flag_option, switch_option, value_option

LOCAL_RUNNER = "FnApiRunner"
DEFAULT_SEED = 12345
DEFAULT_MAX_DEAD_LETTER_RATE = 0.5
COMMON_GROUP = "common job options"
TOKENIZER_GROUP = "tokenizer options"


def seed_not_drawn_from():
    """`--seed` of a job that draws nothing at random: every job takes --seed (one command line for all),
    and its help says plainly that here it changes nothing, instead of promising reproducible draws."""
    return value_option(DEFAULT_SEED, type=int, group=COMMON_GROUP,
                        help="accepted by every job; this one draws nothing at random, so its output is the "
                        "same whatever the seed")


def dead_letter_rate(text: str) -> float:
    """--max-dead-letter-rate: a share between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number from 0 to 1, got %r" % text) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("expected a number from 0 to 1, got %s" % text)
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class CommonJobOptions(JobOptions):
    """What every Beam job takes. A job redefines `input` to say what its input files are."""

    input: Optional[str] = value_option(required=True, group=COMMON_GROUP,
                                        help="input file, glob, or comma-separated list (local or gs://)")
    output: Optional[str] = value_option(required=True, group=COMMON_GROUP, help="output directory (local or gs://)")
    seed: int = value_option(DEFAULT_SEED, type=int, group=COMMON_GROUP,
                             help="random seed; with the same seed the output bytes are the same whatever the "
                             "worker count")
    workers: int = value_option(1, type=int, group=COMMON_GROUP,
                                help="local worker processes (FnApiRunner with N SDK worker processes); ignored "
                                "by remote runners")
    overwrite: bool = flag_option(group=COMMON_GROUP, help="replace an existing complete output")
    max_dead_letter_rate: float = value_option(
        DEFAULT_MAX_DEAD_LETTER_RATE, type=dead_letter_rate, group=COMMON_GROUP,
        help="fail, publishing nothing, when more than this share of the input records is dead-lettered (0 to 1); "
        "a run that writes no record always fails")
    strict: bool = switch_option(False, group=COMMON_GROUP,
                                 help="fail the run, publishing nothing, when the data gives a warning (an [UNK] "
                                 "flood, a case setting that does not fit the vocabulary, a dead-letter reason over "
                                 "10%% of the input, skewed labels; see README)")
    runner: str = value_option(LOCAL_RUNNER, group=COMMON_GROUP,
                               help="Beam runner (DataflowRunner for Dataflow); other --beam_options pass through "
                               "unchanged")

    def __post_init__(self):
        if self.workers is not None and int(self.workers) < 1:
            raise BertprepError("--workers must be at least 1, got %s" % self.workers)

    @property
    def is_local(self) -> bool:
        """Whether the job runs on this machine (FnApiRunner, or DirectRunner which we run the same way)."""
        return self.runner in (LOCAL_RUNNER, "DirectRunner")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardCountOptions(JobOptions):
    """Jobs that write shards (TFRecord or Parquet)."""

    num_shards: int = value_option(0, type=int, group=COMMON_GROUP, help="output shards (0: from the input size)")

    def __post_init__(self):
        super().__post_init__()
        if self.num_shards is not None and int(self.num_shards) < 0:
            raise BertprepError("--num-shards must be 0 (from the input size) or more, got %s" % self.num_shards)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardedOutputOptions(ShardCountOptions):
    """Jobs that write TFRecord shards, which may be compressed (Parquet writers have no such option: an option
    a job would ignore is not offered)."""

    compression: str = value_option("none", choices=("none", "gzip"), group=COMMON_GROUP, help="TFRecord compression")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenizerOptions(JobOptions):
    """--vocab / --spm-model / --lower / --strip-accents, shared by every job that tokenizes."""

    vocab: Optional[str] = value_option(group=TOKENIZER_GROUP, help="WordPiece vocabulary file (vocab.txt)")
    spm_model: Optional[str] = value_option(group=TOKENIZER_GROUP, help="SentencePiece model (.model, with its .vocab "
                                            "beside it) instead of --vocab")
    lower: bool = switch_option(True, group=TOKENIZER_GROUP, help="lower-case input (the original --do_lower_case)")
    strip_accents: Optional[bool] = switch_option(None, group=TOKENIZER_GROUP,
                                                  help="strip accents (default: same as --lower for WordPiece, off "
                                                  "for SentencePiece)")
    normalize_punctuation: bool = switch_option(
        False, group=TOKENIZER_GROUP,
        help="map punctuation the vocabulary lacks (curly quotes, dashes, ellipsis, full-width forms) to an "
        "equivalent it has, one character for one so offsets do not move; info.json records the map (see README)")

    def load_tokenizer(self):
        """The tokenizer these options name (called where it is used: in a DoFn's setup, or once)."""
        from bertprep.transforms.tokenization.tokenizer import load_tokenizer

        if not self.vocab and not self.spm_model:
            raise BertprepError("give --vocab (WordPiece vocab.txt) or --spm-model (SentencePiece .model)")
        return load_tokenizer(vocab=self.vocab, spm_model=self.spm_model, lower=self.lower,
                              strip_accents=self.strip_accents, normalize_punctuation=self.normalize_punctuation)
