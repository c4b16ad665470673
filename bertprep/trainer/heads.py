"""Task heads on top of the encoder, and the task models that combine them (keras.ops only).

Each task model takes a dict of features (the names of our TFRecords) and returns a dict of
float32 logits, so losses and metrics never see float16 values.
"""
import keras
from keras import layers, ops

from bertprep.trainer.config import BertConfig
from bertprep.trainer.model import build_encoder, derive_seed, get_activation, initializer

TASKS = ("pretraining", "classifier", "squad", "tagging")


def gather_positions(sequence, positions):
    """Rows of `sequence` [batch, length, hidden] at `positions` [batch, count] → [batch, count, hidden].

    A one-hot matmul rather than index arithmetic: exact, cheap next to the encoder, and it avoids
    keras.ops.add on TensorFlow, which turns `x [B, P] + offsets [B, 1]` into a bias add over the
    last axis when B == P (Keras 3.15), silently gathering the wrong rows.
    """
    selector = ops.one_hot(ops.cast(positions, "int32"), ops.shape(sequence)[1], dtype=sequence.dtype)
    return ops.matmul(selector, sequence)


class MaskedLMHead(layers.Layer):
    """Transform (dense + activation + LayerNorm), then the decoder tied to the word embeddings plus a bias."""

    def __init__(self, config: BertConfig, embeddings, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.embeddings = embeddings
        self.transform = layers.Dense(config.hidden_size, kernel_initializer=initializer(config, seed), name="transform")
        self.activation = get_activation(config.hidden_act)
        self.layer_norm = layers.LayerNormalization(epsilon=config.layer_norm_eps, name="layer_norm")

    def build(self, input_shape=None):
        shape = (None, None, self.config.hidden_size)
        self.transform.build(shape)
        self.layer_norm.build(shape)
        self.output_bias = self.add_weight(shape=(self.config.vocab_size,), initializer="zeros", name="output_bias")
        self.built = True

    def call(self, sequence_output, positions):
        x = self.transform(gather_positions(sequence_output, positions))
        if self.activation is not None:
            x = self.activation(x)
        x = self.layer_norm(x)
        table = ops.cast(self.embeddings.word_embeddings, x.dtype)
        logits = ops.matmul(x, ops.transpose(table))
        return ops.add(ops.cast(logits, "float32"), ops.cast(self.output_bias, "float32"))


class _BertTaskModel(keras.Model):
    """Common parts: the encoder and a `config`."""

    task = None

    def __init__(self, config: BertConfig, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.seed = seed
        self.encoder = build_encoder(config, seed=derive_seed(seed, "encoder"))

    def head_seed(self, name):
        return derive_seed(self.seed, "head", name)

    def encode(self, features, training=False):
        return self.encoder(
            features["input_ids"], features["input_mask"], features["segment_ids"], training=training
        )


class PretrainingModel(_BertTaskModel):
    """Masked LM plus a 2-way sentence head (NSP or SOP; `next_sentence_labels`)."""

    task = "pretraining"

    def __init__(self, config: BertConfig, use_next_sentence: bool = True, **kwargs):
        super().__init__(config, **kwargs)
        self.use_next_sentence = use_next_sentence
        self.masked_lm = MaskedLMHead(config, self.encoder.embeddings, seed=self.head_seed("masked_lm"),
                                      name="masked_lm")
        self.masked_lm.build()
        self.next_sentence = layers.Dense(2, kernel_initializer=initializer(config, self.head_seed("next_sentence")),
                                          name="next_sentence")
        self.next_sentence.build((None, config.hidden_size))

    def call(self, features, training=False):
        encoded = self.encode(features, training)
        outputs = {
            "masked_lm_logits": self.masked_lm(encoded["sequence_output"], features["masked_lm_positions"])
        }
        if self.use_next_sentence:
            outputs["next_sentence_logits"] = ops.cast(self.next_sentence(encoded["pooled_output"]), "float32")
        return outputs


class _DropoutDenseModel(_BertTaskModel):
    """Dropout → dense to `num_labels` over one encoder output (pooled or per token).

    The dense layer is named "classifier" in both subclasses, as in the original checkpoints.
    """

    encoder_output = "pooled_output"

    def __init__(self, config: BertConfig, num_labels: int, dropout: float = 0.1, **kwargs):
        super().__init__(config, **kwargs)
        self.num_labels = num_labels
        self.dropout = layers.Dropout(dropout, seed=self.head_seed("dropout"))
        self.classifier = layers.Dense(num_labels, kernel_initializer=initializer(config, self.head_seed("classifier")),
                                       name="classifier")
        per_token = self.encoder_output == "sequence_output"
        self.classifier.build((None, None, config.hidden_size) if per_token else (None, config.hidden_size))

    def call(self, features, training=False):
        encoded = self.encode(features, training)[self.encoder_output]
        logits = self.classifier(self.dropout(encoded, training=training))
        return {"logits": ops.cast(logits, "float32")}


class ClassifierModel(_DropoutDenseModel):
    """Pooled output → dropout → dense to `num_labels` (one output for regression)."""

    task = "classifier"


class SquadModel(_BertTaskModel):
    """Per-token start and end logits from one dense layer of width 2."""

    task = "squad"

    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.span = layers.Dense(2, kernel_initializer=initializer(config, self.head_seed("span")), name="span")
        self.span.build((None, None, config.hidden_size))

    def call(self, features, training=False):
        logits = ops.cast(self.span(self.encode(features, training)["sequence_output"]), "float32")
        return {"start_logits": logits[:, :, 0], "end_logits": logits[:, :, 1]}


class TaggingModel(_DropoutDenseModel):
    """Per-token dropout → dense to `num_labels` tag logits."""

    task = "tagging"
    encoder_output = "sequence_output"


def build_task_model(task: str, config: BertConfig, num_labels: int = 2, use_next_sentence: bool = True,
                     classifier_dropout: float = 0.1, seed=None):
    """The model for `task` (one of TASKS), variables created; `seed` makes initial weights reproducible."""
    if task == "pretraining":
        model = PretrainingModel(config, use_next_sentence=use_next_sentence, seed=seed, name="pretraining")
    elif task == "classifier":
        model = ClassifierModel(config, num_labels, dropout=classifier_dropout, seed=seed, name="classifier_model")
    elif task == "squad":
        model = SquadModel(config, seed=seed, name="squad_model")
    elif task == "tagging":
        model = TaggingModel(config, num_labels, dropout=classifier_dropout, seed=seed, name="tagging_model")
    else:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    model.built = True  # every variable exists already (stateless_call on JAX requires this)
    return model
