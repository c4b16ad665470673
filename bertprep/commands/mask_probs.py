"""`bertprep mask-probs`: the command line of the mask-probs job (the graph is bertprep/pipelines/mask_probs.py).

Only the options class is imported at the top, so `bertprep --help` does not load Beam for this command.
"""
from bertprep.options.mask_probs import MaskProbsOptions
from bertprep.pipelines import registry

COMMAND = "mask-probs"
HELP = registry.PIPELINES[COMMAND].help  # the registry lists every job's help
ACCEPTS_BEAM_ARGS = True
DESCRIPTION = """Read correct/wrong sentence pairs, align them, and write (one directory):

  char_stats.parquet/.tsv        per character: occurrences on the correct side, unchanged, written wrong,
                                 seen as the wrong character, deleted, inserted, FASPell's unchanged count
  confusion_pairs.parquet/.tsv   correct -> wrong substitution counts
  confusion_sets.parquet/.tsv    per character its ranked candidates: char, candidate, score, source, rank
                                 (+ phonetic_score, glyph_score, observed_count, same_pinyin)
  mask_probability.parquet/.tsv  FASPell's min(top confusion / unchanged, 1) keyed by the wrong-side
                                 character, and the smoothed (errors + alpha*r0) / (count + alpha)
  mask_probability.sav           pickled dict[str, float] of FASPell's values, for FASPell users
  info.json, dead_letters/, _COMPLETE

Inputs: --input FILES (tsv wrong<TAB>correct, faspell num<TAB>wrong<TAB>correct, jsonl source/target,
SIGHAN sgml; detected per file unless --format) or --correct FILE --wrong FILE (line-aligned).
Existing confusion sets (--confusion-file, repeatable: char:candidates, char<TAB>candidates, comma- or
space-separated lists) join the candidates as sources named external:<file name>; the ranker learns from
the pairs how far to trust each."""

add_arguments = MaskProbsOptions.add_arguments


def run(args) -> int:
    from bertprep.commands import job_command

    return job_command.run_job(COMMAND, args)
