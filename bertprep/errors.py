"""The one exception type users see: a one-line message naming the file, line or record at fault."""


class BertprepError(Exception):
    """Bad input or configuration; the CLI prints the message on one line and exits with status 2."""


class StorageUnavailable(BertprepError):
    """A remote store cannot be used now (no credentials, no network): the same one-line error, told apart so
    the service answers 503 and a reader that treats "not found" as "absent" does not swallow it."""
