"""Which aspect tagger serves: the choice aspect_tagger wrote (its pointer under lake/models/).
Shared by review_aspects and `evaluate --task aspects`, as score/serving.py is for the sentiment
scorer; never "the newest" tagger."""

import json

from shopinsight_pipeline.aspects.settings import TRANSFORMER_HEAD
from shopinsight_pipeline.aspects.tagging import Tagger
from shopinsight_pipeline.aspects.taxonomy import Taxonomy
from shopinsight_pipeline.storage import LakeStorage

TAGGER_POINTER = "aspect_tagger.json"  # aspect_tagger's value under lake/models/ (the IO manager writes it)


def serving_tagger(storage: LakeStorage, taxonomy: Taxonomy, device: str | None = None) -> Tagger:
    """The tagger aspect_tagger chose (its pointer under lake/models/), or the lexicon before it ran,
    when it chose the lexicon, or when the taxonomy changed since (a learned tagger knows the old one)."""
    from shopinsight_pipeline.aspects.learned import TFIDF_OVR, LearnedTagger
    from shopinsight_pipeline.aspects.lexicon import LexiconTagger

    pointer_file = storage.models_path / TAGGER_POINTER
    if not pointer_file.exists():
        return LexiconTagger(taxonomy)
    pointer = json.loads(pointer_file.read_text(encoding="utf-8"))
    if pointer.get("taxonomy_version") != taxonomy.version:
        return LexiconTagger(taxonomy)
    if pointer.get("serving") == TFIDF_OVR:
        return LearnedTagger.load(storage.pull_folder(storage.path(pointer["path"])), taxonomy)
    if pointer.get("serving") == TRANSFORMER_HEAD:
        from shopinsight_pipeline.aspects.transformer import TransformerTagger

        return TransformerTagger.load(storage.pull_folder(storage.path(pointer["path"])), taxonomy, device)
    return LexiconTagger(taxonomy)
