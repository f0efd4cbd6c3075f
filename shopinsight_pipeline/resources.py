"""Resources shared by the ML assets (storage lives in storage.py)."""

from dagster import ConfigurableResource
from pydantic import Field

from shopinsight_pipeline.ml.text import LabelScheme


class SentimentLabels(ConfigurableResource):
    """Sentiment classes and the star-rating map: one definition for shards, training and reports."""

    labels: list[str] = Field(default=["negative", "neutral", "positive"], description="Class names, in index order.")
    rating_to_label: dict[str, str] = Field(
        default={"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"},
        description="Star rating -> class name.",
    )

    def scheme(self) -> LabelScheme:
        return LabelScheme(tuple(self.labels), {int(rating): label for rating, label in self.rating_to_label.items()})
