"""The toy job as a CLI command, for the output-protocol tests (no tests here): install it, write its input,
list what it published; `toy` is the fixture that installs it and runs it like `bertprep toy ...`."""
import dataclasses
import os
import sys
import types

import pytest

from bertprep import cli
from bertprep.io import output as output_lib
from bertprep.runtime import beam_job

import toy_job

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))  # tests/: worker processes import toy_job from here
TOY_MODULE = "bertprep_test_toy_command"
TOY_LINES = ["alpha", "!dropped on purpose", "beta gamma", "", "delta", "epsilon zeta eta", "!another",
             "theta", "iota kappa", "lambda"]


def make_toy_command(build_pipeline=None, name="toy"):
    """A CLI command module running `build_pipeline` (the toy job by default) like a real job does."""
    module = types.ModuleType(TOY_MODULE)
    module.COMMAND = name
    module.HELP = "toy job for the output-protocol tests"
    module.ACCEPTS_BEAM_ARGS = True

    def add_arguments(parser):
        toy_job.ToyOptions.add_arguments(parser)

    def run(args):
        options = toy_job.ToyOptions.from_namespace(args)
        options = dataclasses.replace(options, num_shards=options.num_shards or 3)
        output_lib.OutputDirectory(args.output, overwrite=args.overwrite).prepare()
        beam_job.run_job(build_pipeline or toy_job.build_pipeline, options, args.beam_args)
        return 0

    module.add_arguments = add_arguments
    module.run = run
    return module


def install_toy_command(monkeypatch, build_pipeline=None):
    """Register the toy command with the real CLI; worker subprocesses find toy_job through PYTHONPATH."""
    monkeypatch.setitem(sys.modules, TOY_MODULE, make_toy_command(build_pipeline))
    monkeypatch.setattr(cli, "COMMANDS", [name for name in cli.COMMANDS if name != TOY_MODULE] + [TOY_MODULE])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [TESTS_DIR, os.environ.get("PYTHONPATH")])))


def write_toy_input(path, extra_bytes=b"\xff\xfe not utf-8\n"):
    with open(path, "wb") as handle:
        handle.write(("\n".join(TOY_LINES) + "\n").encode("utf-8") + extra_bytes)
    return str(path)


def output_files(directory):
    """{relative path: bytes} of the data files a run publishes (not info/report/marker)."""
    found = {}
    for root, _, names in os.walk(directory):
        for name in names:
            relative = os.path.relpath(os.path.join(root, name), directory)
            if relative in (output_lib.INFO_FILE, output_lib.COMPLETE_MARKER, "report.json", "report.html"):
                continue
            with open(os.path.join(root, name), "rb") as handle:
                found[relative] = handle.read()
    return found


@pytest.fixture
def toy(monkeypatch):
    install_toy_command(monkeypatch)
    return lambda *argv: cli.main(["toy", *argv])
