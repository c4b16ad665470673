"""Progress through the stages after the reading: counts per process and stage, the monitor's line
(units done of the total, rate, time left), and mask-probs' hooks in its ranker fit and per-character
ranking."""
import io
import json
import re
import threading
import time

from bertprep import progress
from bertprep.runtime import progress_monitor
from bertprep.options.mask_probs import MaskProbsOptions
from bertprep.pipelines import mask_probs
from bertprep.pipelines import registry
from bertprep.runtime import job_path


def test_stages_are_summed_over_processes_and_the_running_one_is_shown(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_DIR_ENV, str(tmp_path))
    with progress.stage("fitting"):
        assert progress_monitor.current_stage(progress_monitor.stages_progress(str(tmp_path)))[0] == "fitting"
    for _ in range(30):
        progress.note_stage("ranking", total=100, unit="characters")
    progress.flush_stages(force=True)
    # Another worker process ranked 20 characters of the same stage.
    other = {"ranking": {"done": 20, "total": 100, "unit": "characters", "started": time.time() - 10,
                         "finished": None}}
    (tmp_path / "stage-999999").write_text(json.dumps(other))
    stages = progress_monitor.stages_progress(str(tmp_path))
    assert stages["fitting"]["finished"] is not None
    assert stages["ranking"]["done"] == 50 and stages["ranking"]["total"] == 100
    name, state = progress_monitor.current_stage(stages)
    assert name == "ranking"
    line = progress_monitor.format_stage_line(name, state, now=state["started"] + 10)
    assert line == "ranking: 50 of 100 characters (50%), 5 characters/s, about 0:00:10 left"
    # A stage whose units are all done is no longer the one shown.
    for _ in range(50):
        progress.note_stage("ranking", total=100, unit="characters")
    progress.flush_stages(force=True)
    assert progress_monitor.current_stage(progress_monitor.stages_progress(str(tmp_path))) is None


def test_the_log_line_follows_the_running_stage_after_the_reading(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_DIR_ENV, raising=False)
    stream = io.StringIO()
    with progress_monitor.ProgressMonitor(mode="log", stream=stream, poll_seconds=0.02, log_seconds=0.05):
        progress.note_read(40)
        progress.flush(force=True)
        time.sleep(0.15)

        def rank():
            for _ in range(10):
                progress.note_stage("ranking candidates", total=10, unit="characters")
                time.sleep(0.04)
        worker = threading.Thread(target=rank)
        worker.start()
        worker.join()
    lines = stream.getvalue().splitlines()
    assert any(line.startswith("bertprep: 40 records read") for line in lines)
    ranking = [line for line in lines if line.startswith("bertprep: ranking candidates: ")]
    assert ranking and all(" of 10 characters (" in line and line.endswith("elapsed") for line in ranking)
    assert lines[-1].startswith("bertprep: done: 40 records read")


def test_mask_probs_reports_its_ranker_fit_and_every_character_it_ranks(tmp_path, monkeypatch):
    noted, entered = [], []
    monkeypatch.setattr(progress, "note_stage", lambda stage, done=1, total=None, unit="items":
                        noted.append((stage, done, total, unit)))
    real_stage = progress.stage

    def recording_stage(name, total=None, unit="items"):
        entered.append((name, total, unit))
        return real_stage(name, total, unit)
    monkeypatch.setattr(progress, "stage", recording_stage)
    corpus = tmp_path / "pairs.tsv"
    corpus.write_text("我再家\t我在家\n他再学校看书\t他在学校看书\n清天\t晴天\n我门 ok\t我们 ok\n", encoding="utf-8")
    config = {"input": str(corpus), "output": str(tmp_path / "out"), "workers": 1, "sources": "phonetic,observed",
              "frequency_prior": "corpus", "top_k": 5, "alpha": 10.0}
    job_path.run(registry.pipeline("mask-probs"), MaskProbsOptions(**config), progress=False, summary=False)
    characters = set("我在家他学校看书晴天们再清门")  # the CJK characters of the correct and wrong sides
    ranked = [item for item in noted if item[0] == mask_probs.RANK_STAGE]
    assert sum(done for _, done, _, _ in ranked) == len(characters)
    assert {(total, unit) for _, _, total, unit in ranked} == {(len(characters), "characters")}
    assert (mask_probs.FIT_STAGE, 3, "confusion pairs") in entered  # 在→再 (twice), 晴→清, 们→门
    assert any(name == mask_probs.MODEL_STAGE for name, _, _ in entered)
    assert any(name.startswith("writing ") for name, _, _ in entered)


def test_the_rich_line_shows_the_running_stage_in_place_of_the_records(monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_DIR_ENV, raising=False)
    stream = io.StringIO()
    with progress_monitor.ProgressMonitor(mode="rich", stream=stream, poll_seconds=0.02):
        progress.note_read(40)
        progress.flush(force=True)
        time.sleep(0.4)  # rich redraws ten times a second
        for _ in range(5):
            progress.note_stage("ranking candidates", total=10, unit="characters")
            time.sleep(0.05)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    assert "40 records read" in text and "ranking candidates: " in text and " of 10 characters" in text
