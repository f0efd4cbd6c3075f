"""A learned aspect tagger on the fine-tuned sentiment transformer: a multi-label head (one sigmoid
per aspect) trained with Accelerate on the lexicon's labels of the reviews' clauses (issue 24.3c).

It is weakly supervised like the TF-IDF tagger (aspects/learned.py) and kept from re-learning the
lexicon: in every training clause the seed words are deleted, so the head must read what surrounds
them ("太慢了，等了一周" is logistics once "物流" is gone). Deleted, not replaced by a mask token: a
placeholder would mark every positive clause and no negative one, and a head can learn the mark
(which never occurs at serving) instead of the words (bench/RESULTS.md measured both).

The encoder starts from the sentiment model the shop fine-tuned (it already reads the shop's
reviews) and is fine-tuned with the head for a fixed step budget, on the GPU when there is one. At
serving the clause is read whole; the lexicon's findings stay and the head adds the aspects it gives
a probability of at least `threshold` (chosen on the hand-labelled dev half by aspects/gate.py).

Clauses without a lexicon aspect are the negatives, sampled to `negatives_per_positive` times the
clauses with one, and each aspect's loss is weighted by how rare it is (capped), so that the head
does not learn to say nothing. The weights are written with safetensors only.
"""

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from shopinsight_pipeline.aspects.learned import MASK, with_learned
from shopinsight_pipeline.aspects.lexicon import LexiconTagger
from shopinsight_pipeline.aspects.settings import TRANSFORMER_HEAD, TransformerTaggerSettings
from shopinsight_pipeline.aspects.taxonomy import Taxonomy
from shopinsight_pipeline.ml import model_io
from shopinsight_pipeline.ml.batching import pad_batch
from shopinsight_pipeline.ml.inference import predict_proba
from shopinsight_pipeline.ml.scorers import TextTokenizer

HEAD_FILE = "aspect_head.json"


class TransformerTagger:
    kind = TRANSFORMER_HEAD

    def __init__(
        self,
        lexicon: LexiconTagger,
        model,
        tokenizer,
        aspects: Sequence[str],
        settings: TransformerTaggerSettings,
        source: str,
        device: torch.device,
        cache: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.lexicon, self.model, self.tokenizer = lexicon, model, tokenizer
        self.aspects = list(aspects)
        self.settings = settings
        self.source = source  # the model directory the encoder came from
        self.device = device
        self.version = f"{TRANSFORMER_HEAD}-{lexicon.version}"
        self.encode = TextTokenizer(tokenizer, settings.max_length)
        self._cache = {} if cache is None else cache  # clause -> probabilities, shared by at_threshold copies

    @classmethod
    def fit(
        cls,
        clauses: Sequence[str],
        lexicon: LexiconTagger,
        model_dir: Path,
        settings: TransformerTaggerSettings | None = None,
        device: str | None = None,
        log: Callable[[str], None] = print,
    ) -> "TransformerTagger":
        """Fine-tune `model_dir`'s encoder with a new multi-label head on distinct clauses labelled by
        `lexicon`, seed words masked."""
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        settings = settings or TransformerTaggerSettings()
        set_seed(settings.seed)
        tokenizer = model_io.load_tokenizer(model_dir)
        placeholder = (
            (tokenizer.mask_token or MASK) if settings.seed_placeholder == "mask" else settings.seed_placeholder
        )
        texts, targets, aspects = training_set(clauses, lexicon, placeholder, settings)
        if not aspects:
            raise ValueError(
                f"no aspect has {settings.min_positive_clauses} clauses the lexicon labels: nothing to learn"
            )
        labels = dict(enumerate(aspects))
        model = model_io.load_model(model_dir, num_labels=len(aspects), id2label=labels, multi_label=True)
        accelerator = Accelerator(cpu=(device == "cpu") or not torch.cuda.is_available())
        encode = TextTokenizer(tokenizer, settings.max_length)
        sequences, _ = encode(texts)
        head = [p for name, p in model.named_parameters() if name.startswith("classifier")]
        body = [p for name, p in model.named_parameters() if not name.startswith("classifier")]
        optimizer = torch.optim.AdamW(
            [{"params": body, "lr": settings.learning_rate}, {"params": head, "lr": settings.head_learning_rate}]
        )
        model, optimizer = accelerator.prepare(model, optimizer)
        positives = targets.sum(axis=0)
        weights = np.clip((len(targets) - positives) / np.maximum(positives, 1), 1.0, settings.max_positive_weight)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(weights, dtype=torch.float32))
        loss_fn = loss_fn.to(accelerator.device)
        order = random.Random(settings.seed)
        indices: list[int] = []
        model.train()
        log(
            f"aspect head: {len(texts)} clauses ({int((targets.sum(axis=1) > 0).sum())} with an aspect), "
            f"{len(aspects)} aspects, {settings.max_steps} steps on {accelerator.device}"
        )
        for step in range(1, settings.max_steps + 1):
            if len(indices) < settings.batch_size:  # a new pass over the clauses, shuffled
                indices += order.sample(range(len(texts)), len(texts))
            batch, indices = indices[: settings.batch_size], indices[settings.batch_size :]
            inputs = pad_batch([sequences[i] for i in batch], tokenizer.pad_token_id)
            logits = model(**{name: tensor.to(accelerator.device) for name, tensor in inputs.items()}).logits
            loss = loss_fn(logits.float(), torch.tensor(targets[batch], device=accelerator.device))
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            if step % 50 == 0 or step == settings.max_steps:
                log(f"aspect head: step {step}/{settings.max_steps}, loss {loss.item():.4f}")
        model = accelerator.unwrap_model(model).eval()
        return cls(lexicon, model, tokenizer, aspects, settings, str(model_dir), accelerator.device)

    def at_threshold(self, threshold: float) -> "TransformerTagger":
        """The same head adding what it finds with a probability of at least `threshold`."""
        return TransformerTagger(
            self.lexicon,
            self.model,
            self.tokenizer,
            self.aspects,
            replace(self.settings, threshold=threshold),
            self.source,
            self.device,
            self._cache,
        )

    def probabilities(self, clauses: Sequence[str]) -> np.ndarray:
        """P(aspect) per clause (rows) and learned aspect (columns), the clause read whole."""
        new = [clause for clause in dict.fromkeys(clauses) if clause not in self._cache]
        if new:
            sequences, _ = self.encode(new)
            found = predict_proba(
                self.model, sequences, self.tokenizer.pad_token_id, 128, self.device, multi_label=True
            )
            self._cache.update(zip(new, found, strict=True))
        if not clauses:
            return np.zeros((0, len(self.aspects)), dtype=np.float32)
        return np.vstack([self._cache[clause] for clause in clauses])

    def tag(self, clauses: Sequence[str]) -> list[list[str]]:
        """The lexicon's aspects of each clause, and those the head adds, in taxonomy order."""
        return with_learned(self.lexicon, clauses, self.probabilities(clauses), self.aspects, self.settings.threshold)

    def save(self, directory: Path) -> None:
        """The model as safetensors with its tokenizer, and the head's aspects and settings as JSON."""
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(str(directory), safe_serialization=True)
        self.tokenizer.save_pretrained(str(directory))
        payload = {
            "kind": TRANSFORMER_HEAD,
            "aspects": self.aspects,
            "settings": asdict(self.settings),
            "source": self.source,
            "taxonomy_version": self.lexicon.taxonomy.version,
        }
        (directory / HEAD_FILE).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, taxonomy: Taxonomy, device: str | None = None) -> "TransformerTagger":
        payload = json.loads((directory / HEAD_FILE).read_text(encoding="utf-8"))
        if payload["taxonomy_version"] != taxonomy.version:
            raise ValueError(
                f"{directory} was trained with taxonomy v{payload['taxonomy_version']}, the taxonomy is now "
                f"v{taxonomy.version}: train the aspect tagger again"
            )
        model = model_io.load_model(directory, multi_label=True)
        target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        model.to(target).eval()
        return cls(
            LexiconTagger(taxonomy),
            model,
            model_io.load_tokenizer(directory),
            payload["aspects"],
            TransformerTaggerSettings(**payload["settings"]),
            payload["source"],
            target,
        )


def training_set(
    clauses: Sequence[str], lexicon: LexiconTagger, mask: str, settings: TransformerTaggerSettings
) -> tuple[list[str], np.ndarray, list[str]]:
    """The masked training texts, their 0/1 targets (rows: texts, columns: the aspects learned) and
    those aspects: distinct clauses, every one with an aspect and a seeded sample of the others."""
    distinct = list(dict.fromkeys(clause for clause in clauses if clause and clause.strip()))
    rng = random.Random(settings.seed)
    if len(distinct) > settings.max_clauses:
        distinct = rng.sample(distinct, settings.max_clauses)
    labels = lexicon.tag(distinct)
    counts = {key: sum(key in found for found in labels) for key in lexicon.taxonomy.keys}
    aspects = [key for key, count in counts.items() if count >= settings.min_positive_clauses]
    labelled = [i for i, found in enumerate(labels) if found]
    unlabelled = [i for i, found in enumerate(labels) if not found]
    keep = min(len(unlabelled), int(settings.negatives_per_positive * len(labelled)))
    chosen = sorted(labelled + rng.sample(unlabelled, keep))
    texts = [lexicon.mask_with(distinct[i], mask) for i in chosen]
    targets = np.array([[key in labels[i] for key in aspects] for i in chosen], dtype=np.float32)
    return texts, targets.reshape(len(chosen), len(aspects)), aspects


def fine_tuned_transformer(registry_root: Path) -> Path | None:
    """The sentiment transformer the shop fine-tuned, to start the head from: the champion when it is
    a transformer, the transformer part of a serving ensemble, else the newest transformer version of
    the registry (trained but not promoted); None when the registry has none."""
    from shopinsight_pipeline.ml.registry import ModelRegistry
    from shopinsight_pipeline.ml.scorers import ENSEMBLE, TRANSFORMER, read_candidate

    registry = ModelRegistry(registry_root)
    champion = registry.champion()
    if champion is not None:
        candidate = read_candidate(Path(champion["path"]))
        if candidate["kind"] == TRANSFORMER:
            return Path(champion["path"])
        if candidate["kind"] == ENSEMBLE:
            for part in candidate["parts"]:
                if read_candidate(registry.version_path(part["version"]))["kind"] == TRANSFORMER:
                    return registry.version_path(part["version"])
    if not registry.versions_path.is_dir():
        return None
    versions = sorted(path for path in registry.versions_path.iterdir() if not path.name.startswith("."))
    for version in reversed(versions):
        if (version / "candidate.json").is_file() and read_candidate(version)["kind"] == TRANSFORMER:
            return version
    return None
