"""`bertprep embed` options."""
import dataclasses
from typing import Optional

from bertprep.options.common import COMMON_GROUP, CommonJobOptions, ShardedOutputOptions, TokenizerOptions
from bertprep.options.fields import flag_option, list_option, switch_option, value_option

EMBED_GROUP = "embed options"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmbedOptions(TokenizerOptions, ShardedOutputOptions, CommonJobOptions):
    """The options of `bertprep embed`."""

    input: Optional[str] = value_option(required=True, group=COMMON_GROUP,
        help="text (one sentence a line), JSONL, TSV/CSV or Parquet file(s); glob or comma-separated list")
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
