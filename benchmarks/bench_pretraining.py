"""Speed and memory of `bertprep pretraining` against the original create_pretraining_data.py.

Prints, for the shared People's Daily corpus (6.4 MB) with dupe_factor=5, max_seq_length=128:
  - whole-command runs (start-up, Beam, report included) with 1 and 2 workers: wall and CPU seconds,
    instances/s, and the peak RSS of the largest single process (os.wait4 over the process tree);
  - the same with 4x the corpus (four copies under distinct file names, so distinct document keys);
  - the core rate without Beam: tokenization, instance building, masking and encoding in one process,
    as instances per CPU second (the "per core" figure);
  - the job's own build-stage timing from report.json (timing.build_time, timing.build_window): instances per
    CPU second of that stage and its span with 1 and 2 workers, i.e. throughput and scaling once the
    fixed costs (interpreter and Beam start-up, worker processes, reading, grouping, report) are set apart.
Reference figures (same settings, this machine kind, ../shared/README.md): about 3,900 instances/s
(116,935 instances, 32.8 s wall, one process), 1.13 GB peak RSS growing about 80 MB per MB of input.

    python benchmarks/bench_pretraining.py [--corpus PATH] [--vocab PATH] [--skip-4x] [--dupe-factor 5]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("BERTPREP_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
REFERENCE = {"instances_per_s": 3900, "wall_s": 32.8, "instances": 116_935, "peak_rss_mb": 1130}


def run_command(arguments):
    """Run one command; (wall s, user+sys s, peak RSS MB of its largest process, exit status)."""
    started = time.perf_counter()
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        sys.stderr.write(stderr.decode("utf-8", "replace")[-3000:])
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, process.returncode


def job(inputs, vocab, output, workers, dupe_factor):
    arguments = [sys.executable, "-c", "from bertprep.cli import console_main; console_main()",
                 "pretraining", "--input", ",".join(inputs), "--vocab", vocab, "--output", output, "--overwrite",
                 "--dupe-factor", str(dupe_factor), "--max-seq-length", "128", "--workers", str(workers)]
    wall, cpu, rss, status = run_command(arguments)
    if status:
        raise SystemExit("pretraining run failed (exit %d)" % status)
    with open(os.path.join(output, "info.json")) as handle:
        info = json.load(handle)
    with open(os.path.join(output, "report.json")) as handle:
        timing = json.load(handle)["timing"]
    window = timing["build_window"]
    return {"wall": wall, "cpu": cpu, "rss": rss, "instances": info["counts"]["records_out"],
            "input_mb": sum(os.path.getsize(p) for p in inputs) / 1e6,
            "build_cpu": timing["build_time"]["cpu_seconds"],
            "build_span": window["last_finished_at"] - window["first_started_at"]}


def print_build_stage(label, results):
    """The job's own stage timing (report.json): work per CPU second and scaling without start-up."""
    for workers, result in sorted(results.items()):
        print("  %s, %d worker(s): build stage %.1f CPU s = %d instances per CPU second (%.1fx the reference's "
              "rate); first bucket start to last bucket end %.1f s; the rest of the %.1f s wall is start-up, "
              "reading, grouping and the report (%.1f s)"
              % (label, workers, result["build_cpu"], result["instances"] / result["build_cpu"],
                 result["instances"] / result["build_cpu"] / REFERENCE["instances_per_s"], result["build_span"],
                 result["wall"], result["wall"] - result["build_span"]))
    print("  %s: build stage with 2 workers vs 1: %.2fx (span)" % (label, results[1]["build_span"]
                                                                  / results[2]["build_span"]))


def core_rate(corpus, vocab, dupe_factor):
    """Instances per CPU second for the plain-Python path a worker runs (no Beam, no start-up)."""
    from bertprep.io.readers import iter_documents
    from bertprep.pipelines import pretraining
    from bertprep.seeding import stable_hash
    from bertprep.transforms.pretraining_records import PretrainingStats
    from bertprep.transforms.tokenization import UnknownWordSample

    config = {"vocab": vocab, "max_seq_length": 128, "max_predictions_per_seq": 20, "masked_lm_prob": 0.15,
              "short_seq_prob": 0.1, "dupe_factor": dupe_factor, "seed": 12345}
    parts = pretraining.JobParts(config)
    count = pretraining.num_buckets(os.path.getsize(corpus))
    buckets = {}
    names = pretraining.source_names(corpus)
    for record in iter_documents(corpus):
        key, record = pretraining.keyed_record(record, names)
        buckets.setdefault(stable_hash("bucket", key) % count, []).append((key, record))
    started = time.process_time()
    instances = 0
    tokenize = 0.0
    for bucket, records in sorted(buckets.items()):
        begin = time.process_time()
        sample = UnknownWordSample(parts.tokenizer, pretraining.UNKNOWN_WORD_SENTENCES)  # as the job does
        documents, _, _ = parts.tokenize(records, sample)
        tokenize += time.process_time() - begin
        for encoded in parts.builder.passes(bucket, documents, [], PretrainingStats(128)):
            instances += len(encoded)
    cpu = time.process_time() - started
    return instances, cpu, tokenize


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=os.path.join(SHARED, "data", "corpus", "zh_peopledaily_docs.txt"))
    parser.add_argument("--vocab", default=os.path.join(SHARED, "data", "vocab", "zh_vocab.txt"))
    parser.add_argument("--dupe-factor", type=int, default=5)
    parser.add_argument("--skip-4x", action="store_true", help="skip the 4x-corpus memory run")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print("machine: %d cores, load average %.1f at start (other work on the machine slows every figure)"
          % (os.cpu_count(), load))
    print("reference create_pretraining_data.py: %d instances in %.1f s wall = %d instances/s, peak RSS %d MB"
          % (REFERENCE["instances"], REFERENCE["wall_s"], REFERENCE["instances_per_s"], REFERENCE["peak_rss_mb"]))

    instances, cpu, tokenize = core_rate(args.corpus, args.vocab, args.dupe_factor)
    print("core path, no Beam: %d instances in %.2f CPU s (tokenization %.2f s) = %d instances per CPU second "
          "(%.1fx the reference's rate)" % (instances, cpu, tokenize, instances / cpu,
                                            instances / cpu / REFERENCE["instances_per_s"]))

    scratch = tempfile.mkdtemp(prefix="bench_pretraining_")
    try:
        results = {}
        for workers in (1, 2):
            result = job([args.corpus], args.vocab, os.path.join(scratch, "w%d" % workers), workers,
                         args.dupe_factor)
            results[workers] = result
            print("job, 1x corpus (%.1f MB), %d worker(s): %d instances, %.1f s wall, %.1f CPU s, %d instances/s "
                  "wall (%d per worker), %d instances per CPU s, peak RSS %.0f MB (largest process)"
                  % (result["input_mb"], workers, result["instances"], result["wall"], result["cpu"],
                     result["instances"] / result["wall"], result["instances"] / result["wall"] / workers,
                     result["instances"] / result["cpu"], result["rss"]))
        print("2 workers vs 1: %.2fx (wall)" % (results[1]["wall"] / results[2]["wall"]))
        print_build_stage("1x corpus", results)
        if not args.skip_4x:
            copies = []
            for k in range(4):
                copy = os.path.join(scratch, "copy%d.txt" % k)  # distinct names → distinct document keys
                shutil.copyfile(args.corpus, copy)
                copies.append(copy)
            big = {}
            for workers in (1, 2):
                result = job(copies, args.vocab, os.path.join(scratch, "x4w%d" % workers), workers, args.dupe_factor)
                big[workers] = result
                print("job, 4x corpus (%.1f MB), %d worker(s): %d instances, %.1f s wall, %.1f CPU s, %d instances/s "
                      "wall, peak RSS %.0f MB (1x: %.0f MB; growth %.1f MB per MB of input; the reference grows "
                      "about 80 MB per MB)"
                      % (result["input_mb"], workers, result["instances"], result["wall"], result["cpu"],
                         result["instances"] / result["wall"], result["rss"], results[workers]["rss"],
                         (result["rss"] - results[workers]["rss"]) / (result["input_mb"] - results[1]["input_mb"])))
            print("2 workers vs 1 on the 4x corpus: %.2fx (wall)" % (big[1]["wall"] / big[2]["wall"]))
            print_build_stage("4x corpus", big)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
