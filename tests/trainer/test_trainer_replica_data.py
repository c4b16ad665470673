"""The replicas' share of the data: one seeded stream cut into global batches, each input pipeline keeping
its replicas' rows. Global batches are those of one device, every record is trained on by exactly one
replica per epoch, epochs are reshuffled apart, and evaluation pads the last batch with rows not real."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from bertprep.trainer import data as data_lib  # noqa: E402
from trainer_data import classifier_records, write_dataset  # noqa: E402

RECORDS, GLOBAL_BATCH = 40, 8


@pytest.fixture(scope="module")
def info(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("replica_data") / "train")
    write_dataset(directory, "classifier", {"max_seq_length": 16}, classifier_records(RECORDS), num_shards=3)
    return data_lib.read_dataset_info(directory)


def _context(pipelines, pipeline, replicas):
    return tf.distribute.InputContext(num_input_pipelines=pipelines, input_pipeline_id=pipeline,
                                      num_replicas_in_sync=replicas)


def _replica_batches(info, steps, context=None, skip=0):
    """Per step, the example ids of each of this pipeline's replicas, and the normalizers they got."""
    dataset = data_lib.make_training_dataset(info, GLOBAL_BATCH, "classifier", seed=7, skip_records=skip,
                                             input_context=context)
    elements = list(dataset.take(steps * (context.num_replicas_in_sync // context.num_input_pipelines
                                          if context else 1)))
    return [(features["example_id"].numpy().tolist(), float(normalizers["real_rows"].numpy()))
            for features, normalizers in elements]


def test_replicas_share_out_the_one_device_batches(info):
    steps = 2 * RECORDS // GLOBAL_BATCH  # two epochs
    one_device = [ids for ids, _ in _replica_batches(info, steps)]
    mirrored = _replica_batches(info, steps, _context(1, 0, 2))
    workers = [_replica_batches(info, steps, _context(2, index, 2)) for index in range(2)]
    for step, batch in enumerate(one_device):
        assert mirrored[2 * step][0] + mirrored[2 * step + 1][0] == batch
        assert workers[0][step][0] + workers[1][step][0] == batch
        assert len(workers[0][step][0]) == len(workers[1][step][0]) == GLOBAL_BATCH // 2
        # every replica divides by the global batch's count of real examples, not its own
        assert workers[0][step][1] == workers[1][step][1] == mirrored[2 * step][1] == GLOBAL_BATCH
    per_epoch = RECORDS // GLOBAL_BATCH
    epochs = [sum(one_device[start:start + per_epoch], []) for start in (0, per_epoch)]
    for epoch in epochs:
        assert sorted(epoch) == list(range(RECORDS))  # each record once per epoch, so by exactly one replica
    assert epochs[0] != epochs[1]  # reshuffled apart
    # a resumed run that skips what three global batches consumed goes on with the fourth
    resumed = _replica_batches(info, 1, _context(2, 1, 2), skip=3 * GLOBAL_BATCH)
    assert resumed[0][0] == workers[1][3][0]


def test_evaluation_pads_the_last_batch_with_rows_not_real(info):
    seen = []
    for pipeline in range(2):
        dataset = data_lib.make_eval_dataset(info, 12, input_context=_context(2, pipeline, 2))
        for features in dataset:
            assert features["input_ids"].shape == (6, 16)  # static: every batch has the full size
            real = features[data_lib.ROW_IS_REAL].numpy().astype(bool)
            seen.extend(np.asarray(features["example_id"])[real].tolist())
    assert sorted(seen) == list(range(RECORDS))


def test_fewer_shards_than_workers_still_gives_every_worker_its_rows(tmp_path):
    directory = write_dataset(str(tmp_path / "one"), "classifier", {"max_seq_length": 16}, classifier_records(16))
    info = data_lib.read_dataset_info(directory)
    shares = [_replica_batches(info, 2, _context(4, index, 4)) for index in range(4)]
    assert all(len(share[0][0]) == GLOBAL_BATCH // 4 for share in shares)
    assert sorted(sum((share[0][0] + share[1][0] for share in shares), [])) == list(range(16))
