"""BERT hyper-parameters, read from Google's `bert_config.json` or a Hugging Face `config.json`.

The two files use the same key names; they differ in what `"gelu"` means. Google's modeling.py
computes GELU with the tanh approximation, Hugging Face's `"gelu"` is the exact erf form
(its tanh form is `"gelu_new"` / `"gelu_pytorch_tanh"`). We store the unambiguous name.
"""
import dataclasses
import json
import os

from bertprep.io import fs
from bertprep.errors import BertprepError

# Activation names as stored in BertConfig.hidden_act.
GELU_TANH = "gelu_tanh"
GELU_ERF = "gelu_erf"
KNOWN_ACTIVATIONS = (GELU_TANH, GELU_ERF, "relu", "tanh", "linear")
# Optimizer recipes (trainer/optimization.py): the default AdamW with bias correction, BERT's original.
OPTIMIZERS = ("adamw", "adam_bert")

_HF_ACTIVATIONS = {
    "gelu": GELU_ERF,
    "gelu_new": GELU_TANH,
    "gelu_pytorch_tanh": GELU_TANH,
    "gelu_fast": GELU_TANH,
    "relu": "relu",
    "tanh": "tanh",
    "linear": "linear",
}
_GOOGLE_ACTIVATIONS = {"gelu": GELU_TANH, "relu": "relu", "tanh": "tanh", "linear": "linear"}


@dataclasses.dataclass
class BertConfig:
    """The encoder's shape; field names follow bert_config.json."""

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = GELU_TANH
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self):
        if self.hidden_act not in KNOWN_ACTIVATIONS:
            raise BertprepError(
                f"unknown hidden_act {self.hidden_act!r}; expected one of {', '.join(KNOWN_ACTIVATIONS)}"
            )
        if self.hidden_size % self.num_attention_heads:
            raise BertprepError(
                f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads "
                f"{self.num_attention_heads}"
            )

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json_file(self, path) -> None:
        fs.write_bytes(os.fspath(path), (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8"))

    @classmethod
    def from_dict(cls, data: dict, flavour: str = "auto", source: str = "<dict>") -> "BertConfig":
        """Build from a parsed config; `flavour` is "google", "hf" or "auto" (HF has `model_type`)."""
        if "vocab_size" not in data:
            raise BertprepError(f"{source}: no 'vocab_size' in the BERT config")
        if flavour == "auto":
            flavour = "hf" if ("model_type" in data or "architectures" in data) else "google"
        if flavour == "hf" and data.get("model_type") not in (None, "bert"):
            raise BertprepError(f"{source}: model_type {data.get('model_type')!r} is not a BERT model")
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in fields}
        act = str(values.get("hidden_act", "gelu"))
        if act not in KNOWN_ACTIVATIONS:  # our own files store the canonical name already
            table = _HF_ACTIVATIONS if flavour == "hf" else _GOOGLE_ACTIVATIONS
            if act not in table:
                raise BertprepError(f"{source}: hidden_act {act!r} is not supported")
            act = table[act]
        values["hidden_act"] = act
        try:
            return cls(**values)
        except TypeError as exc:
            raise BertprepError(f"{source}: bad BERT config ({exc})") from None

    @classmethod
    def from_json_file(cls, path, flavour: str = "auto") -> "BertConfig":
        """Read bert_config.json (Google), config.json (Hugging Face) or our own export's config."""
        path = os.fspath(path)
        if fs.is_dir(path):
            for name in ("bert_config.json", "config.json"):
                if fs.exists(fs.join(path, name)):
                    path = fs.join(path, name)
                    break
            else:
                raise BertprepError(f"{path}: no bert_config.json or config.json in this directory")
        if not fs.exists(path):
            raise BertprepError(f"{path}: BERT config file not found")
        try:
            data = json.loads(fs.read_text(path, "BERT config"))
        except json.JSONDecodeError as exc:
            raise BertprepError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(data, flavour=flavour, source=path)
