"""Phonetic and glyph similarity, the candidate model and confusion-set ranking."""
import pytest

from bertprep.transforms.csc import confusion

from bertprep.transforms.csc import glyph

from bertprep.transforms.csc import phonetic
from bertprep.transforms.csc.confusion import ConfusionModel, ConfusionOptions


def test_syllables_split_into_initial_final_tone():
    assert phonetic.parse_syllable("zhōng") == phonetic.Syllable("zhong", "zh", "ong", 1)
    assert phonetic.parse_syllable("lǜ") == phonetic.Syllable("lv", "l", "v", 4)
    assert phonetic.parse_syllable("yú").final == "v"
    assert phonetic.parse_syllable("qù").final == "v"
    assert phonetic.parse_syllable("shí").final == "-i" and phonetic.parse_syllable("yī").final == "i"
    assert phonetic.parse_syllable("de").tone == 5
    assert phonetic.parse_syllable("a1") is None


def test_heteronyms_are_all_readings():
    tonelesses = {r.toneless for r in phonetic.readings("的")}
    assert {"de", "di"} <= tonelesses
    assert phonetic.same_syllable("地", "的")  # dì is a reading of 的
    assert not phonetic.same_syllable("在", "的")


def test_fuzzy_pairs_cost_less_than_other_edits():
    zh, z, d = (phonetic.parse_syllable(s) for s in ("zhāng", "zāng", "dāng"))
    assert phonetic.syllable_distance(zh, z) < phonetic.syllable_distance(zh, d)
    an, ang, ong = (phonetic.parse_syllable(s) for s in ("bān", "bāng", "bōng"))
    assert phonetic.syllable_distance(an, ang) < phonetic.syllable_distance(ang, ong)
    assert phonetic.char_similarity("在", "再") == 1.0  # zài / zài
    assert phonetic.char_similarity("因", "应") > phonetic.char_similarity("因", "大") == 0.0


def test_phonetic_index_neighbourhoods():
    index = phonetic.PhoneticIndex("再在载灾应因英音大")
    hoods = index.neighbourhoods("在")
    assert "再" in hoods["same_syllable_tone"] and "载" in hoods["same_syllable_tone"]
    assert "灾" in hoods["same_syllable"]
    assert "应" in index.neighbourhoods("因")["fuzzy_pinyin"]
    assert "大" not in index.candidates("在")
    assert "在" not in index.candidates("在")


@pytest.fixture(scope="module")
def glyph_data():
    return glyph.GlyphData()


def test_glyph_similarity_follows_structure(glyph_data):
    assert glyph.similarity(glyph_data, "请", "清") > 0.8  # share 青
    assert glyph.similarity(glyph_data, "未", "末") > 0.9  # same parts
    assert glyph.similarity(glyph_data, "问", "间") > 0.6
    assert glyph.similarity(glyph_data, "请", "的") < 0.3
    index = glyph.GlyphIndex("请清情晴精青的地", data=glyph_data)
    found = index.candidates("请")
    assert {"清", "情", "晴", "精"} <= set(found)
    assert "的" not in found


def test_options_come_from_the_config_and_reject_bad_values():
    from bertprep.options.mask_probs import MaskProbsOptions

    options = MaskProbsOptions(input="pairs.tsv", output="out", mixture_glyph_weight=0.5, mean_set_size=15,
                               ranker=False).ranking_options()
    assert options.mixture_glyph_weight == 0.5 and options.mean_set_size == 15 and options.ranker is False
    assert options.pool_group_size == ConfusionOptions().pool_group_size  # an option not given keeps the default
    with pytest.raises(ValueError, match="--ranker-l2 is -1; it cannot be negative"):
        ConfusionOptions(ranker_l2=-1.0).validated()
    with pytest.raises(ValueError, match="--min-set-size 9 is larger than --max-set-size 4"):
        ConfusionOptions(min_set_size=9, max_set_size=4).validated()
    # every ranking setting is a mask-probs option (its help lives there, once)
    assert set(ConfusionOptions.__dataclass_fields__) <= {option.name for option in MaskProbsOptions.command_options()}
    assert confusion.parse_sources("observed,phonetic") == ["phonetic", "observed"]
    with pytest.raises(ValueError):
        confusion.parse_sources("phonetic,sound")


UNIVERSE = "在再载灾仔的地得底请清情晴精青是事市时十实"
FREQUENCIES = {"在": 100.0, "再": 50.0, "载": 5.0, "灾": 3.0, "是": 200.0, "事": 40.0, "市": 10.0, "时": 80.0,
               "的": 300.0, "地": 60.0, "得": 50.0, "清": 20.0, "情": 30.0, "晴": 4.0, "精": 10.0}


def _model(sources=("phonetic", "glyph", "observed"), external=None, **options):
    universe = list(UNIVERSE)
    return ConfusionModel(universe, FREQUENCIES, list(sources), ConfusionOptions(**options),
                          phonetic.PhoneticIndex(universe), glyph.GlyphIndex(universe), external=external)


def test_frequent_homophones_rank_first_and_scores_are_probabilities():
    ranked = _model().score_candidates("在")
    assert ranked[0].candidate == "再"
    assert "phonetic" in ranked[0].source.split("+") and ranked[0].same_pinyin
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    assert 0 < sum(r.score for r in ranked) <= 1.0 + 1e-9
    assert "在" not in [r.candidate for r in ranked]


def test_observed_counts_move_a_candidate_up_and_top_k_cuts():
    model = _model()
    plain = [r.candidate for r in model.score_candidates("是")]
    observed = [r.candidate for r in model.score_candidates("是", {"市": 5})]
    assert observed.index("市") < plain.index("市")
    assert observed[0] == "市"
    top = model.score_candidates("是", {"市": 5}, top_k=2)
    assert len(top) == 2 and top[0].observed == 5 and top[0].source == "phonetic+observed"


def test_sources_switch_components_off():
    glyph_only = _model(sources=("glyph",)).score_candidates("请")
    assert glyph_only and all(r.source == "glyph" for r in glyph_only)
    assert "清" in [r.candidate for r in glyph_only]
    observed_only = _model(sources=("observed",)).score_candidates("的", {"地": 3, "得": 1})
    assert [(r.candidate, r.observed) for r in observed_only] == [("地", 3), ("得", 1)]
    assert _model(sources=("observed",)).score_candidates("的") == []


def test_fit_mixture_moves_weight_to_the_components_that_explain_the_pairs():
    model = _model(sources=("phonetic", "glyph"))
    homophones = model.fit_mixture({("在", "再"): 50, ("是", "事"): 50, ("的", "地"): 40})
    model_glyph = _model(sources=("phonetic", "glyph"))
    look_alikes = model_glyph.fit_mixture({("请", "清"): 50, ("清", "精"): 50, ("晴", "请"): 40})
    assert abs(sum(homophones[name] for name in confusion.COMPONENTS) - 1.0) < 1e-9
    assert homophones["same_syllable_tone"] > confusion.DEFAULT_MIXTURE["same_syllable_tone"]
    assert look_alikes["glyph"] > confusion.DEFAULT_MIXTURE["glyph"]


PAIRS = {("在", "再"): 6, ("再", "在"): 4, ("的", "地"): 8, ("的", "得"): 5, ("是", "事"): 3,
         ("请", "清"): 3,
         ("情", "请"): 2, ("时", "十"): 2, ("实", "十"): 1}


def test_fitted_ranker_ranks_observed_and_similar_candidates_with_probabilities():
    model = _model()
    state = model.fit_mixture(PAIRS)
    assert model.theta is not None and any(key.startswith("ranker.") for key in state)
    # Fitted weights favour a shared syllable; observed counts then move their candidates up.
    assert state["ranker.same_syllable"] > 0
    ranked = model.score_candidates("的", {"地": 8, "得": 5})
    assert [r.candidate for r in ranked[:2]] == ["地", "得"]
    assert ranked[0].source == "phonetic+observed" and ranked[0].observed == 8
    plain = [r.candidate for r in model.score_candidates("是")]
    assert [r.candidate for r in model.score_candidates("是", {"十": 5})][0] == "十" != plain[0]
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    assert 0 < sum(r.score for r in ranked) <= 1.0 + 1e-9
    assert "的" not in [r.candidate for r in ranked]
    # Without observations a homophone still comes before an unrelated character.
    unseen = [r.candidate for r in model.score_candidates("市")]
    assert unseen.index("是") < unseen.index("请")
    assert len(model.score_candidates("市", top_k=3)) == 3


def test_fitted_state_round_trips_through_the_mixture_dict():
    fitted = _model()
    state = fitted.fit_mixture(PAIRS)
    restored = _model()
    restored.mixture = dict(state)
    assert restored.mixture == state
    expected = [(r.candidate, r.score) for r in fitted.score_candidates("在", {"再": 6})]
    assert [(r.candidate, r.score) for r in restored.score_candidates("在", {"再": 6})] == expected
    assert _model(ranker=False).fit_mixture(PAIRS).keys() == set(confusion.COMPONENTS)


def test_per_character_sizes_average_the_budget_and_favour_characters_that_err():
    model = _model(mean_set_size=4, min_set_size=1, max_set_size=12)
    model.fit_mixture(PAIRS)
    observed = {}
    for (c, w), n in PAIRS.items():
        observed.setdefault(c, {})[w] = n
    sizes = {c: model.set_size(c, observed.get(c), 15) for c in model.universe}
    assert sum(sizes.values()) / len(sizes) <= 4
    assert all(1 <= s <= 12 for s in sizes.values())
    assert sizes["的"] > sizes["晴"]  # 的 erred 13 times, 晴 never
    pool_size = len(model.pools().pool("的")[0])
    assert len(model.score_candidates("的", observed["的"], 15)) == min(sizes["的"], pool_size)


def test_ranker_pools_reach_loose_pinyin_relations_and_leave_one_out_counts():
    from bertprep.transforms.csc import confusion_ranker

    universe = list("有也和很合河在")
    pools = confusion_ranker.CandidatePools(universe, {}, ["phonetic", "glyph", "observed"],
                                            phonetic.PhoneticIndex(universe), glyph.GlyphIndex(universe))
    candidates, rows = pools.pool("有")
    assert "也" in candidates  # yǒu / yě: the y- glide
    row = rows[candidates.index("也")]
    assert row[confusion_ranker.FEATURE_INDEX["same_first_letter"]] == 1.0
    assert "很" in pools.pool("和")[0]  # hé / hěn: the initial
    assert "河" not in pools.pool("有")[0]  # no pinyin or glyph relation
    assert "河" in pools.pool("有", {"河": 1})[0]  # observed characters join the pool
    assert "河" not in confusion_ranker.CandidatePools(universe, {}, ["phonetic"]).pool("有", {"河": 1})[0]


def _external(tables):
    from bertprep.transforms.csc.confusion_files import ExternalSets

    sets = ExternalSets(list(tables))
    for name, table in tables.items():
        for char, candidates in table.items():
            sets.add(name, char, candidates)
    return sets


# Errors the pinyin/glyph pools cannot explain, each in one fold only (so always held out when it is fitted):
# the `good` set lists them, the `noise` set lists other characters.
NOVEL = {("在", "实"): 0, ("是", "请"): 1, ("的", "青"): 2, ("时", "精"): 3, ("十", "底"): 4}
FOLDED = {**{(c, w, i % 5): n for i, ((c, w), n) in enumerate(sorted(PAIRS.items()))},
          **{(c, w, fold): 2 for (c, w), fold in NOVEL.items()}}


def test_external_sets_are_trusted_as_far_as_they_predict_held_out_errors():
    external = _external({"external:good.txt": {c: w for c, w in NOVEL},
                          "external:noise.txt": {"在": "情", "是": "晴", "的": "灾", "时": "仔", "十": "载"}})
    model = _model(external=external)
    state = model.fit_mixture(FOLDED)
    assert state["ranker.external:good.txt.member"] > state["ranker.external:noise.txt.member"]
    ranked = model.score_candidates("在")
    by_candidate = {r.candidate: r for r in ranked}
    # 实 is neither a pinyin nor a glyph neighbour of 在: only the good set brings it, and says so.
    assert "实" not in [r.candidate for r in _model().score_candidates("在")]
    assert by_candidate["实"].source == "external:good.txt"
    assert [r.candidate for r in ranked].index("实") < [r.candidate for r in ranked].index("情")
    assert "phonetic" in by_candidate["再"].source and "observed" not in by_candidate["再"].source


def test_external_sets_change_only_the_characters_they_list():
    without = _model()
    without.fit_mixture(FOLDED)
    with_external = _model(external=_external({"external:good.txt": {"在": "实"}}))
    with_external.fit_mixture(FOLDED)
    assert {k: v for k, v in with_external.mixture.items() if "external:" not in k} == without.mixture
    for char in UNIVERSE:
        plain = [(r.candidate, r.score, r.source) for r in without.score_candidates(char, top_k=8)]
        extended = [(r.candidate, r.score, r.source) for r in with_external.score_candidates(char, top_k=8)]
        assert (plain != extended) == (char == "在"), char
    # The fitted state, external weights included, round-trips (as the pipeline hands it to its workers).
    restored = _model(external=_external({"external:good.txt": {"在": "实"}}))
    restored.mixture = dict(with_external.mixture)
    assert [(r.candidate, r.score) for r in restored.score_candidates("在")] == [
        (r.candidate, r.score) for r in with_external.score_candidates("在")]
    with pytest.raises(ValueError, match="drop --no-ranker"):
        _model(external=_external({"external:good.txt": {"在": "实"}}), ranker=False)
