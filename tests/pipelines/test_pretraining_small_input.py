"""A small pre-training run takes the plain-Python path and never loads numba (its import and the kernel's
cache cost more than the compiled kernel saves on a few documents). That both paths give the same bytes is
tests/test_instance_kernel.py's."""
import subprocess
import sys

from bertprep.pipelines import pretraining

PROBE = """
import sys
from bertprep import cli
assert cli.main(sys.argv[1:]) == 0
print("numba" in sys.modules)
"""


def test_a_50_line_run_does_not_load_numba(shared, zh_vocab, tmp_path):
    corpus = tmp_path / "corpus.txt"
    with open(shared / "data" / "corpus" / "zh_peopledaily_docs.txt", encoding="utf-8") as handle:
        corpus.write_text("".join(line for _, line in zip(range(50), handle)), encoding="utf-8")
    assert corpus.stat().st_size * 10 < pretraining.KERNEL_MIN_BYTE_PASSES  # the default --dupe-factor 10
    done = subprocess.run([sys.executable, "-c", PROBE, "pretraining", "--input", str(corpus), "--vocab", zh_vocab,
                           "--output", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"

