"""Why did fine-tuning all-MiniLM-L6-v2 on ChnSentiCorp collapse with seed 12345? Measured, step by step.

    python benchmarks/collapse_diagnosis.py --train DIR --eval DIR --model MODEL_DIR --variants adam_bert,adamw

Trains bertprep's classifier exactly as `bertprep train` does (same model, seeds, data order, schedule),
one variant of the optimizer at a time, and records for every step: the loss, the gradient's global
norm before clipping and the relative size of the weight update ‖Δθ‖/‖θ‖; every `--probe-every`
steps, on a fixed probe of evaluation rows: the spread of the pooled [CLS] vectors across examples
(mean over dimensions of the standard deviation across examples), the share of pooled values
saturated by tanh (|x| > 0.99), the spread of the logit margin and the share predicted as class 1.

Variants: adam_bert (the original optimizer), adam_bert_corrected (the original with bias correction
added and nothing else changed: same epsilon, same schedule), adamw (the default recipe),
adam_bert_lr/N (the original with the peak learning rate divided by N).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def make_optimizer(variant, model, learning_rate, total_steps, warmup_steps):
    from keras import ops

    from bertprep.trainer import optimization

    if variant == "adamw":
        return optimization.create_optimizer(model, learning_rate, total_steps, warmup_steps, optimizer="adamw")
    if variant.startswith("adam_bert_lr/"):
        divisor = float(variant.split("/", 1)[1])
        return optimization.create_optimizer(model, learning_rate / divisor, total_steps, warmup_steps,
                                             optimizer="adam_bert")
    if variant == "adam_bert":
        return optimization.create_optimizer(model, learning_rate, total_steps, warmup_steps, optimizer="adam_bert")
    if variant == "adam_bert_corrected":
        class Corrected(optimization.BertAdamWeightDecay):
            """The original update with Adam's bias correction: m/(1−β1^t), v/(1−β2^t)."""

            def update_step(self, gradient, variable, learning_rate):
                index = self._get_variable_index(variable)
                first, second = self._first_moments[index], self._second_moments[index]
                gradient = ops.cast(gradient, variable.dtype)
                step = ops.cast(self.iterations + 1, variable.dtype)
                self.assign(first, self.beta_1 * first + (1.0 - self.beta_1) * gradient)
                self.assign(second, self.beta_2 * second + (1.0 - self.beta_2) * ops.square(gradient))
                first_hat = first / (1.0 - ops.power(self.beta_1, step))
                second_hat = second / (1.0 - ops.power(self.beta_2, step))
                update = first_hat / (ops.sqrt(second_hat) + self.epsilon)
                self.assign_sub(variable, ops.cast(learning_rate, variable.dtype) * update)

        schedule = optimization.WarmupLinearDecay(learning_rate, total_steps, warmup_steps, decay_from_warmup=False)
        optimizer = Corrected(learning_rate=schedule, weight_decay=0.01)
        optimizer.exclude_from_weight_decay(
            var_list=[v for v in model.trainable_variables if optimization.is_decay_exempt(v)])
        return optimizer
    raise SystemExit(f"unknown variant {variant!r}")


def run_variant(args, variant):
    import numpy as np
    import tensorflow as tf

    from bertprep.trainer import checkpoint_import, data as data_lib, tasks
    from bertprep.trainer.config import BertConfig
    from bertprep.trainer.heads import build_task_model

    bert_config = BertConfig.from_json_file(args.model)
    info = data_lib.read_dataset_info(args.train)
    eval_info = data_lib.read_dataset_info(args.eval)
    total_steps = int(info.num_records * args.epochs / args.batch_size)
    warmup_steps = int(total_steps * args.warmup)
    model = build_task_model("classifier", bert_config, num_labels=2, classifier_dropout=0.1, seed=args.seed)
    checkpoint_import.load_pretrained(model, args.model)
    optimizer = make_optimizer(variant, model, args.learning_rate, total_steps, warmup_steps)
    optimizer.build(model.trainable_variables)
    dataset = data_lib.make_dataset(info, args.batch_size, training=True, seed=args.seed)
    probe = next(iter(data_lib.make_dataset(eval_info, args.probe_size, training=False)))
    weights = model.trainable_variables

    @tf.function
    def train_step(features):
        with tf.GradientTape() as tape:
            outputs = model(features, training=True)
            loss = tasks.compute_loss("classifier", outputs, features)
        gradients = tape.gradient(loss, weights)
        before = [tf.identity(w) for w in weights]
        optimizer.apply(gradients, weights)
        delta = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(w - b)) for w, b in zip(weights, before)]))
        norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(b)) for b in before]))
        return loss, tf.linalg.global_norm(gradients), delta / norm

    @tf.function
    def probe_step(features):
        encoded = model.encode(features, training=False)
        logits = model(features, training=False)["logits"]
        return encoded["pooled_output"], logits

    def measure_probe():
        pooled, logits = (np.asarray(x) for x in probe_step(probe))
        margin = logits[:, 1] - logits[:, 0]
        return {"pooled_spread": float(pooled.std(axis=0).mean()),
                "pooled_saturated": float((np.abs(pooled) > 0.99).mean()),
                "margin_spread": float(margin.std()), "margin_mean": float(margin.mean()),
                "predicted_1": float((margin > 0).mean())}

    records = [{"variant": variant, "step": 0, **measure_probe()}]
    print(json.dumps(records[-1]), flush=True)
    iterator = iter(dataset)
    started = time.time()
    for step in range(1, total_steps + 1):
        loss, gradient_norm, relative_update = train_step(next(iterator))
        record = {"variant": variant, "step": step, "loss": float(loss), "gradient_norm": float(gradient_norm),
                  "relative_update": float(relative_update)}
        if step % args.probe_every == 0 or step == total_steps:
            record.update(measure_probe())
            record["seconds"] = round(time.time() - started, 1)
            print(json.dumps(record), flush=True)
        records.append(record)
    return records


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True, help="bertprep classifier output (training rows)")
    parser.add_argument("--eval", required=True, help="bertprep classifier output (evaluation rows)")
    parser.add_argument("--model", required=True, help="Hugging Face model directory")
    parser.add_argument("--variants", default="adam_bert,adam_bert_corrected,adamw")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=0.1)
    parser.add_argument("--probe-size", type=int, default=128)
    parser.add_argument("--probe-every", type=int, default=10)
    parser.add_argument("--output", help="JSONL file for every step's record")
    args = parser.parse_args()
    from bertprep.trainer.quiet import import_tensorflow

    import_tensorflow()
    everything = []
    for variant in args.variants.split(","):
        records = run_variant(args, variant)
        everything.extend(records)
        losses = [r["loss"] for r in records if "loss" in r]
        early = [r["relative_update"] for r in records if 1 <= r["step"] <= 20]
        print(f"{variant}: loss steps 1-25 {sum(losses[:25]) / 25:.4f}, last 25 {sum(losses[-25:]) / 25:.4f}; "
              f"mean ‖Δθ‖/‖θ‖ steps 1-20 {sum(early) / len(early):.2e}; final probe: "
              + json.dumps({k: round(v, 4) for k, v in records[-1].items() if isinstance(v, float)}), flush=True)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            for record in everything:
                handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
