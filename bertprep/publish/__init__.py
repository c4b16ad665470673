"""Publishing a job's output: Finalize and its inputs, accounting, publish gates, data warnings, the run report."""
