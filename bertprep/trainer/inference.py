"""Load any supported model for inference and turn texts' token ids into sentence or token vectors.

`--model` may be a Hugging Face BERT directory (config.json + model.safetensors/pytorch_model.bin),
a Google checkpoint directory or prefix (bert_config.json beside it), or a `bertprep train` /
`bertprep export` output. Pooling: `mean` averages the last layer over real tokens only ([CLS] and
[SEP] included, padding excluded), `max` takes each dimension's largest value over real tokens,
`cls` the last layer's vector at [CLS], `second-to-last-mean` the layer before the last, averaged.

A sentence-transformers directory states how its vectors are made (`sentence_bert_config.json`:
the maximum length; `1_Pooling/config.json`: the pooling; `modules.json`: a Normalize step), and a
Hugging Face tokenizer says whether it lower-cases (`tokenizer_config.json`: `do_lower_case`);
`resolve_settings` follows them unless an option says otherwise, so `bertprep embed` and
`SentenceTransformer(...).encode` agree by default.

Speed: texts are sorted by length and each batch is padded only to its longest text. The model
call is traced once, for any batch and length: measured on this 2-core machine, a trace per padded
length cost ~3.5 s of CPU each (more than the model time of 2,000 short texts), and padding to a few
fixed lengths (16/24/32/48/...) cost 17% more CPU than padding to the longest text.
"""
import dataclasses
import json
import os

import numpy as np

from bertprep.io import fs
from bertprep.errors import BertprepError
from bertprep.trainer import checkpoint_import
from bertprep.trainer.config import BertConfig

POOLINGS = ("cls", "mean", "max", "second-to-last-mean")
DEFAULT_POOLING = "mean"

SENTENCE_BERT_CONFIG = "sentence_bert_config.json"
MODULES = "modules.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
DEFAULT_POOLING_CONFIG = fs.join("1_Pooling", "config.json")
# sentence-transformers' pooling flags (its older config format) and the pooling each one names.
_POOLING_FLAGS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                  "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                  "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}
_SENTENCE_TRANSFORMERS_POOLINGS = ("cls", "mean", "max")


def model_directory(path) -> str:
    """The directory holding the model's files (a checkpoint prefix lives in its directory)."""
    path = os.fspath(path)
    return path if fs.is_dir(path) else fs.dirname(path)


def _find_beside_model(path, names):
    """The first of `names` in the model's directory, else in the directory above it; None when absent."""
    directory = model_directory(path)
    for candidate in (directory, fs.dirname(directory)):
        for name in names:
            if candidate and fs.exists(fs.join(candidate, name)):
                return fs.join(candidate, name)
    return None


def find_bert_config(path) -> str:
    found = _find_beside_model(path, ("bert_config.json", "config.json"))
    if found is None:
        raise BertprepError(f"{path}: no bert_config.json or config.json beside the model")
    return found


def find_vocab(path):
    return _find_beside_model(path, ("vocab.txt",))


@dataclasses.dataclass(frozen=True)
class EmbeddingSettings:
    """How texts become vectors, and why each value was chosen (both go to info.json)."""

    max_seq_length: int
    pooling: str
    normalize: bool
    lower: bool  # whether the tokenizer lower-cases (and, unless --strip-accents says, strips accents)
    sources: dict  # setting name → where its value came from: an option, a model file, or a default

    def to_info(self) -> dict:
        return {name: {"value": getattr(self, name), "from": self.sources[name]}
                for name in ("max_seq_length", "pooling", "normalize", "lower")}


def _read_json(path):
    try:
        return json.loads(fs.read_text(path))
    except (BertprepError, ValueError) as error:
        raise BertprepError(f"{path}: cannot read it as JSON: {error}") from None


def _declared(path, key):
    """`key`'s value in the JSON object file `path`; None when the file or the key is absent."""
    if not fs.exists(path):
        return None
    data = _read_json(path)
    if not isinstance(data, dict):
        raise BertprepError(f"{path}: expected a JSON object")
    return data.get(key)


def _module_kind(module: dict) -> str:
    """"Pooling" for "sentence_transformers.models.Pooling" (the class name; its package moved over versions)."""
    return str(module.get("type", "")).rsplit(".", 1)[-1]


def _read_modules(directory):
    """sentence-transformers' module list (modules.json), or None when the directory has none."""
    path = fs.join(directory, MODULES)
    if not fs.exists(path):
        return None
    modules = _read_json(path)
    if not isinstance(modules, list) or not all(isinstance(module, dict) for module in modules):
        raise BertprepError(f"{path}: expected a list of modules")
    return modules


def _pooling_from_file(path) -> str:
    """The pooling a sentence-transformers Pooling config names (both its config formats)."""
    data = _read_json(path)
    mode = data.get("pooling_mode")
    if mode is None:
        # The older format: one flag per mode; none set means mean, as sentence-transformers reads it.
        mode = [name for key, name in _POOLING_FLAGS.items() if data.get(key)] or ["mean"]
    modes = [mode] if isinstance(mode, str) else list(mode)
    if len(modes) != 1 or modes[0] not in _SENTENCE_TRANSFORMERS_POOLINGS:
        raise BertprepError(f"{path}: pooling {' + '.join(map(str, modes))} is not supported (bertprep embed "
                            f"pools with one of {', '.join(_SENTENCE_TRANSFORMERS_POOLINGS)}); pass --pooling")
    return modes[0]


def resolve_settings(model_path, bert_config: BertConfig, max_seq_length=None, pooling=None,
                     normalize=None, lower=None) -> EmbeddingSettings:
    """Explicit values (not None) win; then the model's sentence-transformers and tokenizer files; then
    BERT defaults.

    Defaults: maximum length from sentence_bert_config.json, else the config's position limit;
    pooling from the Pooling module's config (1_Pooling/config.json), else mean; normalising when
    modules.json ends in a Normalize module, else not; lower-casing as tokenizer_config.json's
    do_lower_case says, else lower-casing (the original BERT's default). A module bertprep cannot compute (a Dense
    layer after pooling, say) is refused unless --pooling is given, since the vectors would differ.
    """
    directory = model_directory(model_path)
    sources = {}
    modules = _read_modules(directory)
    modules_path = fs.join(directory, MODULES)

    if pooling is not None:
        sources["pooling"] = "--pooling"
    else:
        unsupported = [module for module in modules or [] if _module_kind(module) not in
                       ("Transformer", "Pooling", "Normalize")]
        if unsupported:
            names = ", ".join("%s (%s)" % (module.get("path") or module.get("name"), module.get("type"))
                              for module in unsupported)
            raise BertprepError(f"{modules_path}: bertprep embed cannot compute module {names}; pass --pooling "
                                "to embed with the transformer and pooling alone")
        pooling_dirs = [module.get("path") or "" for module in modules or [] if _module_kind(module) == "Pooling"]
        pooling_path = fs.join(directory, pooling_dirs[0], "config.json") if pooling_dirs else \
            fs.join(directory, DEFAULT_POOLING_CONFIG)
        if fs.exists(pooling_path):
            pooling = _pooling_from_file(pooling_path)
            sources["pooling"] = os.path.relpath(pooling_path, directory)
        else:
            pooling = DEFAULT_POOLING
            sources["pooling"] = "default (no sentence-transformers pooling config in the model directory)"
    if pooling not in POOLINGS:
        raise BertprepError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")

    limit = bert_config.max_position_embeddings
    if max_seq_length is not None:
        sources["max_seq_length"] = "--max-seq-length"
    else:
        sentence_bert_path = fs.join(directory, SENTENCE_BERT_CONFIG)
        declared = _declared(sentence_bert_path, "max_seq_length")
        if declared is not None:
            if not isinstance(declared, int) or isinstance(declared, bool):
                raise BertprepError(f"{sentence_bert_path}: max_seq_length {declared!r} is not a whole number")
            max_seq_length = min(declared, limit)
            sources["max_seq_length"] = SENTENCE_BERT_CONFIG + ("" if declared <= limit else
                                                                f" ({declared}, capped at max_position_embeddings)")
        else:
            max_seq_length = limit
            sources["max_seq_length"] = "max_position_embeddings of the model config (no %s)" % SENTENCE_BERT_CONFIG
    if not 2 < max_seq_length <= limit:
        raise BertprepError(f"maximum sequence length {max_seq_length} must be above 2 ([CLS] and [SEP]) and at "
                            f"most the model's max_position_embeddings ({limit})")

    if normalize is not None:
        sources["normalize"] = "--normalize" if normalize else "--no-normalize"
    elif modules is not None:
        normalize = any(_module_kind(module) == "Normalize" for module in modules)
        sources["normalize"] = MODULES + (" (Normalize module)" if normalize else " (no Normalize module)")
    else:
        normalize = False
        sources["normalize"] = "default (no %s in the model directory)" % MODULES

    if lower is not None:
        sources["lower"] = "--lower" if lower else "--no-lower"
    else:
        tokenizer_config_path = fs.join(directory, TOKENIZER_CONFIG)
        lower = _declared(tokenizer_config_path, "do_lower_case")
        if lower is None:
            lower = True
            sources["lower"] = "default (no do_lower_case in a %s in the model directory)" % TOKENIZER_CONFIG
        elif not isinstance(lower, bool):
            raise BertprepError(f"{tokenizer_config_path}: do_lower_case {lower!r} is not true or false")
        else:
            sources["lower"] = TOKENIZER_CONFIG
    return EmbeddingSettings(max_seq_length=int(max_seq_length), pooling=pooling, normalize=bool(normalize),
                             lower=lower, sources=sources)


def load_encoder(path, bert_config_path=None):
    """(BertEncoder with weights, BertConfig, ImportReport) from any supported model path."""
    from bertprep.trainer.loading import require_model
    from bertprep.trainer.model import build_encoder

    path = os.fspath(path)
    require_model(path)
    config = BertConfig.from_json_file(bert_config_path or find_bert_config(path))
    encoder = build_encoder(config)
    report = checkpoint_import.load_pretrained(encoder, path)
    return encoder, config, report


def pool(outputs, input_mask, pooling):
    """Sentence vectors [batch, hidden] from encoder outputs (keras.ops; works on any backend)."""
    from keras import ops

    if pooling == "cls":
        return outputs["sequence_output"][:, 0, :]
    if pooling in ("mean", "max"):
        hidden = outputs["sequence_output"]
    elif pooling == "second-to-last-mean":
        layers = outputs["encoder_outputs"]
        hidden = layers[-2] if len(layers) > 1 else layers[-1]
    else:
        raise BertprepError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")
    mask = ops.expand_dims(ops.cast(input_mask, hidden.dtype), -1)
    if pooling == "max":
        # Padding can never win: it is pushed far below any activation.
        return ops.max(hidden + (mask - 1.0) * 1e9, axis=1)
    return ops.sum(hidden * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)


def plan_batches(lengths, batch_size: int, max_tokens: int = None):
    """[indices into `lengths`]: texts in length order (similar lengths together), at most `batch_size` a
    batch and, with `max_tokens`, at most that many tokens once padded (long texts come fewer at a time)."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    batches, start = [], 0
    while start < len(order):
        end = start + 1
        while end < len(order) and end - start < batch_size and \
                (max_tokens is None or (end - start + 1) * lengths[order[end]] <= max_tokens):
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


_CORES = {"threads": None}


def use_cores(threads: int) -> None:
    """Let the model's math use `threads` cores: numpy's BLAS now, TensorFlow's pools when an Embedder
    imports it (a process's first TF call fixes them); TensorFlow itself is not imported here."""
    from threadpoolctl import threadpool_limits

    _CORES["threads"] = int(threads)
    threadpool_limits(limits=int(threads))


def _tensorflow_cores() -> None:
    import tensorflow as tf

    if _CORES["threads"] is None:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(_CORES["threads"])
        tf.config.threading.set_inter_op_parallelism_threads(_CORES["threads"])
    except RuntimeError:
        pass  # TensorFlow already ran in this process (a test, an in-process worker): its pools stay


BACKENDS = ("auto", "torch", "numpy", "tensorflow")


@dataclasses.dataclass
class Embedded:
    """Vectors for a list of texts, in the order given: sentence vectors and, on request, token vectors."""

    sentence: np.ndarray  # [texts, hidden] float32
    tokens: list = None  # one [real tokens, hidden] float32 array per text, or None


class Embedder:
    """A loaded encoder and its traced model call (built once per worker).

    A batch holds `batch_size` texts of up to FULL_BATCH_LENGTH tokens, fewer longer ones (as many
    padded tokens in all): attention memory grows with the square of the length, and 32 texts of
    512 tokens would need ~1 GB for BERT-base's attention scores alone."""

    FULL_BATCH_LENGTH = 128

    def __init__(self, model_path, settings: EmbeddingSettings, bert_config_path=None, batch_size=32,
                 token_vectors=False, backend="auto"):
        from bertprep.trainer import numpy_encoder

        if backend not in BACKENDS:
            raise BertprepError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        self.settings = settings
        self.batch_size = int(batch_size)
        self.token_vectors = bool(token_vectors)
        model_path = os.fspath(model_path)
        # numpy (no TensorFlow import: ~1 GB and ~3 CPU s less per worker) for a Hugging Face BERT directory
        # read with its own config.json; TensorFlow for every other model.
        own_config = bert_config_path is None or os.path.abspath(bert_config_path) == \
            os.path.abspath(os.path.join(model_path, "config.json"))
        if backend == "auto":
            backend = "tensorflow"
            if own_config and numpy_encoder.supports(model_path):
                backend = "torch" if numpy_encoder.torch_available() else "numpy"
        self.backend = backend
        if backend in ("torch", "numpy"):
            if not numpy_encoder.supports(model_path):
                raise BertprepError(f"{model_path}: the numpy backend needs a Hugging Face BERT directory "
                                    "(config.json, model.safetensors)")
            from bertprep.trainer.loading import require_model

            require_model(model_path)
            self.config = BertConfig.from_json_file(bert_config_path or find_bert_config(model_path))
            self.hidden_size = self.config.hidden_size
            self._run = self._numpy_run(numpy_encoder.TorchBertEncoder(model_path, _CORES["threads"])
                                        if backend == "torch" else numpy_encoder.NumpyBertEncoder(model_path))
        else:
            self._run = self._tensorflow_run(model_path, bert_config_path)

    def _numpy_run(self, encoder):
        from bertprep.trainer import numpy_encoder

        pooling, normalize, token_vectors = self.settings.pooling, self.settings.normalize, self.token_vectors

        def run(input_ids, input_mask):
            layers = encoder(input_ids, input_mask)
            sentence = numpy_encoder.pool(layers, input_mask, pooling)
            if normalize:  # as sentence-transformers' Normalize: x / max(‖x‖, 1e-12)
                sentence = sentence / np.maximum(np.linalg.norm(sentence, axis=-1, keepdims=True), 1e-12)
            return (sentence, layers[-1]) if token_vectors else (sentence,)

        return run

    def _tensorflow_run(self, model_path, bert_config_path):
        import tensorflow as tf

        _tensorflow_cores()
        self.encoder, self.config, self.report = load_encoder(model_path, bert_config_path)
        self.hidden_size = self.config.hidden_size
        encoder, pooling, normalize = self.encoder, self.settings.pooling, self.settings.normalize
        token_vectors = self.token_vectors

        def run(input_ids, input_mask):
            outputs = encoder(input_ids, input_mask, tf.zeros_like(input_ids), training=False)
            sentence = pool(outputs, input_mask, pooling)
            if normalize:  # as sentence-transformers' Normalize: x / max(‖x‖, 1e-12)
                sentence = sentence / tf.maximum(tf.norm(sentence, axis=-1, keepdims=True), 1e-12)
            return (sentence, outputs["sequence_output"]) if token_vectors else (sentence,)

        # One trace for every batch size and length; autograph off: the call has no Python control flow.
        traced = tf.function(run, input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2, autograph=False)
        return lambda input_ids, input_mask: [output.numpy() for output in traced(input_ids, input_mask)]

    def embed_ids(self, id_lists) -> Embedded:
        """Vectors for token-id lists ([CLS] ... [SEP], at most max_seq_length ids each), in their order."""
        lengths = [len(ids) for ids in id_lists]
        sentence = np.zeros((len(id_lists), self.hidden_size), np.float32)
        tokens = [None] * len(id_lists) if self.token_vectors else None
        for indices in plan_batches(lengths, self.batch_size, self.batch_size * self.FULL_BATCH_LENGTH):
            longest = max(lengths[index] for index in indices)
            input_ids = np.zeros((len(indices), longest), np.int32)
            input_mask = np.zeros((len(indices), longest), np.int32)
            for row, index in enumerate(indices):
                input_ids[row, :lengths[index]] = id_lists[index]
                input_mask[row, :lengths[index]] = 1
            outputs = self._run(input_ids, input_mask)
            sentence[indices] = outputs[0]
            if tokens is not None:
                sequence = outputs[1]
                for row, index in enumerate(indices):
                    tokens[index] = sequence[row, :lengths[index]]
        return Embedded(sentence, tokens)
