"""The BERT encoder with the original maths, written against `keras.ops` only.

Learned position and token-type embeddings, post-LayerNorm transformer blocks with LayerNorm
epsilon 1e-12, GELU as configured (Google's tanh approximation by default), additive attention
mask of -10000 on padding, and a pooler (dense + tanh) over the first token. No TensorFlow calls
appear here, so the same code runs under `KERAS_BACKEND=jax` (the benchmark uses that).
"""
import math

import keras
from keras import layers, ops

from bertprep.seeding import stable_hash
from bertprep.trainer.config import GELU_ERF, GELU_TANH, BertConfig


def gelu_tanh(x):
    """GELU with the tanh approximation, as Google's modeling.py computes it."""
    cube = ops.multiply(ops.multiply(x, x), x)
    inner = ops.multiply(math.sqrt(2.0 / math.pi), ops.add(x, ops.multiply(0.044715, cube)))
    return ops.multiply(ops.multiply(0.5, x), ops.add(1.0, ops.tanh(inner)))


def gelu_erf(x):
    """Exact GELU (Hugging Face's "gelu")."""
    return ops.multiply(ops.multiply(0.5, x), ops.add(1.0, ops.erf(ops.divide(x, math.sqrt(2.0)))))


def get_activation(name: str):
    return {
        GELU_TANH: gelu_tanh,
        GELU_ERF: gelu_erf,
        "relu": ops.relu,
        "tanh": ops.tanh,
        "linear": None,
    }[name]


def derive_seed(seed, *key):
    """A layer's own seed from the model seed and the layer's name (None: unseeded)."""
    return None if seed is None else stable_hash(seed, *key) % (2 ** 31)


def initializer(config: BertConfig, seed=None):
    """Truncated normal with the config's initializer_range; `seed` makes initial weights reproducible."""
    return keras.initializers.TruncatedNormal(stddev=config.initializer_range, seed=seed)


class BertEmbeddings(layers.Layer):
    """Word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.seed = seed
        self.layer_norm = layers.LayerNormalization(epsilon=config.layer_norm_eps, name="layer_norm")
        self.dropout = layers.Dropout(config.hidden_dropout_prob, seed=derive_seed(seed, "dropout"))

    def build(self, input_shape=None):
        config, seed = self.config, self.seed
        self.word_embeddings = self.add_weight(
            shape=(config.vocab_size, config.hidden_size), initializer=initializer(config, derive_seed(seed, "word")),
            name="word_embeddings"
        )
        self.token_type_embeddings = self.add_weight(
            shape=(config.type_vocab_size, config.hidden_size),
            initializer=initializer(config, derive_seed(seed, "token_type")), name="token_type_embeddings"
        )
        self.position_embeddings = self.add_weight(
            shape=(config.max_position_embeddings, config.hidden_size),
            initializer=initializer(config, derive_seed(seed, "position")), name="position_embeddings"
        )
        self.layer_norm.build((None, None, config.hidden_size))
        self.built = True

    def call(self, input_ids, segment_ids, training=False):
        seq_length = ops.shape(input_ids)[1]
        words = ops.take(self.word_embeddings, input_ids, axis=0)
        types = ops.take(self.token_type_embeddings, segment_ids, axis=0)
        positions = self.position_embeddings[:seq_length]
        x = ops.add(ops.add(words, types), ops.expand_dims(ops.cast(positions, words.dtype), 0))
        x = self.layer_norm(x)
        return self.dropout(x, training=training)


class SelfAttention(layers.Layer):
    """Multi-head self-attention, output projection, dropout, residual and LayerNorm."""

    def __init__(self, config: BertConfig, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        hidden = config.hidden_size

        def dense(name):
            return layers.Dense(hidden, kernel_initializer=initializer(config, derive_seed(seed, name)), name=name)

        self.query, self.key, self.value = dense("query"), dense("key"), dense("value")
        self.output_dense = dense("output_dense")
        self.layer_norm = layers.LayerNormalization(epsilon=config.layer_norm_eps, name="layer_norm")
        self.attention_dropout = layers.Dropout(config.attention_probs_dropout_prob,
                                                seed=derive_seed(seed, "attention_dropout"))
        self.output_dropout = layers.Dropout(config.hidden_dropout_prob, seed=derive_seed(seed, "output_dropout"))

    def build(self, input_shape):
        for dense in (self.query, self.key, self.value, self.output_dense):
            dense.build(input_shape)
        self.layer_norm.build(input_shape)
        self.built = True

    def _split_heads(self, x, batch, length):
        heads, size = self.config.num_attention_heads, self.config.head_size
        return ops.transpose(ops.reshape(x, (batch, length, heads, size)), (0, 2, 1, 3))

    def call(self, hidden_states, attention_bias, training=False):
        batch, length = ops.shape(hidden_states)[0], ops.shape(hidden_states)[1]
        query = self._split_heads(self.query(hidden_states), batch, length)
        key = self._split_heads(self.key(hidden_states), batch, length)
        value = self._split_heads(self.value(hidden_states), batch, length)
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2)))
        scores = ops.multiply(scores, 1.0 / math.sqrt(self.config.head_size))
        # Softmax in float32 so that float16 scores with the -10000 bias neither overflow nor lose mass.
        # `+`, not ops.add: Keras' TF backend may rewrite a broadcasting ops.add as a bias add.
        scores = ops.cast(scores, "float32") + ops.cast(attention_bias, "float32")
        probs = ops.cast(ops.softmax(scores, axis=-1), hidden_states.dtype)
        probs = self.attention_dropout(probs, training=training)
        context = ops.transpose(ops.matmul(probs, value), (0, 2, 1, 3))
        context = ops.reshape(context, (batch, length, self.config.hidden_size))
        output = self.output_dropout(self.output_dense(context), training=training)
        return self.layer_norm(ops.add(output, hidden_states))


class TransformerBlock(layers.Layer):
    """One encoder layer: attention, then the feed-forward block with its own residual LayerNorm."""

    def __init__(self, config: BertConfig, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.attention = SelfAttention(config, seed=derive_seed(seed, "attention"), name="attention")
        self.intermediate = layers.Dense(
            config.intermediate_size, kernel_initializer=initializer(config, derive_seed(seed, "intermediate")),
            name="intermediate"
        )
        self.activation = get_activation(config.hidden_act)
        self.output_dense = layers.Dense(config.hidden_size, name="output_dense",
                                         kernel_initializer=initializer(config, derive_seed(seed, "output_dense")))
        self.layer_norm = layers.LayerNormalization(epsilon=config.layer_norm_eps, name="layer_norm")
        self.dropout = layers.Dropout(config.hidden_dropout_prob, seed=derive_seed(seed, "dropout"))
        self.config = config

    def build(self, input_shape):
        self.attention.build(input_shape)
        self.intermediate.build(input_shape)
        self.output_dense.build(tuple(input_shape[:-1]) + (self.config.intermediate_size,))
        self.layer_norm.build(input_shape)
        self.built = True

    def call(self, hidden_states, attention_bias, training=False):
        attended = self.attention(hidden_states, attention_bias, training=training)
        inner = self.intermediate(attended)
        if self.activation is not None:
            inner = self.activation(inner)
        output = self.dropout(self.output_dense(inner), training=training)
        return self.layer_norm(ops.add(output, attended))


class BertEncoder(layers.Layer):
    """Embeddings, `num_hidden_layers` blocks and the pooler.

    Called with `input_ids`, `input_mask`, `segment_ids` (integer tensors [batch, length]);
    returns `sequence_output` [batch, length, hidden], `pooled_output` [batch, hidden] and
    `encoder_outputs`, the list of every block's output.
    """

    def __init__(self, config: BertConfig, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.embeddings = BertEmbeddings(config, seed=derive_seed(seed, "embeddings"), name="embeddings")
        # One attribute per block (not a list): TF checkpoints track attributes, not list members.
        for index in range(config.num_hidden_layers):
            block = TransformerBlock(config, seed=derive_seed(seed, "layer", index), name=f"layer_{index}")
            setattr(self, f"layer_{index}", block)
        self.pooler = layers.Dense(
            config.hidden_size, activation="tanh", kernel_initializer=initializer(config, derive_seed(seed, "pooler")),
            name="pooler"
        )

    @property
    def blocks(self):
        return [getattr(self, f"layer_{index}") for index in range(self.config.num_hidden_layers)]

    def build(self, input_shape=None):
        shape = (None, None, self.config.hidden_size)
        self.embeddings.build()
        for block in self.blocks:
            block.build(shape)
        self.pooler.build((None, self.config.hidden_size))
        self.built = True

    def call(self, input_ids, input_mask, segment_ids, training=False):
        input_ids = ops.cast(input_ids, "int32")
        segment_ids = ops.cast(segment_ids, "int32")
        mask = ops.cast(input_mask, "float32")
        # [batch, 1, 1, length]: 0 where attending is allowed, -10000 on padding (the original's value).
        attention_bias = ops.multiply(ops.subtract(1.0, mask), -10000.0)[:, None, None, :]
        hidden = self.embeddings(input_ids, segment_ids, training=training)
        outputs = []
        for block in self.blocks:
            hidden = block(hidden, attention_bias, training=training)
            outputs.append(hidden)
        pooled = self.pooler(hidden[:, 0, :])
        return {"sequence_output": hidden, "pooled_output": pooled, "encoder_outputs": outputs}


def build_encoder(config: BertConfig, name: str = "bert", seed=None) -> BertEncoder:
    """An encoder with its variables created (so weights can be assigned before any call).

    With `seed`, initial weights and dropout masks are reproducible (each layer derives its own seed).
    """
    encoder = BertEncoder(config, seed=seed, name=name)
    encoder.build()
    return encoder
