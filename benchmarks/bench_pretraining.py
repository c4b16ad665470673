"""Whole-run speed and memory of `bertprep pretraining` at scale, 1 and more workers, beside the original.

Corpora: the shared People's Daily corpus repeated in one file up to 24 MB and 100 MB (cut at a document
boundary; --sizes), dupe_factor 5, max_seq_length 128, the Chinese vocabulary. For each size and worker
count (1 and 2, and up to the machine's cores: --workers) it prints, per whole command (start-up, Beam,
report included):
  - instances, wall seconds, CPU seconds of all its processes, instances/s, the speed-up over 1 worker;
  - the peak RSS of every process: the launching process, the fork server and the workers of a
    multi-worker run, the worker commands (read from /proc while it runs);
  - the build stage from the job's report.json (its CPU seconds and its span), apart from start-up;
  - that the shards are byte-identical across worker counts.
At 24 MB, create_pretraining_data.py side by side: run when --original names a google-research/bert
checkout (its create_pretraining_data.py and tokenization.py, run under TF2's compat.v1), else the
shared README's rate (about 3,900 instances/s on 6.4 MB, 1.13 GB peak RSS growing about 80 MB per MB of
input), marked as not run. The load average is printed around every run: on a shared machine every wall
figure moves with it, so read the figures of one run of this script against each other.

    python benchmarks/bench_pretraining.py [--sizes 24,100] [--workers 1,2] [--original DIR] [--repeats 1]
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import psutil
from process_tree import process_tree

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("BERTPREP_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
REFERENCE = {"instances_per_s": 3900, "corpus_mb": 6.4, "peak_rss_mb": 1130, "rss_mb_per_input_mb": 80}
SETTINGS = ["--max-seq-length", "128", "--max-predictions-per-seq", "20", "--masked-lm-prob", "0.15",
            "--dupe-factor", "5"]
# The original under TF2: its `import tensorflow as tf` gets tf.compat.v1 (gfile, flags, logging, app).
ORIGINAL_SHIM = """
import runpy, sys
import tensorflow.compat.v1 as tf1
sys.modules["tensorflow"] = tf1
sys.path.insert(0, sys.argv[1])
script = sys.argv[1] + "/create_pretraining_data.py"
sys.argv = [script] + sys.argv[2:]
runpy.run_path(script, run_name="__main__")
"""


def make_corpus(source: str, size_mb: float, path: str) -> str:
    """`source` repeated up to size_mb MB (10**6 bytes) in one file, cut after a whole document."""
    with open(source, "rb") as handle:
        text = handle.read()
    if not text.endswith(b"\n\n"):
        text = text.rstrip(b"\n") + b"\n\n"  # a blank line between copies: documents stay apart
    limit = int(size_mb * 1e6)
    with open(path, "wb") as out:
        written = 0
        while written < limit:
            end = len(text) if written + len(text) <= limit else text.rfind(b"\n\n", 0, limit - written) + 2
            if end < 2:  # no whole document fits in what is left
                break
            out.write(text[:end])
            written += end
    return path


class ProcessTreeMemory:
    """Peak RSS (VmHWM) of every process under `root` while it runs, polled from /proc."""

    def __init__(self, root: int, interval: float = 0.05):
        self.root = root
        self.interval = interval
        self.processes = {}  # pid -> {"parent", "command", "peak_kb"}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self

    def _poll(self):
        while not self._stop.is_set():
            members = process_tree(self.root)
            parents = {}
            for process in members:
                try:
                    parents[process.pid] = process.ppid()
                except psutil.NoSuchProcess:
                    continue
            tree = set(parents)
            for pid in tree:
                try:
                    with open("/proc/%d/status" % pid) as handle:
                        peak = int(re.search(r"VmHWM:\s+(\d+)", handle.read()).group(1))
                    with open("/proc/%d/cmdline" % pid, "rb") as handle:
                        command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
                except (OSError, AttributeError):
                    continue
                entry = self.processes.setdefault(pid, {"parent": parents.get(pid), "command": command, "peak_kb": 0})
                entry["peak_kb"] = max(entry["peak_kb"], peak)
            self._stop.wait(self.interval)

    def by_role(self):
        """{role: [peak MB, ...]}: launching process, fork server, workers, worker commands."""
        roles = {}
        root_command = self.processes.get(self.root, {}).get("command")
        servers = {pid for pid, entry in self.processes.items()
                   if entry["parent"] == self.root and entry["command"] == root_command}
        for pid, entry in sorted(self.processes.items()):
            if pid == self.root:
                role = "launching process"
            elif pid in servers:
                role = "fork server"
            elif entry["parent"] in servers:
                role = "worker"
            elif "bertprep.runtime.local_worker" in entry["command"] and not entry["command"].startswith(("/bin/sh", "sh ")):
                role = "worker command"
            else:
                continue  # the shell Beam starts each worker command with
            roles.setdefault(role, []).append(entry["peak_kb"] / 1024.0)
        return roles


def run_command(arguments, **popen):
    """(wall s, CPU s of the process and its descendants, memory by role, stderr text, exit status)."""
    started = time.perf_counter()
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **popen)
    memory = ProcessTreeMemory(process.pid)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    memory.stop()
    roles = memory.by_role()
    roles.setdefault("launching process", [usage.ru_maxrss / 1024.0])
    return wall, usage.ru_utime + usage.ru_stime, roles, stderr.decode("utf-8", "replace"), \
        os.waitstatus_to_exitcode(status)


def bertprep_run(corpus, vocab, output, workers):
    arguments = [sys.executable, "-c", "from bertprep.cli import console_main; console_main()", "pretraining",
                 "--input", corpus, "--vocab", vocab, "--output", output, "--overwrite",
                 "--workers", str(workers)] + SETTINGS
    load = os.getloadavg()[0]
    wall, cpu, roles, stderr, status = run_command(arguments)
    if status:
        sys.stderr.write(stderr[-3000:])
        raise SystemExit("pretraining run failed (exit %d)" % status)
    with open(os.path.join(output, "info.json")) as handle:
        info = json.load(handle)
    with open(os.path.join(output, "report.json")) as handle:
        timing = json.load(handle)["timing"]
    digest = hashlib.sha256()
    for name in sorted(os.listdir(output)):
        if name.startswith("pretraining-"):
            with open(os.path.join(output, name), "rb") as handle:
                digest.update(handle.read())
    window = timing["build_window"]
    return {"wall": wall, "cpu": cpu, "roles": roles, "instances": info["counts"]["records_out"],
            "build_cpu": timing["build_time"]["cpu_seconds"],
            "build_span": window["last_finished_at"] - window["first_started_at"], "digest": digest.hexdigest(),
            "load": (load, os.getloadavg()[0])}


def original_run(original_dir, corpus, vocab, output):
    arguments = [sys.executable, "-c", ORIGINAL_SHIM, original_dir, "--input_file=" + corpus,
                 "--output_file=" + output, "--vocab_file=" + vocab, "--do_lower_case=True",
                 "--max_seq_length=128", "--max_predictions_per_seq=20", "--masked_lm_prob=0.15",
                 "--random_seed=12345", "--dupe_factor=5"]
    load = os.getloadavg()[0]
    wall, cpu, roles, stderr, status = run_command(arguments, env=dict(os.environ, CUDA_VISIBLE_DEVICES="",
                                                                        TF_CPP_MIN_LOG_LEVEL="2"))
    found = re.findall(r"Wrote (\d+) total instances", stderr)
    if status or not found:
        sys.stderr.write(stderr[-3000:])
        raise SystemExit("the original failed (exit %d)" % status)
    return {"wall": wall, "cpu": cpu, "roles": roles, "instances": int(found[-1]), "load": (load, os.getloadavg()[0])}


def memory_text(roles):
    order = ("launching process", "fork server", "worker", "worker command")
    return "; ".join("%s %s MB" % (role + ("s" if len(roles[role]) > 1 else ""),
                                   " / ".join("%.0f" % value for value in sorted(roles[role], reverse=True)))
                     for role in order if role in roles)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=os.path.join(SHARED, "data", "corpus", "zh_peopledaily_docs.txt"))
    parser.add_argument("--vocab", default=os.path.join(SHARED, "data", "vocab", "zh_vocab.txt"))
    parser.add_argument("--sizes", default="24,100", help="corpus sizes in MB, comma-separated")
    parser.add_argument("--workers", default=None, help="worker counts (default: 1, 2, 4, ... up to the cores)")
    parser.add_argument("--original", default=os.environ.get("BERTPREP_ORIGINAL_BERT"),
                        help="a google-research/bert checkout: run its create_pretraining_data.py at the first size")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each configuration, interleaved (medians)")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    counts = [int(n) for n in args.workers.split(",")] if args.workers else \
        [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= max(2, cores)]
    sizes = [float(size) for size in args.sizes.split(",")]
    print("machine: %d cores, load average %.1f / %.1f / %.1f at start (other work on the machine slows every "
          "figure)" % ((cores,) + os.getloadavg()))
    scratch = tempfile.mkdtemp(prefix="bench_pretraining_")
    try:
        for index, size in enumerate(sizes):
            corpus = make_corpus(args.corpus, size, os.path.join(scratch, "corpus_%gMB.txt" % size))
            input_mb = os.path.getsize(corpus) / 1e6
            print("\n%.1f MB corpus (%s repeated), dupe_factor 5, max_seq_length 128:" % (
                input_mb, os.path.basename(args.corpus)))
            runs = {workers: [] for workers in counts}
            for _ in range(args.repeats):
                for workers in counts:
                    runs[workers].append(bertprep_run(corpus, args.vocab, os.path.join(scratch, "out"), workers))
            median = {workers: sorted(found, key=lambda run: run["wall"])[len(found) // 2]
                      for workers, found in runs.items()}
            one = median[counts[0]]
            for workers in counts:
                result = median[workers]
                print("  bertprep, %2d worker(s): %d instances, %.1f s wall, %.1f CPU s, %d instances/s, %.2fx %d "
                      "worker(s) (load %.1f → %.1f)" % (
                          workers, result["instances"], result["wall"], result["cpu"],
                          result["instances"] / result["wall"], one["wall"] / result["wall"], counts[0],
                          result["load"][0], result["load"][1]))
                print("      build stage %.1f CPU s, span %.1f s; peak RSS: %s" % (
                    result["build_cpu"], result["build_span"], memory_text(result["roles"])))
            digests = {run["digest"] for found in runs.values() for run in found}
            print("  shards byte-identical across worker counts: %s" % ("yes" if len(digests) == 1 else "NO"))
            if index:
                continue
            if args.original:
                result = original_run(args.original, corpus, args.vocab, os.path.join(scratch, "original.tfrecord"))
                print("  original create_pretraining_data.py: %d instances, %.1f s wall, %.1f CPU s, %d instances/s "
                      "(bertprep with 1 worker: %.1fx), peak RSS %s (load %.1f → %.1f)" % (
                          result["instances"], result["wall"], result["cpu"], result["instances"] / result["wall"],
                          result["wall"] / one["wall"] * one["instances"] / result["instances"],
                          memory_text(result["roles"]), result["load"][0], result["load"][1]))
            else:
                print("  original create_pretraining_data.py: not run (give --original DIR); the shared README's rate "
                      "of %d instances/s would take about %.0f s for %d instances (bertprep with 1 worker: %.1fx), "
                      "peak RSS about %.1f GB" % (
                          REFERENCE["instances_per_s"], one["instances"] / REFERENCE["instances_per_s"],
                          one["instances"], one["instances"] / one["wall"] / REFERENCE["instances_per_s"],
                          (REFERENCE["peak_rss_mb"] + REFERENCE["rss_mb_per_input_mb"]
                           * (input_mb - REFERENCE["corpus_mb"])) / 1000.0))
        print("\nload average %.1f / %.1f / %.1f at the end" % os.getloadavg())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
