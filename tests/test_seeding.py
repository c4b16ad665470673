"""Record keys and random streams (bertprep/seeding.py): what seeds a record's draws must not depend on
where its file lies."""
from bertprep.seeding import pattern_prefix, relative_names


def test_pattern_prefix_is_the_directory_before_the_first_wildcard():
    assert pattern_prefix("gs://bucket/corpus/*/part-*.txt") == "gs://bucket/corpus/"
    assert pattern_prefix("/data/zh/docs-00[0-4].txt") == "/data/zh/"
    assert pattern_prefix("/data/zh/docs.txt") == "/data/zh/"
    assert pattern_prefix("docs.txt") == ""
    assert pattern_prefix("data/a?/b/*.txt") == "data/"


def test_names_are_relative_to_the_shared_directory():
    # one file: its base name, wherever it lies
    assert relative_names(["/home/me/docs.txt"], ["/home/me/docs.txt"]) == {"/home/me/docs.txt": "docs.txt"}
    assert relative_names(["gs://b/x/docs.txt"], ["gs://b/x/docs.txt"]) == {"gs://b/x/docs.txt": "docs.txt"}
    # a glob: the part below its fixed directory, subdirectories included
    paths = ["/tmp/run1/corpus/a/part-0.txt", "/tmp/run1/corpus/b/part-0.txt"]
    assert relative_names(["/tmp/run1/corpus/*/part-*.txt"], paths) == dict(zip(paths, ["a/part-0.txt",
                                                                                       "b/part-0.txt"]))
    moved = ["gs://other/c/a/part-0.txt", "gs://other/c/b/part-0.txt"]
    assert list(relative_names(["gs://other/c/*/part-*.txt"], moved).values()) == ["a/part-0.txt", "b/part-0.txt"]
    # several patterns: the directory they share, so equal base names in two directories stay apart
    names = relative_names(["/d/x/part.txt", "/d/y/part.txt"], ["/d/x/part.txt", "/d/y/part.txt"])
    assert names == {"/d/x/part.txt": "x/part.txt", "/d/y/part.txt": "y/part.txt"}
    names = relative_names(["/d/xa/*.txt", "/d/xb/*.txt"], ["/d/xa/1.txt", "/d/xb/1.txt"])
    assert names == {"/d/xa/1.txt": "xa/1.txt", "/d/xb/1.txt": "xb/1.txt"}  # cut at a "/", not mid-name
