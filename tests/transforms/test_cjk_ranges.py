"""One definition of a CJK character: the tokenizer's (the reference's ranges), used by mask-probs too."""
from bertprep.transforms.csc import mask_probability
from bertprep.transforms.tokenization import wordpiece


def test_mask_probs_and_the_tokenizer_agree_on_every_code_point():
    differ = [hex(code) for code in range(0x30000)
              if mask_probability.is_cjk_char(chr(code)) != wordpiece.is_cjk_codepoint(code)]
    assert differ == []


def test_the_ranges_are_the_reference_tokenizers():
    assert mask_probability.is_cjk_char("中") and mask_probability.is_cjk_char("\U00020000")  # basic, extension B
    assert mask_probability.is_cjk_char("\uF900")  # compatibility ideograph
    # Extension F, Hangul, kana and CJK punctuation are not split one by one by the tokenizer.
    for char in ("\U0002CEB0", "한", "か", "。", "ab"):
        assert not mask_probability.is_cjk_char(char), char
