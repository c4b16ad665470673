"""Progress through a job's long stage (pre-training's buckets), after reading is over."""
import io
import json
import os
import re
import subprocess
import sys
import threading
import time

from bertprep import cli

from bertprep import progress
from bertprep.runtime import progress_monitor


def test_stage_counts_are_published_per_process_and_summed(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_DIR_ENV, str(tmp_path))
    assert progress_monitor.item_stage(progress_monitor.stages_progress(str(tmp_path))) is None  # nothing announced
    progress.announce_stage("building", 16, unit="buckets", item="instances")
    # announced, not started
    assert progress_monitor.item_stage(progress_monitor.stages_progress(str(tmp_path))) is None
    for _ in range(5):
        progress.note_stage("building", done=0, items=100)
    progress.note_stage("building", at_once=True)  # a finished bucket is published at once
    other = {"building": {"done": 3, "total": None, "unit": "buckets", "items": 2345, "started": time.time(),
                          "finished": None}}
    (tmp_path / "stage-999999").write_text(json.dumps(other))  # another worker process
    (tmp_path / "stage-888888.1.tmp").write_text("{}")  # a half-written temporary is ignored
    name, state = progress_monitor.item_stage(progress_monitor.stages_progress(str(tmp_path)))
    assert (name, state["done"], state["total"], state["items"]) == ("building", 4, 16, 2845)
    # The build stage is shown beside the reading, not as the stage after it.
    assert progress_monitor.current_stage(progress_monitor.stages_progress(str(tmp_path))) is None


def test_the_stage_line_gives_units_rate_and_time_left():
    state = {"done": 4, "total": 16, "unit": "buckets", "items": 30000, "item": "instances"}
    assert progress_monitor.format_item_stage("building", state, 2.0) == (
        "building: 4/16 buckets, 30,000 instances at 15,000/s, about 0:00:06 left")
    state["done"] = 0
    assert progress_monitor.format_item_stage("building", state, 2.0).endswith(", time left to come")
    state["done"], state["items"] = 16, 120000
    assert progress_monitor.format_item_stage("building", state, 8.0) == ("building: 16/16 buckets, 120,000 instances "
                                                                  "at 15,000/s")


def test_the_monitor_shows_the_stage_once_it_starts_and_its_rate_stops_with_it(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_DIR_ENV, raising=False)
    stream = io.StringIO()
    with progress_monitor.ProgressMonitor(mode="log", stream=stream, poll_seconds=0.02, log_seconds=0.05) as monitor:
        progress.note_read(50)
        progress.flush(force=True)
        progress.announce_stage("building", 4, unit="buckets", item="instances")
        time.sleep(0.15)  # reading only: no stage in the lines yet

        def build():
            for _ in range(4):
                progress.note_stage("building", done=0, items=1000)
                time.sleep(0.1)
                progress.note_stage("building", at_once=True)
        worker = threading.Thread(target=build)
        worker.start()
        worker.join()
        time.sleep(0.4)  # after the stage (the job's last steps): its rate must not fall
    lines = stream.getvalue().splitlines()
    before = [line for line in lines if "building" not in line]
    during = [line for line in lines if re.search(r"building: [123]/4 buckets, [\d,]+ instances at [\d,]+/s, "
                                                  r"about \d:\d\d:\d\d left$", line)]
    assert before and lines.index(before[0]) == 0 and during, lines
    final = re.match(r"bertprep: done: 50 records read, .*; building: 4/4 buckets, 4,000 instances at "
                     r"([\d,]+)/s$", lines[-1])
    assert final, lines[-1]
    # 4,000 instances in about 0.4 s of stage, not over the whole run (about 1 s).
    assert 5000 <= int(final.group(1).replace(",", "")) <= 20000
    assert monitor.build[1]["done"] == 4


def test_a_pretraining_run_reports_its_build_stage(zh_vocab, shared, tmp_path, monkeypatch, capsys):
    with open(shared / "data" / "corpus" / "zh_peopledaily_docs.txt", encoding="utf-8") as handle:
        corpus = "".join(line for _, line in zip(range(8000), handle))  # under 1 MB: about 14 buckets
    (tmp_path / "corpus.txt").write_text(corpus, encoding="utf-8")
    monkeypatch.setenv(progress_monitor.LOG_INTERVAL_ENV, "0.05")
    code = cli.main(["pretraining", "--input", str(tmp_path / "corpus.txt"), "--vocab", zh_vocab, "--output",
                     str(tmp_path / "out"), "--dupe-factor", "2", "--max-seq-length", "64"])
    assert code == 0
    info = json.loads((tmp_path / "out" / "info.json").read_text())
    done = [line for line in capsys.readouterr().err.splitlines() if line.startswith("bertprep: done:")]
    assert len(done) == 1
    expected = "; building: %d/%d buckets, %s instances at " % (info["config"]["num_shards"],
                                                             info["config"]["num_shards"],
                                                             format(info["counts"]["records_out"], ","))
    assert info["config"]["num_shards"] > 1 and expected in done[0], done[0]


def test_rich_mode_shows_the_stage_on_a_second_line(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_DIR_ENV, raising=False)
    stream = io.StringIO()
    with progress_monitor.ProgressMonitor(mode="rich", stream=stream, poll_seconds=0.02):
        progress.note_read(300)
        progress.announce_stage("building", 4, unit="buckets", item="instances")
        progress.note_stage("building", done=0, items=2500)
        progress.note_stage("building", done=2, at_once=True)
        time.sleep(0.2)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    assert "300 records read" in text
    assert re.search(r"building: 2/4 buckets, 2,500 instances at [\d,]+/s, about \d:\d\d:\d\d left", text)


def test_a_cold_kernel_cache_is_detected(tmp_path):
    """In a numba cache directory of its own the kernel is not compiled yet; in the usual one it is."""
    from bertprep.transforms.pretraining import records as pretraining_records

    pretraining_records.compile_kernel()
    check = "from bertprep.transforms.pretraining import kernel; print(kernel.is_compiled())"
    results = {}
    for label, extra in (("usual", {}), ("cold", {"NUMBA_CACHE_DIR": str(tmp_path)})):
        done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, **extra))
        assert done.returncode == 0, done.stderr
        results[label] = done.stdout.strip()
    assert results == {"usual": "True", "cold": "False"}


def test_the_first_run_says_it_is_compiling_once(zh_vocab, tmp_path, monkeypatch, capsys):
    from bertprep.transforms.pretraining import kernel as instance_kernel

    monkeypatch.setattr(instance_kernel, "is_compiled", lambda: False)  # as on the first run after installing
    (tmp_path / "corpus.txt").write_text("第一句。\n第二句。\n\n第三句。\n第四句。\n", encoding="utf-8")
    code = cli.main(["pretraining", "--input", str(tmp_path / "corpus.txt"), "--vocab", zh_vocab, "--output",
                     str(tmp_path / "out"), "--dupe-factor", "1", "--num-shards", "2"])
    assert code == 0
    notices = [line for line in capsys.readouterr().err.splitlines() if "compiling" in line]
    assert notices == ["bertprep: compiling the pre-training kernel (the first run after installing only, about "
                       "10 s; `make install` compiles it ahead)"]
