"""`bertprep report PATH`: rebuild report.json and report.html from an output directory.

The report is made by every job before its completion marker; this command redraws it, e.g. after
an upgrade, keeping the timing the run recorded.
"""
from bertprep.errors import BertprepError
from bertprep.io import output as output_lib

COMMAND = "report"
HELP = "regenerate report.json and report.html (plots) from an output directory"


def add_arguments(parser):
    parser.add_argument("path", help="an output directory written by a bertprep job")


def run(args) -> int:
    from bertprep.io import fs
    from bertprep.report import report

    info_path = output_lib.join(args.path, output_lib.INFO_FILE)
    if not fs.exists(info_path):
        raise BertprepError("%s has no %s: not a bertprep output directory, or its run did not finish"
                            % (args.path, output_lib.INFO_FILE))
    paths = report.regenerate(args.path)
    if not output_lib.OutputDirectory(args.path).is_complete():
        print("note: %s has no %s marker; the report describes an unfinished run" % (args.path,
                                                                                     output_lib.COMPLETE_MARKER))
    print("wrote %s" % paths["html"])
    print("wrote %s" % paths["json"])
    return 0
