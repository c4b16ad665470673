"""Run reports: report.json and a self-contained report.html with plots, for every job's output."""
from bertprep.report.report import REPORT_HTML, REPORT_JSON, build_report, regenerate, write_report

__all__ = ["REPORT_HTML", "REPORT_JSON", "build_report", "regenerate", "write_report"]
