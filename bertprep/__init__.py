"""bertprep: Apache Beam pipelines that turn raw corpora into BERT training data."""

__version__ = "0.1.0"
