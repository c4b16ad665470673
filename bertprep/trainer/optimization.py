"""The fine-tuning optimizers and their learning-rate schedules (keras.ops only).

Two recipes, chosen with `--optimizer`:

- `adamw` (default), the recipe of current BERT fine-tuning code (Hugging Face's Trainer and
  `run_glue`): Keras' AdamW, which corrects the moments' bias, epsilon 1e-8; the learning rate warms
  up linearly from 0 to `peak` over `warmup_steps`, then decays linearly from `peak` at the end of
  warm-up to 0 at `total_steps`.
- `adam_bert`, BERT's original AdamWeightDecayOptimizer, kept to reproduce the original scripts: Adam
  without bias correction, epsilon 1e-6; the decay line runs from `peak` at step 0 (the warm-up
  overrides its start), as the original optimization.py computes it.

Both: decoupled weight decay on every weight except LayerNorm parameters and biases, gradients
clipped to global norm 1.0. Without bias correction, Adam's steps are (1 − β1^t)/√(1 − β2^t) times
the corrected ones: 3.2× at step 1, 6.6× at step 12, still 2.9× at step 125, so the original recipe
fine-tunes with a 3–6× larger effective learning rate (README, "Fine-tuning parity", for what that
does to a small model).
"""
import keras
from keras import ops

from bertprep.trainer.config import OPTIMIZERS

ADAMW_EPSILON = 1e-8  # torch.optim.AdamW's and Hugging Face Trainer's default
ADAM_BERT_EPSILON = 1e-6  # the original AdamWeightDecayOptimizer's
GLOBAL_CLIP_NORM = 1.0


class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak_learning_rate`, then linear decay to 0 at `total_steps`.

    `decay_from_warmup` (AdamW's recipe): lr = peak·(total − step)/(total − warmup) after warm-up.
    Otherwise (the original): lr = peak·(1 − step/total), a line from step 0 that warm-up overrides.
    """

    def __init__(self, peak_learning_rate: float, total_steps: int, warmup_steps: int = 0,
                 decay_from_warmup: bool = True):
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = min(int(warmup_steps), self.total_steps)
        self.decay_from_warmup = bool(decay_from_warmup)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        decay_start = float(self.warmup_steps) if self.decay_from_warmup else 0.0
        decay_length = max(1.0, float(self.total_steps) - decay_start)
        decayed = self.peak_learning_rate * ops.maximum(0.0, (float(self.total_steps) - step) / decay_length)
        decayed = ops.minimum(decayed, self.peak_learning_rate)
        if self.warmup_steps <= 0:
            return decayed
        warming = self.peak_learning_rate * step / float(self.warmup_steps)
        return ops.where(step < float(self.warmup_steps), warming, decayed)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "decay_from_warmup": self.decay_from_warmup,
        }


class BertAdamWeightDecay(keras.optimizers.Optimizer):
    """Adam as in BERT's AdamWeightDecayOptimizer: no bias correction, decoupled weight decay.

    Weight decay is applied by the base class (`variable -= lr · weight_decay · variable`) before
    the Adam step, which is the same update as the original's `update += weight_decay · param`.
    """

    def __init__(self, learning_rate=1e-4, beta_1=0.9, beta_2=0.999, epsilon=ADAM_BERT_EPSILON, weight_decay=0.01,
                 global_clipnorm=GLOBAL_CLIP_NORM, name="bert_adam_weight_decay", **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         global_clipnorm=global_clipnorm, name=name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._first_moments, self._second_moments = self.add_optimizer_variables(var_list, ["adam_m", "adam_v"])

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        first, second = self._first_moments[index], self._second_moments[index]
        gradient = ops.cast(ops.convert_to_tensor(gradient), variable.dtype)
        learning_rate = ops.cast(learning_rate, variable.dtype)
        self.assign(first, ops.add(ops.multiply(self.beta_1, first), ops.multiply(1.0 - self.beta_1, gradient)))
        self.assign(second, ops.add(ops.multiply(self.beta_2, second),
                                    ops.multiply(1.0 - self.beta_2, ops.square(gradient))))
        update = ops.divide(first, ops.add(ops.sqrt(second), self.epsilon))
        self.assign_sub(variable, ops.multiply(learning_rate, update))

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config


def clip_by_global_norm(gradients, clip_norm):
    """Scale `gradients` (None kept) so that their global norm is at most `clip_norm` (NaN if it is not finite)."""
    present = [ops.cast(g, "float32") for g in gradients if g is not None]
    norm = ops.sqrt(sum(ops.sum(ops.square(g)) for g in present))
    scale = clip_norm * ops.minimum(1.0 / norm, 1.0 / clip_norm) + (norm - norm)
    return [g if g is None else g * ops.cast(scale, g.dtype) for g in gradients]


def _clipped_after_all_reduce(optimizer_class):
    """`optimizer_class` clipping the replicas' summed gradients rather than each replica's own.

    Keras (3.15, TensorFlow backend) clips by global norm in `apply`, before it sums the gradients across
    replicas: each replica's gradient is clipped against its own norm, so two replicas take another step
    than one device on the same global batch. Here the clip moves behind the sum, which is what one device
    computes. Other backends have no replica sum, and keep Keras' clip.
    """
    if keras.backend.backend() != "tensorflow":
        return optimizer_class

    class ClippedAfterAllReduce(optimizer_class):
        def _clip_gradients(self, grads):
            return grads  # clipped in _all_reduce_sum_gradients, after the sum

        def _all_reduce_sum_gradients(self, grads_and_vars):
            pairs = list(super()._all_reduce_sum_gradients(grads_and_vars))
            if not self.global_clipnorm:
                return pairs
            clipped = clip_by_global_norm([g for g, _ in pairs], self.global_clipnorm)
            return list(zip(clipped, [v for _, v in pairs]))

    ClippedAfterAllReduce.__name__ = optimizer_class.__name__
    return ClippedAfterAllReduce


def is_decay_exempt(variable) -> bool:
    """LayerNorm parameters and biases are not decayed (the original's and Hugging Face's exclusion list)."""
    path = getattr(variable, "path", variable.name)
    leaf = path.rsplit("/", 1)[-1]
    return "layer_norm" in path or "LayerNorm" in path or leaf.endswith("bias")


def create_schedule(optimizer: str, learning_rate: float, total_steps: int, warmup_steps: int) -> WarmupLinearDecay:
    """The learning-rate schedule of the `optimizer` recipe (one of OPTIMIZERS)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
    return WarmupLinearDecay(learning_rate, total_steps, warmup_steps, decay_from_warmup=optimizer == "adamw")


def create_optimizer(model, learning_rate: float, total_steps: int, warmup_steps: int,
                     weight_decay: float = 0.01, loss_scale: bool = False, optimizer: str = "adamw"):
    """The `optimizer` recipe (one of OPTIMIZERS) for `model`'s trainable variables; wrapped for loss
    scaling if asked (float16)."""
    schedule = create_schedule(optimizer, learning_rate, total_steps, warmup_steps)
    if optimizer == "adamw":
        result = _clipped_after_all_reduce(keras.optimizers.AdamW)(
            learning_rate=schedule, weight_decay=weight_decay, beta_1=0.9, beta_2=0.999, epsilon=ADAMW_EPSILON,
            global_clipnorm=GLOBAL_CLIP_NORM)
    else:
        result = _clipped_after_all_reduce(BertAdamWeightDecay)(learning_rate=schedule, weight_decay=weight_decay)
    result.exclude_from_weight_decay(var_list=[v for v in model.trainable_variables if is_decay_exempt(v)])
    if loss_scale:
        result = keras.optimizers.LossScaleOptimizer(result)
    return result
