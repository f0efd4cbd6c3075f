"""The recommender's settings and the evaluation's constants, light to import: the code location
takes its run-config defaults from here without importing numpy's and scikit-learn's consumers."""

from dataclasses import dataclass

K = 10  # length of a recommendation list
CANDIDATE_NAMES = ("popularity", "repeat", "cooccurrence", "sequence")  # simplest first
EVAL_DAYS = 7  # the evaluation window after the cutoff of the time split
HISTORY_DAYS = 91  # the customer_events window the recommendations are computed from
# insight types whose products are never recommended on their run date (run config: exclude_flagged_by)
FLAGGING_INSIGHTS = ("negative_share_jump", "top_complaint")


@dataclass(frozen=True)
class RecommenderSettings:
    """Defaults sized for the embedded sample (hundreds of orders a day, about a hundred products)."""

    popularity_half_life_days: float = 14.0
    horizon_days: int = 30  # b bought within this many days after a counts for (a, b)
    pair_half_life_days: float = 30.0  # a pair seen a month ago counts half
    recency_half_life_days: float = 14.0  # the customer's purchase of a two weeks ago counts half
    repeat_half_life_days: float = 30.0  # repeat candidate: an own purchase a month ago counts half
    # 0: a product just bought may be recommended again. Chosen on evaluation (bench/recommend_real.py):
    # on the Online Retail invoices at T-7, where about half of next week's purchases are re-buys,
    # co-occurrence's NDCG@10 is 0.197 [0.179, 0.213] at 0 and 0.156 [0.140, 0.172] at 14; on the
    # embedded sample 0.213 [0.201, 0.226] at 0 and 0.211 [0.198, 0.222] at 14 (no difference)
    just_bought_days: int = 0
    due_within_days: int = EVAL_DAYS  # a re-order is due when its cycle ends within this many days
    min_reorder_customers: int = 3  # a product is re-bought on a cycle when this many customers
    min_reorder_share: float = 0.2  # (and this share of its buyers) bought it again
    batch_customers: int = 4096


@dataclass(frozen=True)
class GateSettings:
    """How sure the gate must be before a more complex candidate replaces a simpler one."""

    confidence: float = 0.95
    rounds: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class PropensitySettings:
    horizon_days: int = EVAL_DAYS  # the label: a purchase within this many days after T
    snapshots: int = 6  # weekly training snapshots before the evaluation one
    churn_probability: float = 0.2  # a regular below this probability, overdue, is at risk
    min_orders_for_churn: int = 2
    seed: int = 0


@dataclass(frozen=True)
class SequenceSettings:
    """The next-basket transformer (recommend/sequence.py: why this design and size)."""

    dim: int = 32
    layers: int = 2
    heads: int = 2
    max_length: int = 20  # baskets (purchase days) a window holds: the latest 20 at serving
    dropout: float = 0.2
    learning_rate: float = 3e-3
    weight_decay: float = 0.01
    batch_size: int = 128
    epochs: int = 30
    # A training budget that applies only on a CPU, in seconds (0: none); a GPU trains every epoch.
    # Small shops never reach it (the sample's 30 epochs take well under a minute); at 20k products
    # x 200k customers an epoch is ~1,100 steps of ~1 s on 2 cores, and 6 minutes keep fit + serve
    # under 10 (bench/recommend_scale.py). When it binds, the steps trained depend on the machine.
    cpu_max_seconds: float = 360.0
    seed: int = 0
    cpu: bool = False  # force the CPU even when a GPU is there
    mixed_precision: str = "no"
    # CPU threads while training (0: torch's default, one per core). A small model trains faster on
    # 1 than on several, by far where the cores are shared (a busy CI runner, a pod's CPU limit)
    threads: int = 0


# the features look back 90 days from the earliest training snapshot, which lies snapshots + 1 weeks back
PROPENSITY_HISTORY_DAYS = 90 + EVAL_DAYS * (PropensitySettings.snapshots + 2)
