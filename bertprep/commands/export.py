"""`bertprep export`: a training checkpoint → weights only (no optimizer state) + a serving SavedModel."""
from bertprep.options.train import ExportOptions

COMMAND = "export"
HELP = "write a weights-only checkpoint and a SavedModel from a training checkpoint"
DESCRIPTION = """Drop the optimizer state (Adam slots: two thirds of a training checkpoint) and write:
  OUTPUT/model.ckpt.*     weights, loadable by `bertprep train --init-checkpoint` and `bertprep embed --model`
  OUTPUT/saved_model/     serving_default(input_ids, input_mask, segment_ids) → sequence_output,
                          pooled_output, encoder_outputs [batch, layers, length, hidden]
  OUTPUT/bert_config.json, model.json, vocab.txt (when found)
  OUTPUT/_COMPLETE        written last, when the export succeeded"""


add_arguments = ExportOptions.add_arguments


def run(args) -> int:
    """The registry's in-process job: plan(options), then run(options, plan), whose value is the exit status."""
    from bertprep.pipelines import registry

    job = registry.pipeline(COMMAND)
    options = job.options_class().from_namespace(args)
    return job.run_function()(options, job.plan_function()(options))
