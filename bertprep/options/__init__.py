"""Typed options of every job: `fields` is the mechanism, one module a job holds its options class."""
