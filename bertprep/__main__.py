"""`python -m bertprep ...` is the `bertprep` command: how the service and the Flex Template launcher start
a job in a fresh interpreter (a command line, so they never import the CLI module)."""
from bertprep.cli import console_main

if __name__ == "__main__":
    console_main()
