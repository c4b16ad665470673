"""Import TensorFlow without its start-up noise on the terminal.

On a machine without a GPU, importing TensorFlow prints C++ log lines before its logging is set up
(the oneDNN notice, "Could not find cuda drivers", and an E-level "failed call to cuInit"), which
read like failures. They are written to file descriptor 2 directly, so Python's logging cannot
filter them: the import runs with descriptor 2 pointed at a temporary file, and only the lines that
are not this known start-up noise are written back to the terminal. Later C++ INFO and WARNING
lines are hidden with TF_CPP_MIN_LOG_LEVEL=2 unless the user set that variable; errors still show.
"""
import os
import re
import sys
import tempfile

# C++ lines TensorFlow writes while starting on a CPU-only machine, none of which needs action.
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations are on|"
    r"Could not find cuda drivers|failed call to cuInit|cpu_feature_guard|"
    r"This TensorFlow binary is optimized to use available CPU instructions|"
    r"rebuild TensorFlow with the appropriate compiler flags|Unable to register cu(DNN|FFT|BLAS) factory|"
    r"computation placer already registered|TF-TRT Warning")


def import_tensorflow():
    """`tensorflow`, imported (and its devices listed, which is when CUDA is probed) quietly."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not STARTUP_NOISE.search(line)]
    for line in kept:
        print(line, file=sys.stderr)
    return tf
