"""The one exception type users see: a one-line message naming the file, line or record at fault."""


class BertprepError(Exception):
    """Bad input or configuration; the CLI prints the message on one line and exits with status 2."""
