"""Record keys and random streams (bertprep/seeding.py): what seeds a record's draws must not depend on
where its file lies."""
from bertprep.seeding import SplitMix64, pattern_prefix, relative_names, stream_for, streams_for


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


def test_splitmix64_is_the_published_generator_across_blocks():
    """Draws come in numpy blocks; the stream must not depend on where a block starts."""
    mask = (1 << 64) - 1

    def reference(seed, count):  # the scalar algorithm, one draw at a time
        out = []
        for _ in range(count):
            seed = (seed + 0x9E3779B97F4A7C15) & mask
            z = ((seed ^ (seed >> 30)) * 0xBF58476D1CE4E5B9) & mask
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
            out.append(((z ^ (z >> 31)) >> 11) / 2.0 ** 53)
        return out

    for seed in (0, 99, mask):
        stream = SplitMix64(seed)
        assert [stream.random() for _ in range(2000)] == reference(seed, 2000)
    many = streams_for(7, ["a.txt:1", "a.txt:12", "b.txt:1"], 3)
    for key, stream in zip(["a.txt:1", "a.txt:12", "b.txt:1"], many):
        alone = stream_for(7, key, 3)
        assert [stream.random() for _ in range(1500)] == [alone.random() for _ in range(1500)]
    assert streams_for(7, [], 3) == []


def test_randint_and_shuffle():
    stream = stream_for(1, "x")
    draws = [stream.randint(2, 6) for _ in range(5000)]
    assert set(draws) == {2, 3, 4, 5, 6} and all(900 < draws.count(k) < 1100 for k in range(2, 7))
    firsts = []
    for k in range(3000):
        items = list(range(5))
        stream_for(2, k).shuffle(items)
        assert sorted(items) == [0, 1, 2, 3, 4]
        firsts.append(items[0])
    assert all(500 < firsts.count(k) < 700 for k in range(5))
    one, two = list(range(50)), list(range(50))
    stream_for(3, "y").shuffle(one)
    stream_for(3, "y").shuffle(two)
    assert one == two != list(range(50))
