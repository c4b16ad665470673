"""The cluster a multi-worker training run belongs to, as the platforms that start the workers describe it.

TensorFlow reads `TF_CONFIG` ({"cluster": {"chief": [...], "worker": [...]}, "task": {"type", "index"}}),
which a Kubernetes Job (or anyone starting the workers by hand) sets. Vertex AI custom training sets
`CLUSTER_SPEC` on every replica of every worker pool, with pools named `workerpool0`..`workerpool3`
(primary replica, workers, parameter servers, evaluators) and a `task` naming this replica's pool and index;
it sets `TF_CONFIG` too for its own TensorFlow containers, but a custom container cannot count on it.
When `TF_CONFIG` is missing and `CLUSTER_SPEC` is there, `TF_CONFIG` is written from it before the
strategy is made. No TensorFlow import at the top: this runs before TensorFlow starts.

Also here: which worker owns the output (the chief), where the others save, and the one line a worker
ends with when another worker of the cluster stopped.
"""
import json
import os

from bertprep.errors import BertprepError

# Vertex AI's worker pools, in the order of `workerPoolSpecs`, and the TF_CONFIG task types they are.
VERTEX_POOLS = {"workerpool0": "chief", "workerpool1": "worker", "workerpool2": "ps", "workerpool3": "evaluator"}


def tf_config_from_cluster_spec(cluster_spec: str) -> dict:
    """The TF_CONFIG dict for Vertex AI's CLUSTER_SPEC (a JSON string)."""
    try:
        spec = json.loads(cluster_spec)
        cluster, task = spec["cluster"], spec["task"]
        pool, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise BertprepError(f"CLUSTER_SPEC is not a Vertex AI cluster spec ({type(error).__name__}: {error})") \
            from None
    unknown = sorted(set(cluster) - set(VERTEX_POOLS))
    if unknown or pool not in VERTEX_POOLS:
        raise BertprepError(f"CLUSTER_SPEC names worker pool {(unknown or [pool])[0]!r}; expected "
                            f"{', '.join(VERTEX_POOLS)}")
    if "workerpool2" in cluster:
        raise BertprepError("CLUSTER_SPEC has parameter servers (workerpool2); multi_worker_mirrored "
                            "training uses workerpool0 and workerpool1 only")
    converted = {VERTEX_POOLS[name]: list(addresses) for name, addresses in cluster.items() if addresses}
    return {"cluster": converted, "task": {"type": VERTEX_POOLS[pool], "index": index},
            "environment": spec.get("environment", "cloud")}


def ensure_tf_config(environ=None) -> str:
    """Make sure TF_CONFIG is set (from CLUSTER_SPEC when only that is); returns where it came from."""
    environ = os.environ if environ is None else environ
    if environ.get("TF_CONFIG"):
        return "TF_CONFIG"
    if environ.get("CLUSTER_SPEC"):
        environ["TF_CONFIG"] = json.dumps(tf_config_from_cluster_spec(environ["CLUSTER_SPEC"]))
        return "CLUSTER_SPEC"
    raise BertprepError("--strategy multi_worker_mirrored needs the cluster in TF_CONFIG (or Vertex AI's "
                        "CLUSTER_SPEC); neither is set")


def describe_task(environ=None) -> str:
    """'worker 1 of 2' for messages (TF_CONFIG must be set)."""
    environ = os.environ if environ is None else environ
    config = json.loads(environ["TF_CONFIG"])
    task = config.get("task", {})
    count = sum(len(addresses) for kind, addresses in config.get("cluster", {}).items()
                if kind in ("chief", "worker"))
    return f"{task.get('type', '?')} {task.get('index', '?')} of {count}"


def is_chief(strategy) -> bool:
    """Multi-worker training: only the chief (or worker 0 without a chief) owns the real checkpoints."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and resolver.task_id == 0 and not has_chief


def scratch_directory(strategy):
    """Every worker must take part in saving a checkpoint; the others write theirs to a local scratch
    directory (removed at the end), never into the output that the chief owns."""
    import tempfile

    resolver = strategy.cluster_resolver
    return tempfile.mkdtemp(prefix=f"bertprep-{resolver.task_type}{resolver.task_id}-checkpoints-")


def remove_scratch(directory):
    import shutil

    shutil.rmtree(directory, ignore_errors=True)


# What TensorFlow raises in a worker whose peer stopped: the coordination service's heartbeat names the
# lost task (UnavailableError), or the collective it was in is aborted or times out.
_PEER_LOST = ("UnavailableError", "AbortedError", "CancelledError", "DeadlineExceededError")
_PEER_LOST_TEXT = ("stopped sending heartbeats", "Collective ops is aborted")


class peer_failures_named:  # noqa: N801  (used as `with peer_failures_named(...)`)
    """Under multi_worker_mirrored, a worker that stopped ends the others' runs with one line naming it."""

    def __init__(self, strategy_name):
        self.strategy_name = strategy_name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or self.strategy_name != "multi_worker_mirrored":
            return False
        if kind.__name__ not in _PEER_LOST and not any(text in str(error) for text in _PEER_LOST_TEXT):
            return False
        import re

        task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
        me = (str(task.get("type")), str(task.get("index")))
        lost = sorted(set(re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", str(error))) - {me})
        named = ", ".join(f"{job} {index}" for job, index in lost) or "another worker"
        raise BertprepError(f"{describe_task()}: training stopped because {named} of the cluster stopped "
                            f"({kind.__name__}); restart every worker with the same --output to resume from the "
                            f"last checkpoint") from None
