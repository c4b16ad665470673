"""`bertprep embed` options."""
import dataclasses
from typing import Optional

from bertprep.errors import BertprepError
from bertprep.options.common import (COMMON_GROUP, CommonJobOptions, ShardCountOptions, TokenizerOptions,
                                     seed_not_drawn_from)
from bertprep.options.fields import switch_option, value_option

EMBED_GROUP = "embed options"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmbedOptions(TokenizerOptions, ShardCountOptions, CommonJobOptions):
    """The options of `bertprep embed`."""

    seed: int = seed_not_drawn_from()
    input: Optional[str] = value_option(required=True, group=COMMON_GROUP,
        help="text (one sentence a line), JSONL, TSV/CSV or Parquet file(s); glob or comma-separated list")
    # The model's tokenizer decides the case unless the user does: an uncased vocabulary fed cased text (or the
    # reverse) gives other vectors with no error.
    lower: Optional[bool] = switch_option(None, group=COMMON_GROUP,
        help="lower-case input (the original --do_lower_case; default: do_lower_case of the model's "
             "tokenizer_config.json, else yes)")
    model: Optional[str] = value_option(required=True, group=EMBED_GROUP,
        help="Hugging Face BERT directory, Google checkpoint directory or prefix, or a `bertprep train`/`export` "
             "output (its vocab.txt is used unless --vocab)")
    bert_config: Optional[str] = value_option(group=EMBED_GROUP,
        help="BERT config file when it is not beside the model")
    pooling: Optional[str] = value_option(choices=("cls", "mean", "max", "second-to-last-mean"), group=EMBED_GROUP,
        help="cls: last layer at [CLS]; mean: last layer averaged over real tokens; max: its largest value over real "
             "tokens; second-to-last-mean: the layer before, averaged (default: the model's 1_Pooling/config.json, "
             "else mean)")
    max_seq_length: Optional[int] = value_option(type=int, group=EMBED_GROUP,
        help="longer inputs are truncated (default: the model's sentence_bert_config.json, else its "
             "max_position_embeddings)")
    normalize: Optional[bool] = switch_option(None, group=EMBED_GROUP,
        help="scale sentence vectors to length 1 (default: as the model's modules.json says, else no)")
    batch_size: int = value_option(32, type=int, group=EMBED_GROUP,
        help="most texts per model call")
    sort_window: int = value_option(1024, type=int, group=EMBED_GROUP,
        help="texts sorted by length together, so that each batch is padded only to its longest text")
    token_vectors: str = value_option("none", choices=("none", "float16", "float32"), group=EMBED_GROUP,
        help="also write each real token's last-layer vector, in this precision")
    format: Optional[str] = value_option(choices=("text", "documents", "jsonl", "tsv", "csv", "parquet"),
                                         group=EMBED_GROUP,
        help="input format (default: from the file extension, else text)")
    text_field: str = value_option("text", group=EMBED_GROUP,
        help="JSONL field / CSV, TSV or Parquet column with the text")
    header: bool = switch_option(True, group=EMBED_GROUP,
        help="CSV/TSV files start with a header row")

    def __post_init__(self):
        super().__post_init__()
        for option in ("batch_size", "sort_window"):
            value = getattr(self, option)
            if value is not None and int(value) < 1:
                raise BertprepError("--%s must be at least 1, got %s" % (option.replace("_", "-"), value))

    @property
    def wants_token_vectors(self) -> bool:
        return self.token_vectors != "none"


# Bytes of input per output shard when --num-shards is 0. Each shard is written by one worker from memory:
# ~40,000 short texts, 60 MB of 384-wide vectors; with token vectors (~30 times bigger) 32 times fewer bytes.
