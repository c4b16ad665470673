"""Typed job options: one dataclass gives the parser, the jobs-file reading, the template parameters and the
summary, and every job of the registry has one."""
import argparse
import dataclasses
import sys

import pytest

from bertprep.errors import BertprepError
from bertprep.options.common import CommonJobOptions, ShardedOutputOptions, TokenizerOptions
from bertprep.options.fields import list_option, value_option
from bertprep.pipelines import registry


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExampleOptions(TokenizerOptions, ShardedOutputOptions, CommonJobOptions):
    max_seq_length: int = value_option(128, type=int, group="features", help="tokens per record")
    mode: str = value_option("fast", choices=("fast", "exact"), group="features", help="how")
    extra_file: str = list_option(group="features", metavar="PATH", help="more files (repeatable)")

    def __post_init__(self):
        super().__post_init__()
        if self.max_seq_length < 3:
            raise BertprepError("--max-seq-length must be at least 3, got %s" % self.max_seq_length)


def parse(argv):
    parser = argparse.ArgumentParser(allow_abbrev=False)
    ExampleOptions.add_arguments(parser)
    return ExampleOptions.from_namespace(parser.parse_args(argv))


def test_the_parser_comes_from_the_fields_with_their_defaults_and_kinds():
    options = parse(["--input", "a.txt", "--output", "out", "--no-lower", "--extra-file", "x", "--extra-file", "y",
                     "--max-seq-length", "64", "--overwrite"])
    assert options.input == "a.txt" and options.output == "out"
    assert options.lower is False and options.strip_accents is None  # a switch; None stays "decide later"
    assert options.extra_file == "x,y"  # repeatable, kept as one comma-joined value
    assert options.max_seq_length == 64 and options.overwrite is True
    assert options.seed == 12345 and options.num_shards == 0 and options.compression == "none"


def test_a_missing_required_option_and_a_bad_choice_stop_the_parser(capsys):
    with pytest.raises(SystemExit):
        parse(["--output", "out"])
    assert "--input" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["--input", "a", "--output", "o", "--mode", "slow"])
    assert "invalid choice" in capsys.readouterr().err


def test_validation_runs_once_in_the_dataclass_whatever_the_source():
    with pytest.raises(BertprepError, match="--max-seq-length must be at least 3"):
        parse(["--input", "a", "--output", "o", "--max-seq-length", "2"])
    with pytest.raises(BertprepError, match="--max-seq-length must be at least 3"):
        ExampleOptions.from_mapping({"input": "a", "output": "o", "max_seq_length": 2})
    with pytest.raises(BertprepError, match="--workers must be at least 1"):
        ExampleOptions(input="a", output="o", workers=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ExampleOptions(input="a", output="o").seed = 1


def test_a_jobs_file_mapping_takes_either_spelling_and_types_values_as_the_command_line_does():
    options = ExampleOptions.from_mapping({"input": "a", "output": "o", "max-seq-length": "96", "lower": "false",
                                           "extra_file": ["x", "y"], "max_dead_letter_rate": "0.25"})
    assert options.max_seq_length == 96 and options.lower is False and options.extra_file == "x,y"
    assert options.max_dead_letter_rate == 0.25
    with pytest.raises(BertprepError, match=r"unknown option --max-seq-lenght; did you mean --max-seq-length\?"):
        ExampleOptions.from_mapping({"input": "a", "output": "o", "max_seq_lenght": 3})
    with pytest.raises(BertprepError, match="--max-dead-letter-rate: expected a number from 0 to 1"):
        ExampleOptions.from_mapping({"input": "a", "output": "o", "max_dead_letter_rate": "2"})
    with pytest.raises(BertprepError, match="--mode: 'slow' is not one of fast, exact"):
        ExampleOptions.from_mapping({"input": "a", "output": "o", "mode": "slow"})
    with pytest.raises(BertprepError, match="missing required option --output"):
        ExampleOptions.from_mapping({"input": "a"})


def test_a_mapping_becomes_the_command_line_that_parses_back_to_the_same_options():
    mapping = {"input": "a", "output": "o", "lower": False, "overwrite": True, "strict": False,
               "extra_file": ["x", "y"], "max_seq_length": 64, "vocab": None}
    argv = ExampleOptions.command_line_from_mapping(mapping)
    assert argv == ["--input=a", "--output=o", "--no-lower", "--overwrite", "--no-strict", "--extra-file=x,y",
                    "--max-seq-length=64"]
    assert parse(argv) == ExampleOptions.from_mapping(mapping)
    with pytest.raises(BertprepError, match="--overwrite takes true or false"):
        ExampleOptions.command_line_from_mapping({"overwrite": "yes please"})


def test_template_parameters_and_the_summary_come_from_the_same_fields():
    parameters = {parameter["name"]: parameter for parameter in ExampleOptions.template_parameters()}
    assert set(parameters) == {option.name for option in ExampleOptions.command_options()}
    assert parameters["input"]["isOptional"] is False and parameters["seed"]["isOptional"] is True
    assert parameters["lower"]["regexes"] == ["^(true|false)$"]
    assert parameters["mode"]["regexes"] == ["^(fast|exact)$"]
    options = ExampleOptions(input="a", output="o", lower=False, max_seq_length=64)
    assert options.changed_options() == ["--input a", "--no-lower", "--max-seq-length 64"]


@pytest.mark.parametrize("name", sorted(registry.PIPELINES))
def test_every_registered_job_has_typed_options_that_build_its_parser(name):
    options_class = registry.pipeline(name).options_class()
    assert issubclass(options_class, CommonJobOptions)
    assert dataclasses.is_dataclass(options_class) and options_class.__dataclass_params__.frozen
    parser = argparse.ArgumentParser(add_help=False)
    options_class.add_arguments(parser)
    spelled = {option.option for option in options_class.command_options()}
    assert {"--input", "--output", "--seed", "--workers", "--runner", "--strict"} <= spelled
    assert parser.format_usage()  # argparse accepts every generated option


def test_the_registry_names_its_jobs_without_importing_beam():
    import subprocess

    code = ("import sys; from bertprep.pipelines import registry; "
            "[registry.pipeline(name).options_class() for name in registry.names()]; "
            "print(any(module.startswith('apache_beam') for module in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_an_unknown_pipeline_is_one_line_naming_the_known_ones():
    with pytest.raises(BertprepError, match=r"unknown pipeline 'clasifier' \(known: .*classifier"):
        registry.pipeline("clasifier")


def test_values_a_job_derives_are_set_once_without_validating_again(monkeypatch):
    options = ExampleOptions(input="a", output="o")
    checks = []
    monkeypatch.setattr(ExampleOptions, "__post_init__", lambda self: checks.append(self))
    resolved = options.resolved(num_shards=7)
    assert checks == []  # the options were checked when made; a shard count from the input is no user input
    assert resolved.num_shards == 7 and options.num_shards == 0 and resolved.input == "a"
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.num_shards = 8
    with pytest.raises(TypeError, match="no field num_shard"):
        options.resolved(num_shard=7)
    import pickle

    assert pickle.loads(pickle.dumps(resolved)) == resolved  # DoFns carry the options to workers


def test_a_job_offers_no_option_it_would_ignore(capsys):
    from bertprep.cli import main

    # embed writes Parquet: a --compression it would not apply is refused, not silently dropped
    assert main(["embed", "--input", "x", "--output", "y", "--model", "m", "--compression", "gzip"]) == 2
    assert "unknown option --compression" in capsys.readouterr().err
    # jobs that draw nothing at random take --seed (one command line for every job) and say it changes nothing
    for name in ("classifier", "tagging", "squad", "embed"):
        seed = registry.pipeline(name).options_class().command_option("seed")
        assert "draws nothing at random" in seed.spec.help, name
    for name in ("pretraining", "mask-probs"):
        assert "draws nothing" not in registry.pipeline(name).options_class().command_option("seed").spec.help
