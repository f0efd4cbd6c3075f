"""Resources shared by the ML assets (storage lives in storage.py)."""

from dagster import ConfigurableResource
from pydantic import Field

from shopinsight_pipeline.ml.text import LabelScheme

_POLARITY = LabelScheme()


class SentimentLabels(ConfigurableResource):
    """Sentiment classes and the star-rating map: one definition for shards, training and reports.

    Default: polarity (1-2 stars negative, 4-5 positive; 3-star reviews are scored but neither
    trained nor evaluated on). `SentimentLabels.three_class()` adds a neutral class for shops whose
    3-star reviews carry neutral text; `SHOPINSIGHT_SENTIMENT_SCHEME=three_class` selects it in a
    deployment. A rating left out of the map is unlabelled.
    """

    labels: list[str] = Field(default=list(_POLARITY.labels), description="Class names, in index order.")
    rating_to_label: dict[str, str] = Field(
        default={str(rating): label for rating, label in _POLARITY.rating_to_label.items()},
        description="Star rating -> class name; ratings 1-5 left out are scored but not trained or evaluated on.",
    )

    @classmethod
    def three_class(cls) -> "SentimentLabels":
        scheme = LabelScheme.three_class()
        return cls(
            labels=list(scheme.labels),
            rating_to_label={str(rating): label for rating, label in scheme.rating_to_label.items()},
        )

    def scheme(self) -> LabelScheme:
        return LabelScheme(tuple(self.labels), {int(rating): label for rating, label in self.rating_to_label.items()})
