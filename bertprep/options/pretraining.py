"""`bertprep pretraining` options."""
import dataclasses
from typing import Optional

from bertprep.errors import BertprepError
from bertprep.options.common import COMMON_GROUP, CommonJobOptions, ShardedOutputOptions, TokenizerOptions
from bertprep.options.fields import flag_option, switch_option, value_option

INPUT_GROUP = "input"
INSTANCES_GROUP = "instances (defaults are the original's)"
MASKING_GROUP = "masking"
CONFUSION_AWARE_MASKING_GROUP = "confusion-aware masking (outputs of `bertprep mask-probs`)"


@dataclasses.dataclass(frozen=True, kw_only=True)
class PretrainingOptions(TokenizerOptions, ShardedOutputOptions, CommonJobOptions):
    """The options of `bertprep pretraining`."""

    input: Optional[str] = value_option(required=True, group=COMMON_GROUP,
        help="documents: text files with one sentence a line and a blank line between documents (or see "
             "--input-format); file, glob or list")
    input_format: str = value_option("documents", choices=("documents", "text", "jsonl", "tsv", "csv", "parquet"),
                                     group=INPUT_GROUP,
        help="documents: blank-line separated; text/jsonl/tsv/csv/parquet: one document a record, split into sentences "
             "at line breaks and sentence-final punctuation")
    field: str = value_option("text", group=INPUT_GROUP,
        help="JSONL field / Parquet column holding the document")
    column: str = value_option("0", group=INPUT_GROUP,
        help="TSV/CSV column holding the document (index or header name)")
    header: bool = switch_option(False, group=INPUT_GROUP,
        help="TSV/CSV files start with a header row")
    max_seq_length: int = value_option(128, type=int, group=INSTANCES_GROUP,
        help="tokens per instance, [CLS]/[SEP] included")
    max_predictions_per_seq: int = value_option(20, type=int, group=INSTANCES_GROUP,
        help="masked-LM predictions per instance")
    masked_lm_prob: float = value_option(0.15, type=float, group=INSTANCES_GROUP,
        help="share of tokens predicted")
    short_seq_prob: float = value_option(0.1, type=float, group=INSTANCES_GROUP,
        help="probability of a shorter random target length")
    dupe_factor: int = value_option(10, type=int, group=INSTANCES_GROUP,
        help="passes over the data, each with new masks")
    next_sentence: str = value_option("nsp", choices=("nsp", "sop", "none"), group=INSTANCES_GROUP,
        help="pair task: next-sentence prediction, sentence-order prediction, or single segments")
    packing: str = value_option("segment_pair", choices=("segment_pair", "full_sentences"), group=INSTANCES_GROUP,
        help="full_sentences: RoBERTa-style packing across documents joined by [SEP] (no pair task)")
    whole_word_mask: bool = flag_option(group=MASKING_GROUP,
        help="mask whole words (WordPiece ## groups, SentencePiece ▁ starts, or --segmenter words)")
    segmenter: str = value_option("none", choices=("none", "jieba", "presegmented"), group=MASKING_GROUP,
        help="Chinese words for --whole-word-mask: jieba, or the spaces of a pre-segmented corpus")
    max_ngram: int = value_option(1, type=int, group=MASKING_GROUP,
        help="mask spans of up to N words (p(n) ∝ 1/n)")
    reference_compatible: bool = flag_option(group=MASKING_GROUP,
        help="80/10/10 per piece and random draws from the whole vocabulary, as the original")
    mask_probability: Optional[str] = value_option(group=CONFUSION_AWARE_MASKING_GROUP,
        help="mask-probs output directory, its mask_probability.parquet, or a FASPell mask_probability.sav: weights "
             "the choice of characters to predict")
    mask_probability_column: Optional[str] = value_option(group=CONFUSION_AWARE_MASKING_GROUP,
        help="column of mask_probability.parquet (default: smoothed_probability, else faspell_probability)")
    confusion_sets: Optional[str] = value_option(group=CONFUSION_AWARE_MASKING_GROUP,
        help="replace chosen characters by confusable ones from: a mask-probs output directory or its "
             "confusion_sets.parquet, a confusion file in any layout mask-probs --confusion-file reads (candidates "
             "sorted into kinds by sound and shape), or files of one kind each as KIND[:LAYOUT]=PATH,... (kinds "
             "same_pinyin, similar_pinyin, glyph; e.g. PLOME's same_pinyin=same_pinyin.txt,"
             "similar_pinyin=simi_pinyin.txt,glyph=same_stroke.txt)")
    confusion_mix: str = value_option("same_pinyin=0.3,similar_pinyin=0.3,glyph=0.15,random=0.1,keep=0.15",
                                      group=CONFUSION_AWARE_MASKING_GROUP,
        help="replacement shares with --confusion-sets (kinds: same_pinyin, similar_pinyin, glyph, random, keep, "
             "mask); a kind the chosen characters have no candidate of is a warning naming it (--strict fails)")
    confusion_masking: str = value_option("mix", choices=("mix", "plome"), group=CONFUSION_AWARE_MASKING_GROUP,
        help="with --confusion-sets: mix (characters with candidates chosen by --mask-probability, each kind given "
             "its --confusion-mix share) or plome (PLOME's mask.py: int(--masked-lm-prob x tokens) positions drawn "
             "uniformly over every token but [CLS], [SEP] and [UNK], a position dropped when its drawn kind has no "
             "candidate)")
    wrong_input: Optional[str] = value_option(group=CONFUSION_AWARE_MASKING_GROUP,
        help="FASPell mode: wrong/correct sentence pairs (tsv, faspell, jsonl or sgml; see mask-probs) added as "
             "instances whose errors are predicted")

    wrong_input_instances: str = value_option("pairs", choices=("pairs", "faspell"),
                                              group=CONFUSION_AWARE_MASKING_GROUP,
        help="with --wrong-input: pairs (one instance a pair, [CLS] wrong [SEP]) or faspell (FASPell's "
             "create_data.py documents, the pair, a correct copy and partly corrected copies, made into "
             "next-sentence instances as its create_tf_record.py does)")

    def __post_init__(self):
        super().__post_init__()
        if self.max_seq_length < 5:
            raise BertprepError("--max-seq-length must be at least 5, got %d" % self.max_seq_length)
        if self.max_predictions_per_seq < 1:
            raise BertprepError("--max-predictions-per-seq must be at least 1")
        if not 0 < self.masked_lm_prob <= 1:
            raise BertprepError("--masked-lm-prob must be in (0, 1], got %g" % self.masked_lm_prob)
        if not 0 <= self.short_seq_prob <= 1:
            raise BertprepError("--short-seq-prob must be in [0, 1], got %g" % self.short_seq_prob)
        if self.dupe_factor < 1:
            raise BertprepError("--dupe-factor must be at least 1")
        if self.max_ngram < 1:
            raise BertprepError("--max-ngram must be at least 1")
        if self.segmenter != "none" and not self.whole_word_mask:
            raise BertprepError("--segmenter only matters with --whole-word-mask")
        if self.confusion_sets and self.whole_word_mask:
            raise BertprepError("--confusion-sets masks single characters; drop --whole-word-mask")
        if self.confusion_sets:
            from bertprep.transforms.csc.confusion_masking import parse_confusion_sets, parse_mix

            parse_mix(self.confusion_mix)  # a bad share fails here, naming --confusion-mix
            parse_confusion_sets(self.confusion_sets)
        if self.wrong_input_instances == "faspell" and self.packing == "full_sentences":
            raise BertprepError("--wrong-input-instances faspell makes segment pairs; drop --packing full_sentences")
        if self.confusion_masking == "plome":
            if not self.confusion_sets:
                raise BertprepError("--confusion-masking plome replaces characters from --confusion-sets; give them")
            if self.mask_probability:
                raise BertprepError("--confusion-masking plome draws positions uniformly, as PLOME; drop "
                                    "--mask-probability")

    @property
    def pair_task(self) -> str:
        """The pair task the instances get: --next-sentence, or none when packing full sentences (a packed
        sequence has no segment pair)."""
        return "none" if self.packing == "full_sentences" else self.next_sentence

    @property
    def word_grouping(self) -> str:
        """How masking groups pieces into words: the --segmenter's words, WordPiece/SentencePiece words
        ("pieces") with --whole-word-mask, or none (every piece alone)."""
        if not self.whole_word_mask:
            return "none"
        return self.segmenter if self.segmenter != "none" else "pieces"
