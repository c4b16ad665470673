"""Typed job options: one frozen dataclass per job, whose fields say everything about each option.

A field made with `value_option`, `flag_option`, `switch_option` or `list_option` carries its help, its
command-line spelling, its group, its choices and how a text becomes its value. From those fields come,
with no second list to keep in step:

  - the command's argparse options (`JobOptions.add_arguments`), and so its `--help`;
  - the options from a parsed command line (`from_namespace`) or a jobs file's `args` (`from_mapping`),
    validated once, in the dataclass's `__post_init__`;
  - a jobs file's `args` turned back into a command line (`command_line_from_mapping`);
  - the Flex Template parameters (`template_parameters`: help, default, regexes) and the summary's
    options not at their defaults (`changed_options`).

Worked example: `max_seq_length: int = value_option(128, type=int, help="tokens per record")` is
`--max-seq-length N` on the command line, `max_seq_length: 256` (or `max-seq-length`) in a jobs file and
the template parameter `max_seq_length`. A `switch_option` is `--x` / `--no-x`; a `flag_option` is `--x`
alone (as the original scripts' store_true flags were).
"""
import argparse
import dataclasses
import difflib
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from bertprep.errors import BertprepError

VALUE = "value"  # --x V
FLAG = "flag"  # --x, or nothing (False)
SWITCH = "switch"  # --x / --no-x (True, False, or None: "decide from other options")
LIST = "list"  # --x V, repeatable; kept as one comma-separated text, as --input is

METADATA_KEY = "bertprep_option"


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    """How one field appears on the command line, in jobs files and in template metadata."""

    kind: str
    help: str
    type: Callable[[str], Any] = str
    choices: Optional[Tuple[Any, ...]] = None
    required: bool = False
    group: str = "options"
    metavar: Optional[str] = None
    flag: Optional[str] = None  # the spelling when it is not --field-name

    def option_string(self, name: str) -> str:
        return self.flag or "--" + name.replace("_", "-")


def _field(default, spec: OptionSpec):
    return dataclasses.field(default=default, metadata={METADATA_KEY: spec})


def value_option(default=None, *, help: str, type: Callable[[str], Any] = str, choices: Sequence = None,
                 required: bool = False, group: str = "options", metavar: str = None, flag: str = None):
    """`--name VALUE`; `type` turns the text into the value (argparse.ArgumentTypeError for a bad one)."""
    return _field(default, OptionSpec(VALUE, help, type, tuple(choices) if choices is not None else None,
                                      required, group, metavar, flag))


def flag_option(*, help: str, group: str = "options", flag: str = None):
    """`--name` alone: True when given, False otherwise."""
    return _field(False, OptionSpec(FLAG, help, group=group, flag=flag))


def switch_option(default: Optional[bool], *, help: str, group: str = "options", flag: str = None):
    """`--name` / `--no-name`; a None default means "decided from the other options"."""
    return _field(default, OptionSpec(SWITCH, help, group=group, flag=flag))


def list_option(*, help: str, group: str = "options", metavar: str = None, flag: str = None):
    """`--name VALUE`, repeatable; the values are kept comma-joined in one text (None when never given),
    so a jobs-file list or a template parameter carries them as one value."""
    return _field(None, OptionSpec(LIST, help, group=group, metavar=metavar, flag=flag))


class _JoinValues(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, values if not current else current + "," + values)


@dataclasses.dataclass(frozen=True)
class CommandOption:
    """One field as the user types it: the field's name, its spelling and its spec."""

    name: str
    option: str
    spec: OptionSpec
    default: Any

    def command_line(self, value) -> List[str]:
        """The arguments that give this option `value` (empty when the value says nothing)."""
        if value is None:
            return []
        if self.spec.kind == SWITCH:
            return [self.option if value else "--no-" + self.option[2:]]
        if self.spec.kind == FLAG:
            return [self.option] if value else []
        if isinstance(value, (list, tuple)):
            value = ",".join(value_text(item) for item in value)
        return ["%s=%s" % (self.option, value_text(value))]


def option_for_key(key) -> str:
    """The option spelling a jobs-file key or a command-line spelling names: `max_seq_length`,
    `max-seq-length` and `--max-seq-length` all name `--max-seq-length`."""
    return "--" + str(key).strip().lstrip("-").replace("_", "-")


def value_text(value) -> str:
    """A scalar as a command line or a template parameter spells it (booleans lower-case, as YAML and JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_boolean(value, option: str) -> bool:
    """true/false (also 1/0, yes/no) from a jobs file or a template parameter; `option` names it in the error."""
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise BertprepError("%s takes true or false, not %r" % (option, value))


@dataclasses.dataclass(frozen=True, kw_only=True)
class JobOptions:
    """Base of every job's options. Subclasses are frozen, keyword-only dataclasses whose fields are made
    with the *_option functions above; fields without them are not options (values a job resolves)."""

    def __post_init__(self):
        """Validation, once: subclasses check their fields here (calling super) and raise BertprepError."""

    @classmethod
    def command_options(cls) -> List[CommandOption]:
        """Every option of the class, in field order (the order of --help)."""
        found = []
        for field in dataclasses.fields(cls):
            spec = field.metadata.get(METADATA_KEY)
            if spec is not None:
                found.append(CommandOption(field.name, spec.option_string(field.name), spec, field.default))
        return found

    @classmethod
    def option_strings(cls) -> List[str]:
        """Every option's spelling (`--max-seq-length`), in field order: what a typo is matched against."""
        return [option.option for option in cls.command_options()]

    @classmethod
    def command_option(cls, key: str) -> Optional[CommandOption]:
        """The option a jobs-file key or a command-line spelling names: `max_seq_length`, `max-seq-length`
        and `--max-seq-length` alike."""
        wanted = option_for_key(key)
        return next((option for option in cls.command_options() if option.option == wanted), None)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The class's options on an argparse parser, in argument groups named by the fields."""
        groups: Dict[str, Any] = {}
        for option in cls.command_options():
            spec = option.spec
            if spec.group not in groups:
                groups[spec.group] = parser.add_argument_group(spec.group)
            group = groups[spec.group]
            settings = dict(dest=option.name, help=spec.help, default=option.default)
            if spec.kind == SWITCH:
                group.add_argument(option.option, action=argparse.BooleanOptionalAction, **settings)
            elif spec.kind == FLAG:
                group.add_argument(option.option, action="store_true", **settings)
            elif spec.kind == LIST:
                group.add_argument(option.option, action=_JoinValues, metavar=spec.metavar, **settings)
            else:
                if spec.type is not str:
                    settings["type"] = spec.type
                if spec.choices is not None:
                    settings["choices"] = spec.choices
                group.add_argument(option.option, required=spec.required, metavar=spec.metavar, **settings)

    @classmethod
    def from_namespace(cls, namespace: argparse.Namespace):
        """The options a parsed command line gave (validated by the class)."""
        values = vars(namespace)
        return cls(**{option.name: values[option.name] for option in cls.command_options()
                      if option.name in values})

    @classmethod
    def from_mapping(cls, mapping: Dict[str, Any], source: str = "options"):
        """The options a jobs file's `args` (or a stored config) give: keys in either spelling, values typed
        as the command line would type them. An unknown key is an error naming the closest option."""
        values = {}
        for key, value in mapping.items():
            option = cls.command_option(key)
            if option is None:
                raise BertprepError("%s: %s" % (source, unknown_option_message(cls, key)))
            values[option.name] = option_value(option, value)
        missing = [option.option for option in cls.command_options()
                   if option.spec.required and values.get(option.name) is None]
        if missing:
            raise BertprepError("%s: missing required option %s" % (source, ", ".join(missing)))
        return cls(**values)

    @classmethod
    def command_line_from_mapping(cls, mapping: Dict[str, Any]) -> List[str]:
        """A jobs file's `args` as command-line arguments of this job (keys checked, values not yet)."""
        argv = []
        for key, value in mapping.items():
            option = cls.command_option(key)
            if option is None:
                raise BertprepError(unknown_option_message(cls, key))
            if isinstance(value, dict):
                raise BertprepError("%s takes a single value or a list, not a mapping" % option.option)
            if option.spec.kind in (FLAG, SWITCH) and value is not None and not isinstance(value, bool):
                raise BertprepError("%s takes true or false, not %r" % (option.option, value))
            argv.extend(option.command_line(value))
        return argv

    @classmethod
    def template_parameters(cls, leave_out: Sequence[str] = ()) -> List[dict]:
        """Flex Template metadata parameters: one per option, named by the field, its help ending with the
        default, and the regexes a value must match (booleans, choices, integers, numbers)."""
        parameters = []
        for option in cls.command_options():
            if option.name in leave_out:
                continue
            parameter = {"name": option.name,
                         "label": "%s (%s)" % (option.name.replace("_", " ").capitalize(), option.option),
                         "helpText": _template_help(option), "isOptional": not option.spec.required}
            regexes = _template_regexes(option)
            if regexes:
                parameter["regexes"] = regexes
            parameters.append(parameter)
        return parameters

    def resolved(self, **values):
        """A copy with `values` the job derived from these options (a shard count from the input size, a
        label list read from a file), not validated again: the options were checked when they were made,
        and what the job derives from them is not user input. Fields keep their meaning (to_config)."""
        names = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise TypeError("%s has no field %s" % (type(self).__name__, ", ".join(unknown)))
        copy = object.__new__(type(self))
        for name in names:
            object.__setattr__(copy, name, values[name] if name in values else getattr(self, name))
        return copy

    def changed_options(self, leave_out: Sequence[str] = ("output", "runner")) -> List[str]:
        """`--option value` for every option not at its default, in --help order (the run summary)."""
        lines = []
        for option in self.command_options():
            value = getattr(self, option.name)
            if option.name in leave_out or value == option.default:
                continue
            arguments = option.command_line(value)
            lines.append(" ".join(argument.replace("=", " ", 1) for argument in arguments) or option.option)
        return lines

    def to_config(self) -> Dict[str, Any]:
        """Every field as JSON-able values, sorted by name: what info.json records as the job's config."""
        return {key: value for key, value in sorted(dataclasses.asdict(self).items())}


INTEGER_REGEX = r"^[-+]?[0-9]+$"
FLOAT_REGEX = r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$"
BOOLEAN_REGEX = r"^(true|false)$"


def _template_help(option: CommandOption) -> str:
    """The option's --help text on one line, with what the value is when the parameter is left out."""
    text = option.spec.help or option.option
    try:  # argparse help may say %(default)s and escape a percent sign as %%
        text = text % {"default": option.default, "prog": "bertprep"}
    except (TypeError, ValueError, KeyError):
        pass
    text = " ".join(text.split())
    if option.spec.kind in (FLAG, SWITCH):
        if option.default is None:
            return text + " (true or false)"
        return text + " (true or false; default %s)" % value_text(option.default)
    if option.default not in (None, ""):
        text += " (default %s)" % (option.default,)
    return text


def _template_regexes(option: CommandOption) -> List[str]:
    import re

    if option.spec.kind in (FLAG, SWITCH):
        return [BOOLEAN_REGEX]
    if option.spec.choices:
        return ["^(%s)$" % "|".join(re.escape(str(choice)) for choice in option.spec.choices)]
    if option.spec.type is int:
        return [INTEGER_REGEX]
    if option.spec.type is float:
        return [FLOAT_REGEX]
    return []


def option_value(option: CommandOption, value):
    """A jobs-file or template value (already typed by YAML/JSON, or a text) as the field's value."""
    if value is None:
        return None
    if option.spec.kind in (FLAG, SWITCH):
        return parse_boolean(value, option.option)
    if option.spec.kind == LIST and isinstance(value, (list, tuple)):
        return ",".join(value_text(item) for item in value)
    if isinstance(value, (list, tuple)):
        value = ",".join(value_text(item) for item in value)
    if option.spec.type is not str and isinstance(value, str):
        try:
            value = option.spec.type(value)
        except (argparse.ArgumentTypeError, ValueError, TypeError) as error:
            raise BertprepError("%s: %s" % (option.option, error)) from None
    elif option.spec.type is str and not isinstance(value, str):
        value = value_text(value)
    if option.spec.choices is not None and value not in option.spec.choices:
        raise BertprepError("%s: %r is not one of %s" % (option.option, value,
                                                        ", ".join(str(choice) for choice in option.spec.choices)))
    return value


def unknown_option_message(options_class, key: str) -> str:
    """One line for a key no option of the class has, with the closest option when one is close (the
    suggestion the command line and the jobs file give: closest_option)."""

    wanted = option_for_key(key)
    found = closest_option(wanted, options_class.option_strings())
    return "unknown option %s%s" % (wanted, "; did you mean %s?" % found if found else "")


# Below this similarity (difflib's ratio) a known option is not offered as what the user meant.
SUGGESTION_CUTOFF = 0.7


def closest_option(name: str, known: Sequence[str]) -> Optional[str]:
    """The known option most like `name` (dashes and underscores alike), or None when none is close."""
    def normal(option):
        return option.lstrip("-").replace("_", "-").lower()

    by_normal = {}
    for option in known:
        by_normal.setdefault(normal(option), option)
    extending = [option for key, option in by_normal.items() if key.startswith(normal(name))]
    if len(extending) == 1:  # a cut-short option: jobs take no abbreviations, but the user meant this one
        return extending[0]
    found = difflib.get_close_matches(normal(name), list(by_normal), n=1, cutoff=SUGGESTION_CUTOFF)
    return by_normal[found[0]] if found else None
