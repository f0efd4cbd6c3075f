"""Which sentiment model serves: the champion pointer sentiment_model wrote. Shared by every asset
that scores text (review_scores, review_aspects) and the sample runner; never 'the newest' model."""

from shopinsight_pipeline.storage import LakeStorage


def serving_version(storage: LakeStorage) -> dict:
    """The champion pointer (version, kind, path, ...); FileNotFoundError says what to materialize."""
    from shopinsight_pipeline.ml.registry import ModelRegistry

    registry = ModelRegistry(storage.sentiment_registry_path)
    registry.pull_champion(storage.sentiment_registry_store)  # on an object store: into the local cache
    return registry.require_champion()
