"""The names of the counts and statistics a job publishes in info.json, one spelling each.

Jobs write these names and the report, the data warnings and the service read them, so a statistic
renamed on one side only fails a test instead of silently dropping a plot or a warning.
"""

# info.json["counts"]: the accounting names every job shares. A job's own counts ("used", "filtered",
# "features", ...) are named where the job defines them.
READ = "read"
WRITTEN = "written"
DEAD_LETTERED = "dead_lettered"
RECORDS_OUT = "records_out"  # records in the published shards, counted by Finalize

# info.json["stats"] the report draws (shapes in bertprep/report/stats.py).
SEQUENCE_LENGTH_HISTOGRAM = "sequence_length_histogram"  # {real tokens: instances}
TOKENS_PER_INSTANCE = "tokens_per_instance"              # {tokens: instances}
UNK_RATE = "unk_rate"                                    # fraction, {"unk": n, "tokens": n} or {rate: instances}
MASKED_POSITION_KINDS = "masked_position_kinds"          # {"mask"|"keep"|"random"|...: predictions}
NEXT_SENTENCE_LABELS = "next_sentence_labels"            # {"0": n, "1": n}; SOP when config next_sentence is sop
LABEL_DISTRIBUTION = "label_distribution"                # classifier: {label: examples}
TAG_DISTRIBUTION = "tag_distribution"                    # tagging: {tag: tokens}
ANSWERS = "answers"                                      # squad: {"kept": n, "dropped": {reason: n}}
TOP_CONFUSION_PAIRS = "top_confusion_pairs"              # mask_probs: [[correct, wrong, count], ...]
CONFUSION_MIXTURE = "confusion_mixture"                  # mask_probs: {source: weight}
UNKNOWN_WORDS = "unknown_words"                          # {"top": [[word, count], ...], ...}
UNKNOWN_WORD_SAMPLE = "unknown_word_sample"              # pretraining: {"sentences": n, ...}
CONFUSION_MIX_REALIZED = "confusion_mix_realized"        # pretraining --confusion-sets: {mix kind: predictions}
CONFUSION_MIX_SHORTFALL = "confusion_mix_shortfall"      # {mix kind: draws of it the characters had no candidate for}
# Drawn when present; no job writes them today (mask_probs' figures come from its tables instead).
MASK_PROBABILITY_HISTOGRAM = "mask_probability_histogram"          # {bin start: characters}
CONFUSION_COVERAGE_BY_SET_SIZE = "confusion_coverage_by_set_size"  # {set size: share of held-out errors}

# Finalize's timing items: they vary from run to run, so they go to report.json, never info.json.
BUILD_TIME = "build_time"
BUILD_WINDOW = "build_window"
