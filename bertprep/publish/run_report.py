"""The report step a job's Finalize runs: report.json and report.html beside a run's info.json.

Publishing (bertprep.publish.finalize) runs it after info.json is written; matplotlib is imported only
here, where a run is published.
"""


def write_run_report(directory: str, info: dict, timing: dict) -> None:
    """Written after info.json and before the completion marker, so a complete output has its report."""
    from bertprep.report import report

    report.write_report(directory, info, timing)
