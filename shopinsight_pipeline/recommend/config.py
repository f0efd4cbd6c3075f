"""Run config of the recommend stage's assets: every default comes from the pure settings
(`recommend/settings.py`), so the assets and the library cannot drift apart."""

import dataclasses

from dagster import Config
from pydantic import Field

from shopinsight_pipeline.recommend.settings import (
    CANDIDATE_NAMES,
    EVAL_DAYS,
    FLAGGING_INSIGHTS,
    GateSettings,
    K,
    PropensitySettings,
    RecommenderSettings,
    SequenceSettings,
)

SETTINGS, GATE, SEQUENCE, PROPENSITY = RecommenderSettings(), GateSettings(), SequenceSettings(), PropensitySettings()


class RecommenderConfig(Config):
    """Run config of recommender_model; every default comes from the pure settings."""

    eval_days: int = Field(default=EVAL_DAYS, description="Train up to T - eval_days, evaluate on the days after.")
    k: int = Field(default=K, description="Length of a recommendation list.")
    popularity_half_life_days: float = SETTINGS.popularity_half_life_days
    horizon_days: int = Field(
        default=SETTINGS.horizon_days, description="b bought within this many days after a counts for the pair."
    )
    pair_half_life_days: float = SETTINGS.pair_half_life_days
    recency_half_life_days: float = SETTINGS.recency_half_life_days
    just_bought_days: int = Field(
        default=SETTINGS.just_bought_days,
        description="A product the customer bought this recently is not recommended, unless its re-order cycle is "
        "due (0: re-buys are recommended; the default, chosen on evaluation: on real shops half of next week's "
        "purchases are re-buys).",
    )
    gate_confidence: float = Field(
        default=GATE.confidence,
        description="A more complex candidate replaces a simpler one only when the paired bootstrap interval of "
        "their NDCG@10 difference, at this confidence, lies above zero.",
    )
    bootstrap_rounds: int = GATE.rounds
    candidates: list[str] = Field(
        default=list(CANDIDATE_NAMES),
        description="Candidates to compare, simplest first (each serves only if it beats every simpler one); "
        "leave 'sequence' out where training it is too slow.",
    )
    sequence_epochs: int = Field(default=SEQUENCE.epochs, description="Passes over the purchase sequences.")
    sequence_dim: int = Field(default=SEQUENCE.dim, description="Width of the sequence model's embeddings.")
    sequence_layers: int = SEQUENCE.layers
    sequence_max_length: int = Field(
        default=SEQUENCE.max_length, description="Latest baskets (purchase days) a sequence keeps."
    )
    force_cpu: bool = Field(default=SEQUENCE.cpu, description="Train the sequence model on the CPU even with a GPU.")
    sequence_cpu_max_seconds: float = Field(
        default=SEQUENCE.cpu_max_seconds,
        description="Training budget of the sequence model on a CPU, in seconds (0: none); a GPU trains every "
        "epoch. Small shops never reach it.",
    )

    def sequence(self) -> SequenceSettings:
        return dataclasses.replace(
            SEQUENCE,
            epochs=self.sequence_epochs,
            dim=self.sequence_dim,
            layers=self.sequence_layers,
            max_length=self.sequence_max_length,
            cpu=self.force_cpu,
            cpu_max_seconds=self.sequence_cpu_max_seconds,
        )

    def settings(self) -> RecommenderSettings:
        return RecommenderSettings(
            popularity_half_life_days=self.popularity_half_life_days,
            horizon_days=self.horizon_days,
            pair_half_life_days=self.pair_half_life_days,
            recency_half_life_days=self.recency_half_life_days,
            just_bought_days=self.just_bought_days,
            due_within_days=self.eval_days,
        )

    def gate(self) -> GateSettings:
        return GateSettings(confidence=self.gate_confidence, rounds=self.bootstrap_rounds)


class RecommendationsConfig(Config):
    active_days: int = Field(default=30, description="Customers who bought in this many days up to the run date.")
    k: int = Field(default=K, description="Products per customer.")
    exclude_flagged_by: list[str] = Field(
        default=list(FLAGGING_INSIGHTS),
        description="Never recommend a product an insight of these types names on the run date ([] to allow).",
    )


class PropensityConfig(Config):
    snapshots: int = Field(
        default=PROPENSITY.snapshots,
        description="Weekly snapshots to train on (each: features as of a day, label: a purchase in the 7 after).",
        ge=1,
        le=PROPENSITY.snapshots,
    )
    churn_probability: float = Field(
        default=PROPENSITY.churn_probability,
        description="A customer with 2+ orders in 90 days, overdue (1.5x its usual gap) and below this "
        "probability is flagged churn_risk.",
    )

    def settings(self) -> PropensitySettings:
        return dataclasses.replace(PROPENSITY, snapshots=self.snapshots, churn_probability=self.churn_probability)
