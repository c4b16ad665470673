"""Run FASPell's own data scripts from a fetched checkout and count what its training instances hold.

    python benchmarks/faspell_records.py FASPELL_DIR PAIRS_TSV PAIRS MASK_PROBABILITY_SAV VOCAB WORK_DIR

Called by csc_reference_parity.py (faspell); prints one JSON line. FASPell (GPL-3.0) is imported from its
checkout and run unchanged; nothing of it is copied here. Its scripts use TensorFlow's 1.x API, so
`tensorflow` is aliased to `tensorflow.compat.v1` before they are imported.

1. bert_modified/create_data.py on the first PAIRS equal-length pairs of PAIRS_TSV (as `num<TAB>wrong<TAB>correct`),
   numpy seeded 12345 (FASPell draws its partly corrected copies unseeded), its files closed before they
   are read here (FASPell reads them back unflushed for its own .sav, which is not used);
2. bert_modified/create_tf_record.py's create_training_instances on the correct.txt/wrong.txt it wrote,
   with MASK_PROBABILITY_SAV (bertprep's) as its mask_probability.sav, dupe factor 1, seed 12345;
3. counts: instances, predictions per instance, and among predictions the shares of error positions (input
   character differs from the label and is not [MASK]), kept ones (input equals label) and [MASK]s; and the
   same over the instances built from a wrong sentence alone.
"""
import json
import os
import random
import runpy
import shutil
import sys


def main(faspell_dir, pairs_tsv, pairs, sav, vocab, work):
    import numpy as np
    import tensorflow.compat.v1 as tf

    sys.modules["tensorflow"] = tf
    code = os.path.join(faspell_dir, "bert_modified")
    sys.path.insert(0, code)
    train = os.path.join(work, "faspell_train.txt")
    used = 0
    with open(pairs_tsv, encoding="utf-8") as reader, open(train, "w", encoding="utf-8") as writer:
        for line in reader:
            wrong, _, correct = line.rstrip("\n").partition("\t")
            if len(wrong) != len(correct) or not wrong:
                continue
            errors = sum(w != c for w, c in zip(wrong, correct))
            writer.write("%d\t%s\t%s\n" % (errors, wrong, correct))
            used += 1
            if used == pairs:
                break
    np.random.seed(12345)
    argv, cwd = sys.argv, os.getcwd()
    sys.argv = ["create_data.py", "-f", train, "-o", work]
    try:
        state = runpy.run_path(os.path.join(code, "create_data.py"), run_name="__main__")
    finally:
        sys.argv = argv
    state["correct_file"].close()
    state["wrong_file"].close()

    shutil.copy(sav, os.path.join(work, "mask_probability.sav"))
    os.chdir(work)  # create_tf_record.py loads mask_probability.sav from the working directory
    try:
        import create_tf_record
        import tokenization
    finally:
        os.chdir(cwd)
    tokenizer = tokenization.FullTokenizer(vocab_file=vocab)
    instances = create_tf_record.create_training_instances(
        [os.path.join(work, "correct.txt")], tokenizer, 128, 1, 0.1, 0.15, 20, random.Random(12345),
        [os.path.join(work, "wrong.txt")])
    counts = {"error": 0, "kept": 0, "mask": 0, "other": 0}
    wrong_counts = dict(counts)
    wrong_instances = 0
    for instance in instances:
        has_mask = "[MASK]" in instance.tokens
        target = counts if has_mask else wrong_counts
        wrong_instances += not has_mask
        for position, label in zip(instance.masked_lm_positions, instance.masked_lm_labels):
            token = instance.tokens[position]
            kind = "mask" if token == "[MASK]" else "kept" if token == label else "error" if not has_mask else "other"
            counts[kind] += 1 if has_mask else 0
            wrong_counts[kind] += 0 if has_mask else 1
    all_counts = {kind: counts[kind] + wrong_counts[kind] for kind in counts}
    predictions = sum(all_counts.values())
    print(json.dumps({
        "system": "FASPell create_data.py + create_tf_record.py", "pairs": used, "instances": len(instances),
        "predictions_per_instance": round(predictions / len(instances), 3),
        "shares": {kind: round(100.0 * n / predictions, 2) for kind, n in all_counts.items()},
        "wrong_sentence_instances": wrong_instances,
        "wrong_sentence_predictions_per_instance": round(sum(wrong_counts.values()) / max(1, wrong_instances), 3),
        "wrong_sentence_shares": {kind: round(100.0 * n / max(1, sum(wrong_counts.values())), 2)
                                  for kind, n in wrong_counts.items()},
    }, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])
