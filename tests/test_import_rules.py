"""The import rules of the package layout (issue 15), checked by import-linter and by a text search.

The contracts live in `.importlinter` at the repository root; each is checked on its own so a broken
one names itself. import-linter sees `import` statements only, so a module loaded by name
(`importlib.import_module("bertprep.cli")`, `python -m bertprep.cli` in a subprocess) is looked for
as text as well.
"""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINT_IMPORTS = shutil.which("lint-imports") or str(pathlib.Path(sys.executable).parent / "lint-imports")

CONTRACTS = ("layers", "transforms-without-beam", "nothing-below-imports-the-cli", "io-without-report",
             "runtime-without-commands")
FOLDERS_WITHOUT_CLI = ("service", "pipelines", "io", "transforms")


def test_every_contract_in_the_file_is_checked_here():
    text = (ROOT / ".importlinter").read_text(encoding="utf-8")
    declared = {line.strip()[len("[importlinter:contract:"):-1] for line in text.splitlines()
                if line.strip().startswith("[importlinter:contract:")}
    assert declared == set(CONTRACTS)


@pytest.mark.parametrize("contract", CONTRACTS)
def test_import_contract_holds(contract):
    if not pathlib.Path(LINT_IMPORTS).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]' installs it)")
    result = subprocess.run([LINT_IMPORTS, "--no-logo", "--no-cache", "--contract", contract], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout  # the contract was found and checked, not skipped


def test_no_module_below_the_commands_names_the_cli():
    """import-linter cannot see a module loaded by its name, so the name itself must not appear."""
    found = []
    for folder in FOLDERS_WITHOUT_CLI:
        for path in sorted((ROOT / "bertprep" / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if "bertprep.cli" in line:
                    found.append("%s:%d: %s" % (path.relative_to(ROOT), number, line.strip()))
    assert not found, "\n".join(found)

