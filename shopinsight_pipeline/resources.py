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


# The embedded sample's pseudonym key: the sample's customers are invented, and `make run` must work
# with no setting. Any other lake refuses to run without its own key.
SAMPLE_PSEUDONYM_KEY = "shopinsight-embedded-sample"


class CustomerPseudonyms(ConfigurableResource):
    """The secret key of the customers' pseudonyms in gold tables (privacy/pseudonyms.py): a
    deployment setting, SHOPINSIGHT_PSEUDONYM_KEY. Keep it in the deployment's secret store; a new
    key gives every customer a new pseudonym (the gold tables' history then no longer joins)."""

    key: str | None = Field(default=None, description="HMAC key of the pseudonyms; None: the embedded sample's only.")

    def key_for(self, storage) -> bytes:
        """The key; without one, the sample's, and only on a lake built from the embedded sample."""
        if self.key:
            return self.key.encode("utf-8")
        manifest = storage.root_path / "landing" / "_planted.json"
        if manifest.exists():
            return SAMPLE_PSEUDONYM_KEY.encode("utf-8")
        raise PermissionError(
            "SHOPINSIGHT_PSEUDONYM_KEY is not set: gold tables show customers by a keyed pseudonym, and only the "
            f"embedded sample (a lake with {manifest}) runs without a key of its own. Set it to a long random "
            "secret from the deployment's secret store (e.g. `openssl rand -hex 32`)."
        )
