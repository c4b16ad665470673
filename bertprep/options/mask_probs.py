"""`bertprep mask-probs` options."""
import dataclasses
from typing import Optional

from bertprep.errors import BertprepError
from bertprep.options.common import CommonJobOptions
from bertprep.options.fields import list_option, switch_option, value_option

COMMON_JOB_OPTIONS_GROUP = "common job options"
MASK_PROBS_GROUP = "mask-probs options"
CONFUSION_SET_RANKING_GROUP = "confusion-set ranking"


@dataclasses.dataclass(frozen=True, kw_only=True)
class MaskProbsOptions(CommonJobOptions):
    """The options of `bertprep mask-probs`."""

    input: Optional[str] = value_option(group=COMMON_JOB_OPTIONS_GROUP,
        help="CSC pair files: path, glob or comma-separated list (local or gs://)")
    vocab: Optional[str] = value_option(group=MASK_PROBS_GROUP,
        help="WordPiece vocab.txt: its single CJK characters join the character universe")
    spm_model: Optional[str] = value_option(group=MASK_PROBS_GROUP,
        help="SentencePiece .model (its .vocab beside it) instead of --vocab")
    format: str = value_option("auto", choices=("auto", "tsv", "faspell", "jsonl", "sgml"), group=MASK_PROBS_GROUP,
        help="format of the --input files (auto: from the name and first line)")
    correct: Optional[str] = value_option(group=MASK_PROBS_GROUP,
        help="line-aligned file of correct sentences (with --wrong)")
    wrong: Optional[str] = value_option(group=MASK_PROBS_GROUP,
        help="line-aligned file of wrong sentences (with --correct)")
    traditional_to_simplified: bool = switch_option(False, group=MASK_PROBS_GROUP,
        help="convert both sides with OpenCC t2s before aligning")
    max_edit_rate: float = value_option(0.5, type=float, group=MASK_PROBS_GROUP,
        help="pairs with more edits per correct character go to the dead letters")
    alpha: float = value_option(10.0, type=float, group=MASK_PROBS_GROUP,
        help="prior strength of the smoothed error rate (occurrences at the corpus rate r0)")
    faspell_counting: str = value_option("augmented", choices=("augmented", "pairs"), group=MASK_PROBS_GROUP,
        help="FASPell's unchanged count: over its augmented training text (as create_data.py) or over the input pairs "
             "only")
    sources: str = value_option("phonetic,glyph,observed", group=MASK_PROBS_GROUP,
        help="own confusion-set sources, comma-separated subset of phonetic,glyph,observed")
    confusion_file: Optional[str] = list_option(group=MASK_PROBS_GROUP, metavar="PATH",
        help="existing confusion sets (path, glob or comma-separated list, local or gs://; repeatable): their "
             "candidates join the sets, each file as source external:<file name>, weighted by how well it predicted "
             "the errors of held-out sentences of the input")
    confusion_file_format: str = value_option("auto", choices=("auto", "colon", "tab", "comma", "space", "groups"),
                                              group=MASK_PROBS_GROUP,
        help="layout of the --confusion-file files: colon (char:candidates), tab (char<TAB>candidates...), comma or "
             "space (a run or one character an item), groups (comma-separated look-alike groups, each member's "
             "candidates the whole group, as PLOME's same_stroke.txt); auto: from each file's first data line "
             "(never groups)")
    top_k: int = value_option(15, type=int, group=MASK_PROBS_GROUP,
        help="candidates kept per character")
    frequency_prior: str = value_option("jieba+corpus", choices=("jieba+corpus", "corpus", "none"),
                                        group=MASK_PROBS_GROUP,
        help="character frequencies behind the score's frequency term")
    ranker: bool = switch_option(True, group=CONFUSION_SET_RANKING_GROUP,
        help="rank candidates with the learned ranker (pinyin, glyph and frequency features fitted on the pairs, "
             "external sets weighted by how well they predicted held-out sentences' errors) or, with --no-ranker, with "
             "the hand-set mixture of similarity neighbourhoods")
    observed_weight: float = value_option(1.0, type=float, metavar='X', group=CONFUSION_SET_RANKING_GROUP,
        help="weight m of the corpus's own counts in a candidate's score (m*n(c,w) + k*P(w|c)) / (m*n(c) + k); 0 "
             "ignores them")
    prior_strength: float = value_option(3.0, type=float, metavar='X', group=CONFUSION_SET_RANKING_GROUP,
        help="pseudo-count k of the model's P(w|c) in that score: the larger, the less a few observed errors move a "
             "candidate")
    min_score: float = value_option(0.0, type=float, metavar='X', group=CONFUSION_SET_RANKING_GROUP,
        help="least score a candidate needs to stay in a set")
    pool_group_size: int = value_option(60, type=int, metavar='N', group=CONFUSION_SET_RANKING_GROUP,
        help="ranker's candidate pool: how many of the most frequent characters sharing an initial, a final or a first "
             "letter with the character are candidates")
    ranker_l2: float = value_option(3.0, type=float, metavar='X', group=CONFUSION_SET_RANKING_GROUP,
        help="L2 penalty of the ranker's fits (the larger, the closer its weights stay to 0)")
    mean_set_size: float = value_option(0.0, type=float, metavar='X', group=CONFUSION_SET_RANKING_GROUP,
        help="when above 0: per-character set sizes, more candidates for characters that err often, averaging this "
             "over the universe (instead of --top-k for every character)")
    min_set_size: int = value_option(3, type=int, metavar='N', group=CONFUSION_SET_RANKING_GROUP,
        help="smallest set with --mean-set-size")
    max_set_size: int = value_option(200, type=int, metavar='N', group=CONFUSION_SET_RANKING_GROUP,
        help="largest set with --mean-set-size")
    mixture_phonetic_weight: float = value_option(1.0, type=float, metavar='X', group=CONFUSION_SET_RANKING_GROUP,
        help="--no-ranker only: multiplies the fitted weights of the pinyin neighbourhoods")
    mixture_glyph_weight: float = value_option(1.0, type=float, metavar='X', group=CONFUSION_SET_RANKING_GROUP,
        help="--no-ranker only: multiplies the fitted weight of the look-alike neighbourhood")
    mixture_frequency_exponent: float = value_option(0.8, type=float, metavar='X', group=CONFUSION_SET_RANKING_GROUP,
        help="--no-ranker only: exponent of a candidate's frequency inside a neighbourhood")
    mixture_glyph_exponent: float = value_option(2.0, type=float, metavar='X', group=CONFUSION_SET_RANKING_GROUP,
        help="--no-ranker only: exponent of glyph similarity inside the look-alike neighbourhood")
    mixture_near_limit: int = value_option(40, type=int, metavar='N', group=CONFUSION_SET_RANKING_GROUP,
        help="--no-ranker only: how many of the most frequent characters of each same-initial or same-final group are "
             "candidates")

    def __post_init__(self):
        super().__post_init__()
        if self.correct or self.wrong:
            if not (self.correct and self.wrong):
                raise BertprepError("--correct and --wrong go together (two line-aligned files)")
        elif not self.input:
            raise BertprepError("give --input FILES, or --correct FILE --wrong FILE")
        from bertprep.transforms.csc import confusion  # here, not at the top: it loads numpy and pypinyin

        try:
            confusion.parse_sources(self.sources)
        except ValueError as error:
            raise BertprepError(str(error)) from None
        ranking = self.ranking_options()
        if self.confusion_file and not ranking.ranker:
            raise BertprepError("--confusion-file needs the learned ranker, which weighs each external set; "
                                "drop --no-ranker")

    def ranking_options(self):
        """The confusion-set ranking options (transforms.csc.confusion.ConfusionOptions, one field each of
        ours), or BertprepError naming the one out of range."""
        from bertprep.transforms.csc import confusion

        try:
            return confusion.ConfusionOptions(**{field.name: getattr(self, field.name)
                                                 for field in dataclasses.fields(confusion.ConfusionOptions)}
                                              ).validated()
        except ValueError as error:
            raise BertprepError(str(error)) from None
