"""The bundled Keras BERT trainer (TensorFlow for training; the model code also runs on Keras' JAX backend).

config (bert_config.json / config.json) → model (encoder) → heads (task models) → tasks (losses, metrics);
data (our TFRecords via schemas/) → loop (tf.distribute training, checkpoints, evaluation) → export;
checkpoint_import (Google TF1 names, Hugging Face, our own); inference (pooling for `embed`).
"""
