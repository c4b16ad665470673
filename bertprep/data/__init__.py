"""Data files that ship with bertprep: the demo corpus and an example jobs file."""
