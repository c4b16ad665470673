"""Training throughput of the bundled BERT: sequences/s and model FLOPs utilisation (MFU).

    python benchmarks/bench_train.py                        # CPU: small config (regression figure)
    python benchmarks/bench_train.py --base --precision mixed_bfloat16   # BERT-base, seq 128 (GPU)
    KERAS_BACKEND=jax python benchmarks/bench_train.py --base --precision mixed_bfloat16
    python benchmarks/bench_train.py --replicas 1,2         # the trainer on 1 and 2 replicas, side by side

The same model code runs on TensorFlow (tf.function, XLA) or JAX (jax.jit of a stateless step);
with KERAS_BACKEND=jax nothing imports TensorFlow, so a GPU machine with only JAX can run it.
Data are synthetic pretraining batches (masked LM with `max_predictions` positions + NSP).

Model FLOPs per training sequence (forward + backward = 3 × forward, a matmul of m×k by k×n = 2mkn):
    6·T·L·(4H² + 2HI)        dense layers of L blocks over T tokens (Q, K, V, output; two FFN matmuls)
  + 12·L·T²·H                attention scores QKᵀ and the weighted sum AV
  + 6·P·(H² + HV)            masked-LM transform and tied decoder on P predicted positions
  + 6·(H² + 2H)              pooler and NSP
Embedding lookups and element-wise work are not counted (the usual MFU convention).
MFU = achieved model FLOP/s ÷ peak: the chip's dense bf16/fp16 (or fp32) figure for known GPUs, else
(CPU) the FLOP/s of a large matmul measured here in the same precision, which the output labels.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

BASE = dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, max_position_embeddings=512)
SMALL = dict(vocab_size=8000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
             intermediate_size=1024, max_position_embeddings=512)

# Dense tensor-core peaks in TFLOP/s (no sparsity), from NVIDIA data sheets: (16-bit, tf32/fp32).
GPU_PEAKS = {"H200": (989.0, 494.0), "H100 SXM": (989.0, 494.0), "H100 PCIe": (756.0, 378.0),
             "H100": (989.0, 494.0), "A100": (312.0, 156.0), "L4": (121.0, 60.0), "A10": (125.0, 62.5),
             "V100": (125.0, 15.7), "T4": (65.0, 8.1)}


def model_flops_per_sequence(config, seq_length, predictions):
    hidden, layers, inner, vocab = (config["hidden_size"], config["num_hidden_layers"],
                                    config["intermediate_size"], config["vocab_size"])
    dense = 6 * seq_length * layers * (4 * hidden * hidden + 2 * hidden * inner)
    attention = 12 * layers * seq_length * seq_length * hidden
    head = 6 * predictions * (hidden * hidden + hidden * vocab)
    pooler = 6 * (hidden * hidden + 2 * hidden)
    return dense + attention + head + pooler


def synthetic_batch(batch, seq_length, predictions, vocab, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    positions = np.sort(np.stack([rng.choice(np.arange(1, seq_length), predictions, replace=False)
                                  for _ in range(batch)]), axis=1)
    return {
        "input_ids": rng.integers(5, vocab, size=(batch, seq_length)).astype("int32"),
        "input_mask": np.ones((batch, seq_length), "int32"),
        "segment_ids": (np.arange(seq_length)[None, :] >= seq_length // 2).astype("int32").repeat(batch, 0),
        "masked_lm_positions": positions.astype("int32"),
        "masked_lm_ids": rng.integers(5, vocab, size=(batch, predictions)).astype("int32"),
        "masked_lm_weights": np.ones((batch, predictions), "float32"),
        "next_sentence_labels": rng.integers(0, 2, size=(batch, 1)).astype("int32"),
    }


def device_description():
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return backend, device.platform, getattr(device, "device_kind", str(device))
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return backend, "gpu", details.get("device_name", "GPU")
        return backend, "cpu", "CPU"
    return backend, "cpu", "CPU"


def peak_flops(platform, kind, precision, measure_dtype):
    """(FLOP/s, how it was obtained)."""
    sixteen = precision in ("mixed_bfloat16", "mixed_float16", "bfloat16", "float16")
    if platform == "gpu":
        for name, (half, single) in GPU_PEAKS.items():
            if name.lower() in kind.lower():
                return (half if sixteen else single) * 1e12, f"{name} data-sheet dense {'16-bit' if sixteen else 'tf32'} peak"
    return measure_matmul_flops(measure_dtype), f"measured {measure_dtype} matmul peak on this {platform}"


def measure_matmul_flops(dtype, size=2048, repeats=4, trials=5):
    """Best FLOP/s of chained size×size matmuls (a shared CPU gives noisy figures: the best of several)."""
    import keras
    from keras import ops

    a = ops.cast(keras.random.normal((size, size), seed=1), dtype)
    b = ops.cast(keras.random.normal((size, size), seed=2), dtype) * (1.0 / size ** 0.5)
    ops.convert_to_numpy(ops.sum(ops.matmul(a, b)))  # compile / warm up
    best = float("inf")
    for _ in range(trials):
        started = time.perf_counter()
        result = a
        for _ in range(repeats):
            result = ops.matmul(result, b)
        ops.convert_to_numpy(result[0, 0])
        best = min(best, time.perf_counter() - started)
    return 2.0 * size ** 3 * repeats / best


def build(config_values, precision, learning_rate=1e-4):
    import keras

    from bertprep.trainer.config import BertConfig
    from bertprep.trainer.heads import build_task_model
    from bertprep.trainer.optimization import create_optimizer

    keras.mixed_precision.set_global_policy(precision)
    config = BertConfig(**config_values)
    model = build_task_model("pretraining", config, seed=0)
    optimizer = create_optimizer(model, learning_rate, total_steps=10000, warmup_steps=100,
                                 loss_scale=precision == "mixed_float16")
    optimizer.build(model.trainable_variables)
    return config, model, optimizer


def jax_trainer(model, optimizer):
    """A jitted stateless training step: (state, batch) → (loss, state)."""
    import jax

    from bertprep.trainer.tasks import compute_loss

    def loss_fn(trainable, non_trainable, batch):
        outputs, non_trainable = model.stateless_call(trainable, non_trainable, batch, training=True)
        return compute_loss("pretraining", outputs, batch), non_trainable

    gradient_fn = jax.value_and_grad(loss_fn, has_aux=True)

    @jax.jit
    def step(state, batch):
        trainable, non_trainable, optimizer_variables = state
        (loss, non_trainable), gradients = gradient_fn(trainable, non_trainable, batch)
        trainable, optimizer_variables = optimizer.stateless_apply(optimizer_variables, gradients, trainable)
        return loss, (trainable, non_trainable, optimizer_variables)

    state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
             [v.value for v in optimizer.variables])
    return step, state


def tf_trainer(model, optimizer, jit_compile):
    import tensorflow as tf

    from bertprep.trainer.tasks import compute_loss

    @tf.function(jit_compile=jit_compile)
    def step(state, batch):
        with tf.GradientTape() as tape:
            loss = compute_loss("pretraining", model(batch, training=True), batch)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        return loss, state

    return step, ()


def run(args):
    import keras
    from keras import ops

    config_values = dict(BASE if args.base else SMALL)
    _, model, optimizer = build(config_values, args.precision)
    backend, platform, kind = device_description()
    batch = synthetic_batch(args.batch_size, args.seq_length, args.predictions, config_values["vocab_size"])
    if backend == "jax":
        import jax.numpy as jnp

        step, state = jax_trainer(model, optimizer)
        batch = {name: jnp.asarray(value) for name, value in batch.items()}
    else:
        import tensorflow as tf

        step, state = tf_trainer(model, optimizer, jit_compile=not args.no_xla)
        batch = {name: tf.constant(value) for name, value in batch.items()}
    losses = []
    for _ in range(args.warmup_steps):  # compile and warm up
        loss, state = step(state, batch)
    losses.append(float(ops.convert_to_numpy(loss)))
    started = time.perf_counter()
    for _ in range(args.steps):
        loss, state = step(state, batch)
    final_loss = float(ops.convert_to_numpy(loss))  # waits for the device
    elapsed = time.perf_counter() - started
    sequences_per_second = args.steps * args.batch_size / elapsed
    flops = model_flops_per_sequence(config_values, args.seq_length, args.predictions)
    measure_dtype = "bfloat16" if "bfloat16" in args.precision else "float16" if "float16" in args.precision \
        else "float32"
    peak, peak_source = peak_flops(platform, kind, args.precision, measure_dtype)
    if platform != "gpu":  # measure again after the run and keep the best: other processes share the CPU
        peak = max(peak, measure_matmul_flops(measure_dtype))
    if args.peak_tflops:
        peak, peak_source = args.peak_tflops * 1e12, "given with --peak-tflops"
    params = sum(int(ops.convert_to_numpy(ops.size(v))) for v in model.trainable_variables)
    result = {
        "config": "BERT-base" if args.base else "small", "backend": backend, "device": kind,
        "precision": args.precision, "xla": backend == "jax" or not args.no_xla,
        "batch_size": args.batch_size, "seq_length": args.seq_length, "predictions": args.predictions,
        "parameters": params, "steps": args.steps, "seconds": round(elapsed, 3),
        "sequences_per_second": round(sequences_per_second, 2),
        "model_tflops_per_second": round(sequences_per_second * flops / 1e12, 3),
        "gflops_per_sequence": round(flops / 1e9, 3),
        "peak_tflops": round(peak / 1e12, 3), "peak_source": peak_source,
        "mfu": round(sequences_per_second * flops / peak, 4),
        "loss_after_warmup": round(losses[0], 4), "loss_at_end": round(final_loss, 4),
    }
    keras.mixed_precision.set_global_policy("float32")
    return result


def write_synthetic_pretraining(directory, records, seq_length, predictions, vocab):
    """`records` synthetic pretraining records as a bertprep output directory (shards, info.json, _COMPLETE)."""
    from bertprep import schemas
    from bertprep.io.output import ShardWriter

    os.makedirs(directory, exist_ok=True)
    config = {"max_seq_length": seq_length, "max_predictions_per_seq": predictions}
    schema = schemas.for_kind("pretraining", config)
    batch = synthetic_batch(records, seq_length, predictions, vocab)
    writer = ShardWriter(os.path.join(directory, "pretraining-00000-of-00001.tfrecord"))
    for row in range(records):
        writer.write(schema.encode({name: value[row].tolist() for name, value in batch.items()}))
    shard = writer.close()
    info = {"kind": "pretraining", "schema": schema.to_json(), "config": config, "counts": {"records_out": records},
            "shards": [{"file": os.path.basename(shard["path"]), "records": shard["records"]}]}
    with open(os.path.join(directory, "info.json"), "w") as handle:
        json.dump(info, handle)
    with open(os.path.join(directory, "_COMPLETE"), "w") as handle:
        handle.write("{}")
    return directory


def run_replicas(args):
    """The real trainer (`bertprep train`'s loop, its input pipeline included) on 1 and on N replicas, the same
    global batch, one process: examples/s side by side and their ratio. On CPU the replicas are logical
    devices over the same cores (what the distribution costs, not a speed-up); on GPUs, one per GPU."""
    import tempfile

    import tensorflow as tf

    counts = [int(value) for value in args.replicas.split(",")]
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * max(counts))
    from bertprep.trainer.config import BertConfig
    from bertprep.trainer.loop import TrainConfig, train

    root = tempfile.mkdtemp(prefix="bench_train_replicas-")
    config_values = dict(BASE if args.base else SMALL)
    BertConfig(**config_values).to_json_file(os.path.join(root, "bert_config.json"))
    data = write_synthetic_pretraining(os.path.join(root, "data"), 4 * args.batch_size, args.seq_length,
                                       args.predictions, config_values["vocab_size"])
    flops = model_flops_per_sequence(config_values, args.seq_length, args.predictions)
    rows = []
    for replicas in counts:
        if gpus and replicas > len(gpus):
            continue
        strategy = "one_device" if replicas == 1 else "mirrored"
        summary = train(TrainConfig(task="pretraining", data=data, bert_config=os.path.join(root, "bert_config.json"),
                                    output=os.path.join(root, f"replicas{replicas}"), train_batch_size=args.batch_size,
                                    num_train_steps=2 * args.steps, steps_per_loop=args.steps, log_every=args.steps,
                                    save_checkpoints_steps=10 ** 9, strategy=strategy, precision=args.precision,
                                    jit_compile=not args.no_xla, verbose=False))
        timed = summary["losses"][-1]  # the first chunk holds the compilation
        rows.append({"replicas": summary["replicas"], "examples_per_second": round(timed["examples_per_second"], 2),
                     "model_tflops_per_second": round(timed["examples_per_second"] * flops / 1e12, 4)})
    for row in rows:
        row["ratio_to_first"] = round(row["examples_per_second"] / rows[0]["examples_per_second"], 3)
    return {"config": "BERT-base" if args.base else "small", "device": "GPU" if gpus else "CPU",
            "precision": args.precision, "global_batch": args.batch_size, "seq_length": args.seq_length,
            "timed_steps": args.steps, "gflops_per_sequence": round(flops / 1e9, 3), "runs": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", action="store_true", help="BERT-base (default on GPU); else the small config")
    parser.add_argument("--small", action="store_true", help="the small config (default on CPU)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 8 (small, CPU) or 128 (base)")
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--predictions", type=int, default=20, help="masked positions per sequence")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 10 CPU, 50 GPU)")
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--precision", default=None,
                        choices=("float32", "mixed_float16", "mixed_bfloat16"),
                        help="default float32 on CPU, mixed_bfloat16 on GPU")
    parser.add_argument("--xla", action=argparse.BooleanOptionalAction, default=None,
                        help="TensorFlow: jit_compile the step (default: on GPU only; XLA is slower on CPU)")
    parser.add_argument("--peak-tflops", type=float, help="override the peak used for MFU")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--replicas", help="e.g. 1,2: the real trainer on that many replicas (same global batch), "
                        "examples/s side by side with the ratio (TensorFlow; CPU: logical devices, GPU: one each)")
    args = parser.parse_args(argv)
    if args.replicas:
        args.precision = args.precision or "float32"
        args.batch_size = args.batch_size or 16
        args.steps = args.steps or 10
        args.no_xla = not args.xla
        result = run_replicas(args)
        print(json.dumps(result) if args.json else "\n".join(
            [f"{result['config']} BERT, {result['device']}, {result['precision']}, global batch "
             f"{result['global_batch']} × {result['seq_length']} tokens, {result['timed_steps']} timed steps",
             "  replicas  examples/s  ratio  model TFLOP/s"] +
            [f"  {row['replicas']:>8}  {row['examples_per_second']:>10.1f}  {row['ratio_to_first']:>5.2f}  "
             f"{row['model_tflops_per_second']:>13.4f}" for row in result["runs"]] + [json.dumps(result)]))
        return
    import keras  # noqa: F401  (backend chosen by KERAS_BACKEND)

    _, platform, _ = device_description()
    on_gpu = platform == "gpu"
    args.base = args.base or (on_gpu and not args.small)
    args.precision = args.precision or ("mixed_bfloat16" if on_gpu else "float32")
    args.batch_size = args.batch_size or (128 if args.base and on_gpu else 32 if args.base else 8)
    args.steps = args.steps or (50 if on_gpu else 10)
    args.no_xla = not (on_gpu if args.xla is None else args.xla)
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['config']} BERT ({result['parameters']:,} parameters), {result['backend']} on {result['device']}, "
          f"{result['precision']}, batch {result['batch_size']} × {result['seq_length']} tokens")
    print(f"  {result['sequences_per_second']:.1f} sequences/s, {result['model_tflops_per_second']:.3f} model TFLOP/s "
          f"({result['gflops_per_sequence']:.2f} GFLOP per sequence)")
    print(f"  MFU {100 * result['mfu']:.1f}% of {result['peak_tflops']:.2f} TFLOP/s ({result['peak_source']})")
    print(f"  loss {result['loss_after_warmup']:.3f} → {result['loss_at_end']:.3f} over {result['steps']} steps")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
