"""Reading local files through bertprep.io.fs (standard library) vs through Beam's FileSystems.

Before issue #15's reader layer every local read and match went through Beam's FileSystems; now local
paths use the standard library and Beam is imported only for remote ones. Prints, side by side in one
run (same machine load): documents per second over the shared People's Daily corpus read both ways,
the time to match a glob both ways, and the import time of the formats without Beam.

    PYTHONPATH=$PWD python benchmarks/bench_readers.py [--repeat 3]
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "..", "shared", "data", "corpus", "zh_peopledaily_docs.txt")
SHARED = os.path.join(ROOT, "..", "shared", "data")


def documents_via(opener, path):
    """Documents counted with the formats' own decoder over lines from `opener`."""
    from bertprep.io.formats.lines import decode_lines

    handle = opener(path)
    documents, in_document = 0, False
    try:
        for item in decode_lines(iter(handle.readline, b""), path):
            text = getattr(item, "value", "")
            if text.strip():
                in_document = True
            elif in_document:
                documents, in_document = documents + 1, False
    finally:
        handle.close()
    return documents + in_document


def best_of(repeat, function):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    command = "import time; s = time.perf_counter(); import bertprep.io.formats, bertprep.io.fs; " \
              "print(time.perf_counter() - s)"
    import_seconds = float(subprocess.run([sys.executable, "-c", command], capture_output=True, text=True,
                                          env=dict(os.environ, PYTHONPATH=ROOT), check=True).stdout)
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    from bertprep.io import fs

    def beam_open(path):
        return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)

    fs_time, fs_docs = best_of(args.repeat, lambda: documents_via(fs.open_read, CORPUS))
    beam_time, beam_docs = best_of(args.repeat, lambda: documents_via(beam_open, CORPUS))
    assert fs_docs == beam_docs, (fs_docs, beam_docs)
    pattern = os.path.join(SHARED, "**.t*")
    fs_match, fs_found = best_of(args.repeat, lambda: fs.match(pattern))
    beam_match, beam_found = best_of(args.repeat, lambda: sorted(
        m.path for m in FileSystems.match([pattern])[0].metadata_list))
    assert fs_found == beam_found
    print("load average: %.2f %.2f %.2f (%d CPUs)" % (*os.getloadavg(), os.cpu_count()))
    print("%-44s %14s %14s" % ("", "io.fs (stdlib)", "Beam FileSystems"))
    print("%-44s %14.3f %14.3f" % ("read %d documents (%.1f MB), s" % (fs_docs, os.path.getsize(CORPUS) / 1e6),
                                   fs_time, beam_time))
    print("%-44s %14.4f %14.4f" % ("match %s (%d files), s" % (os.path.relpath(pattern, SHARED), len(fs_found)),
                                   fs_match, beam_match))
    print("import bertprep.io.formats + io.fs without Beam: %.3f s" % import_seconds)


if __name__ == "__main__":
    main()
