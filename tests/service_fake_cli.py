"""The bertprep CLI plus the fast `fake-count` pipeline; the service tests point BERTPREP_CLI_MODULE here."""
import sys

from bertprep import cli

COMMANDS = list(cli.COMMANDS) + ["service_fake_job"]


def main(argv=None) -> int:
    cli.COMMANDS = COMMANDS
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
