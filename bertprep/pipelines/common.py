"""What every job's command line shares: the common options and the job's tokenizer.

What passes through to Beam must be an option some Beam PipelineOptions class defines (checked by
bertprep/runtime/beam_arguments.py before the job starts); running a job is bertprep/runtime/runner.py.
"""
import argparse
import math

from bertprep.errors import BertprepError
from bertprep.runtime.runner import LOCAL_RUNNER

DEFAULT_SEED = 12345
DEFAULT_MAX_DEAD_LETTER_RATE = 0.5


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the description's line breaks.

    A help text that already explains its default, and an option whose default is None, get no
    "(default: ...)" suffix, so `--help` never says a default twice or calls it "None".
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is None:
            return text
        return super()._get_help_string(action)


def add_common_job_arguments(parser: argparse.ArgumentParser, vocab: bool = True, input_help: str = None,
                             shards: bool = True) -> None:
    """--input --output [--vocab --spm-model --lower --strip-accents] --seed --workers --num-shards ..."""
    group = parser.add_argument_group("common job options")
    group.add_argument("--input", required=True, help=input_help or "input file, glob, or comma-separated list "
                       "(local or gs://)")
    group.add_argument("--output", required=True, help="output directory (local or gs://)")
    if vocab:
        add_tokenizer_arguments(group)
    group.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed; with the same seed the output "
                       "bytes are the same whatever the worker count")
    group.add_argument("--workers", type=int, default=1, help="local worker processes (FnApiRunner "
                       "with N SDK worker processes); ignored by remote runners")
    if shards:
        group.add_argument("--num-shards", type=int, default=0, help="output shards (0: from the input size)")
        group.add_argument("--compression", choices=("none", "gzip"), default="none", help="TFRecord compression")
    group.add_argument("--overwrite", action="store_true", help="replace an existing complete output")
    group.add_argument("--max-dead-letter-rate", type=dead_letter_rate, default=DEFAULT_MAX_DEAD_LETTER_RATE,
                       help="fail, publishing nothing, when more than this share of the input records is "
                       "dead-lettered (0 to 1); a run that writes no record always fails")
    group.add_argument("--strict", action=argparse.BooleanOptionalAction, default=False,
                       help="fail the run, publishing nothing, when the data gives a warning (an [UNK] flood, a case "
                       "setting that does not fit the vocabulary, a dead-letter reason over 10%% of the input, "
                       "skewed labels; see README)")
    group.add_argument("--runner", default=LOCAL_RUNNER, help="Beam runner (DataflowRunner for Dataflow); other "
                       "--beam_options pass through unchanged")


def dead_letter_rate(text: str) -> float:
    """--max-dead-letter-rate: a share between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number from 0 to 1, got %r" % text) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("expected a number from 0 to 1, got %s" % text)
    return value


def add_tokenizer_arguments(parser) -> None:
    """--vocab / --spm-model / --lower / --strip-accents, shared by every command that tokenizes."""
    parser.add_argument("--vocab", help="WordPiece vocabulary file (vocab.txt)")
    parser.add_argument("--spm-model", help="SentencePiece model (.model, with its .vocab beside it) instead of "
                        "--vocab")
    parser.add_argument("--lower", action=argparse.BooleanOptionalAction, default=True,
                        help="lower-case input (the original --do_lower_case)")
    parser.add_argument("--strip-accents", action=argparse.BooleanOptionalAction, default=None,
                        help="strip accents (default: same as --lower for WordPiece, off for SentencePiece)")


def load_job_tokenizer(config: dict):
    """The tokenizer named by a job's --vocab / --spm-model options."""
    from bertprep.transforms.tokenization.tokenizer import load_tokenizer

    if not config.get("vocab") and not config.get("spm_model"):
        raise BertprepError("give --vocab (WordPiece vocab.txt) or --spm-model (SentencePiece .model)")
    return load_tokenizer(vocab=config.get("vocab"), spm_model=config.get("spm_model"),
                          lower=config.get("lower", True), strip_accents=config.get("strip_accents"))


def config_from_args(args: argparse.Namespace) -> dict:
    """The job configuration as a JSON-able dict (stored whole in info.json)."""
    skip = {"func", "command", "beam_args", "verbose"}
    return {key: value for key, value in sorted(vars(args).items()) if key not in skip and not callable(value)}


def default_num_shards(input_bytes: int, bytes_per_shard: int = 32 << 20) -> int:
    """Shards from the input size only (never the worker count), so output names are reproducible."""
    return max(1, int(math.ceil(input_bytes / float(bytes_per_shard))))
