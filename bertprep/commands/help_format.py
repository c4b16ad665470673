"""How every command's --help is laid out."""
import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults and keeps the description's line breaks.

    A help text that already explains its default, and an option whose default is None, get no
    "(default: ...)" suffix, so `--help` never says a default twice or calls it "None".
    """

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is None:
            return text
        return super()._get_help_string(action)

