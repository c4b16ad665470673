"""A tiny SentencePiece model trained on the spot, for the tokenizer and data-warning tests (no tests here)."""


SPM_TEXT = """the quick brown fox jumps over the lazy dog
a journey of a thousand miles begins with a single step
she sells sea shells by the sea shore
peter piper picked a peck of pickled peppers
all that glitters is not gold
the early bird catches the worm
""" * 3


def train_spm(directory, name, control_symbols=("[PAD]", "[CLS]", "[SEP]", "[MASK]")):
    import sentencepiece

    corpus = directory / "corpus.txt"
    corpus.write_text(SPM_TEXT, encoding="utf-8")
    prefix = directory / name
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(prefix), vocab_size=60, hard_vocab_limit=False,
        control_symbols=list(control_symbols), minloglevel=2)
    return str(prefix) + ".model"
