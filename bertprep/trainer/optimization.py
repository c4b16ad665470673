"""AdamW and the learning-rate schedule of BERT's original optimization.py (keras.ops only).

- Learning rate: linear warm-up from 0 to `peak` over `warmup_steps`, otherwise linear decay
  from `peak` at step 0 to 0 at `total_steps` (the decay is measured from step 0, as the original
  does, so after warm-up the rate continues from where the decay line is).
- Adam without bias correction, epsilon 1e-6, decoupled weight decay 0.01 on every weight except
  LayerNorm parameters and biases, gradients clipped to global norm 1.0.
"""
import keras
from keras import ops


class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = peak·step/warmup while step < warmup, else peak·max(0, 1 − step/total)."""

    def __init__(self, peak_learning_rate: float, total_steps: int, warmup_steps: int = 0):
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        decayed = self.peak_learning_rate * ops.maximum(0.0, 1.0 - step / float(self.total_steps))
        if self.warmup_steps <= 0:
            return decayed
        warming = self.peak_learning_rate * step / float(self.warmup_steps)
        return ops.where(step < float(self.warmup_steps), warming, decayed)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
        }


class BertAdamWeightDecay(keras.optimizers.Optimizer):
    """Adam as in BERT's AdamWeightDecayOptimizer: no bias correction, decoupled weight decay.

    Weight decay is applied by the base class (`variable -= lr · weight_decay · variable`) before
    the Adam step, which is the same update as the original's `update += weight_decay · param`.
    """

    def __init__(self, learning_rate=1e-4, beta_1=0.9, beta_2=0.999, epsilon=1e-6, weight_decay=0.01,
                 global_clipnorm=1.0, name="bert_adam_weight_decay", **kwargs):
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


def is_decay_exempt(variable) -> bool:
    """LayerNorm parameters and biases are not decayed (the original's exclusion list)."""
    path = getattr(variable, "path", variable.name)
    leaf = path.rsplit("/", 1)[-1]
    return "layer_norm" in path or "LayerNorm" in path or leaf.endswith("bias")


def create_optimizer(model, learning_rate: float, total_steps: int, warmup_steps: int,
                     weight_decay: float = 0.01, loss_scale: bool = False):
    """The BERT optimizer for `model`'s trainable variables; wrapped for loss scaling if asked (float16)."""
    schedule = WarmupLinearDecay(learning_rate, total_steps, warmup_steps)
    optimizer = BertAdamWeightDecay(learning_rate=schedule, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_list=[v for v in model.trainable_variables if is_decay_exempt(v)])
    if loss_scale:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
