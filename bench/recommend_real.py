"""The recommender candidates on a real shop: the UCI Online Retail invoices (issue 22).

    .venv/bin/python bench/recommend_real.py [--data ../shared/eval/online_retail.parquet]
        [--candidates NAME,...] [--just-bought-days N[,N...]] [--sequence-epochs N] [--cpu]
        [--sample-customers 1.0] [--examples 3]

(defaults: every candidate of `gate.CANDIDATES`, the settings' just_bought_days and epochs)

A UK online gift shop's invoice lines, 2010-12-01 to 2011-12-09 (541,909 lines, wholesale
customers with long histories, thousands of products, strong repeat buying), cleaned into the
project's purchases frame (customer_id, product_id, category, day), then judged the way the
pipeline's `recommender_model` judges the sample (`gate.compare_candidates`, mirrored here with
timing): train on every purchase up to T-7 (T: the last day with purchases), recommend 10 products
on T-6 to each customer who bought in the 7 days after the cutoff, and score the lists against what
they bought there (Recall@10, NDCG@10, MRR with bootstrap intervals over customers, catalogue
coverage; all, new and returning customers). The gate then says which candidate would serve and
why. Every candidate is fitted on all customers (`--sample-customers` is for quick trials only).

Each candidate runs in its own child process (multiprocessing, "spawn"), so its peak resident
memory (`ru_maxrss` read inside the child: imports, the purchases, the fit and the lists) is its
own; "base MB" is the child's resident memory before the fit (imports, torch included, and the
purchases). "fit s" is `fit_candidate` (for the sequence model: its training), "serve s" is
`recommend` for every evaluated customer. `--just-bought-days` sweeps
`RecommenderSettings.just_bought_days` (each value refits popularity and co-occurrence; the sequence
model is trained once and reused, since the setting only changes the exclusions).

Cleaning (every rule's count is printed; the rules apply in this order):
- CustomerID null: dropped (no customer to recommend to or learn a history from);
- cancellations: InvoiceNo starting with "C" dropped (the credit notes of earlier invoices; the
  original invoice lines stay, as the pipeline keeps a delivered order whose return came later);
- Quantity <= 0 dropped (stock adjustments left after the cancellations);
- UnitPrice <= 0 dropped (free samples and manual fixes, not purchases);
- non-product StockCodes dropped: a product code starts with five digits (22423, 85123A, 79323W);
  the rest are postage (POST, DOT, C2), fees and adjustments (M, m, D, S, B, BANK CHARGES,
  AMAZONFEE, CRUK, PADS), gift vouchers (gift_0001_*) and dotcom-shop codes (DCGS*);
- product_id: StockCode upper-cased (85123a and 85123A would be one product; a guard: no kept line
  of this file has a lower-case code); customer_id: CustomerID as a string without ".0";
- day: InvoiceDate's calendar day in Europe/London. The timestamps are naive; they are taken as
  London wall time, since the shop's first invoice of the day is at about 08:30 in both GMT and
  BST months (UTC stamps would open an hour earlier in summer); either way no invoice falls
  between 21:00 and 06:00, so the calendar day does not depend on it (both checks printed);
- category: the data has none. Every product gets the one category "all": this makes
  popularity's weighting by the customer's category shares neutral (plain decayed best sellers),
  where a made-up grouping (words of the description) would inject a signal the shop never gave;
- one row per kept invoice line (the pipeline's purchases: an order line is one purchase +1 whatever
  its quantity; lines of one product on one day count more in popularity, once in the pair counts);
- product names: the most frequent Description of each product among its kept lines, for printing.
"""

import argparse
import dataclasses
import json
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from _child import measure_in_child

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import polars as pl

DATA = Path(__file__).resolve().parents[2] / "shared" / "eval" / "online_retail.parquet"
CATEGORY = "all"
PRODUCT_CODE = r"^\d{5}"  # a product's StockCode starts with five digits


def rss_mb() -> float:
    """This process's peak resident memory so far, MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def clean(raw: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str], list[tuple[str, int, int]]]:
    """The purchases frame, each product's name and (rule, rows removed, rows left) per rule."""
    rules = [
        ("CustomerID null", pl.col("CustomerID").is_null()),
        ("cancellation invoice (InvoiceNo C...)", pl.col("InvoiceNo").str.starts_with("C")),
        ("Quantity <= 0", pl.col("Quantity") <= 0),
        ("UnitPrice <= 0", pl.col("UnitPrice") <= 0),
        ("non-product StockCode", ~pl.col("StockCode").str.contains(PRODUCT_CODE)),
    ]
    counts, frame = [], raw
    for rule, dropped in rules:
        kept = frame.filter(~dropped)
        counts.append((rule, frame.height - kept.height, kept.height))
        frame = kept
    lines = frame.with_columns(
        customer_id=pl.col("CustomerID").cast(pl.Int64).cast(pl.String),
        product_id=pl.col("StockCode").str.to_uppercase(),
        day=pl.col("InvoiceDate").dt.replace_time_zone("Europe/London").dt.date(),
    )
    names = (
        lines.filter(pl.col("Description").is_not_null())
        .group_by("product_id", "Description")
        .len()
        .sort(["product_id", "len", "Description"], descending=[False, True, False])
        .unique("product_id", keep="first")
    )
    purchases = lines.select("customer_id", "product_id", pl.lit(CATEGORY).alias("category"), "day").sort(
        "day", "customer_id", "product_id"
    )
    return purchases, dict(names.select("product_id", "Description").iter_rows()), counts


def print_cleaning(raw: pl.DataFrame, purchases: pl.DataFrame, counts: list[tuple[str, int, int]]) -> None:
    print(f"{raw.height:,} invoice lines in the file")
    for rule, removed, left in counts:
        print(f"  - {rule:<40} {removed:>8,} removed, {left:>8,} left")
    with_customer = raw.filter(
        pl.col("CustomerID").is_not_null()
        & ~pl.col("InvoiceNo").str.starts_with("C")
        & (pl.col("Quantity") > 0)
        & (pl.col("UnitPrice") > 0)
    )
    codes = (
        with_customer.filter(~pl.col("StockCode").str.contains(PRODUCT_CODE))
        .group_by("StockCode")
        .len()
        .sort("len", "StockCode", descending=[True, False])
    )
    print("    non-product codes dropped: " + ", ".join(f"{code} {n:,}" for code, n in codes.iter_rows()))
    stamps = raw["InvoiceDate"]
    first_stamp, last_stamp = str(stamps.min()), str(stamps.max())
    firsts = (
        raw.group_by(pl.col("InvoiceDate").dt.date().alias("date"))
        .agg(pl.col("InvoiceDate").min().alias("first"))
        .with_columns(
            hour=pl.col("first").dt.hour() + pl.col("first").dt.minute() / 60,
            summer=pl.col("first").dt.replace_time_zone("Europe/London").dt.dst_offset() > pl.duration(),
        )
        .group_by("summer")
        .agg(pl.col("hour").median())
    )
    opening = dict(firsts.iter_rows())
    hours = stamps.dt.hour().to_list()
    print(
        f"  timestamps: {stamps.dtype} (no time zone), {first_stamp} to {last_stamp}; invoices between "
        f"{min(hours)}:00 and {max(hours)}:59 only; median first invoice of a day "
        f"{opening.get(False, float('nan')):.2f} h in GMT months, {opening.get(True, float('nan')):.2f} h in BST "
        "months: London wall time"
    )
    bought = purchases.select("customer_id", "product_id", "day").unique().height
    first_day, last_day = str(purchases["day"].min()), str(purchases["day"].max())
    print(
        f"  purchases: {purchases.height:,} lines ({bought:,} distinct customer, product and day), "
        f"{purchases['customer_id'].n_unique():,} customers, {purchases['product_id'].n_unique():,} products, "
        f"{purchases['day'].n_unique()} days with sales, {first_day} to {last_day}"
    )


def sample_customers(purchases: pl.DataFrame, fraction: float, seed: int = 0) -> pl.DataFrame:
    if fraction >= 1.0:
        return purchases
    customers = np.array(purchases["customer_id"].unique().sort().to_list())
    rng = np.random.default_rng(seed)
    chosen = rng.choice(customers, size=max(1, round(fraction * len(customers))), replace=False)
    return purchases.filter(pl.col("customer_id").is_in(chosen.tolist()))


@dataclasses.dataclass(frozen=True)
class Job:
    """What a child process needs: the candidate, the purchases file and the settings to try."""

    name: str
    purchases: str
    folder: str
    just_bought_days: tuple[int, ...]
    sequence_epochs: int
    cpu: bool


def run_candidate(job: Job) -> None:
    """In the child: the split, then per just_bought_days value fit and recommend; the lists go to
    `folder` as parquet, the timings and memory to result.json."""
    from shopinsight_pipeline.recommend.evaluation import time_split
    from shopinsight_pipeline.recommend.gate import fit_candidate
    from shopinsight_pipeline.recommend.settings import EVAL_DAYS, K, RecommenderSettings, SequenceSettings

    purchases = pl.read_parquet(job.purchases)
    last = purchases["day"].max()
    assert isinstance(last, date)
    split = time_split(purchases, last, EVAL_DAYS)
    customers = split.evaluation["customer_id"].unique().sort().to_list()
    base = rss_mb()
    runs, model = [], None
    for days in job.just_bought_days:
        settings = dataclasses.replace(RecommenderSettings(), just_bought_days=days)
        options: dict = {}
        if job.name == "sequence":
            options["sequence_settings"] = SequenceSettings(epochs=job.sequence_epochs, cpu=job.cpu)
            if model is not None:  # the setting only changes the exclusions: the same weights
                options.update(model=model[0], model_products=model[1])
        started = time.perf_counter()
        fitted = fit_candidate(job.name, split.train, split.as_of, settings, **options)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        lists = fitted.recommend(customers, K)
        serve_seconds = time.perf_counter() - started
        report = getattr(fitted, "report", None)
        if job.name == "sequence" and model is None:
            model = (fitted.model, fitted.product_ids)
        lists.write_parquet(Path(job.folder) / f"{job.name}_{days}.parquet")
        runs.append(
            {
                "just_bought_days": days,
                "fit_seconds": fit_seconds,
                "serve_seconds": serve_seconds,
                "reused_model": job.name == "sequence" and "model" in options,
                "training": {k: v for k, v in report.as_dict().items() if k != "history"} if report else None,
            }
        )
    result = {"base_mb": base, "peak_mb": rss_mb(), "runs": runs}
    (Path(job.folder) / f"{job.name}.json").write_text(json.dumps(result), encoding="utf-8")


def measure(job: Job) -> dict | None:
    return measure_in_child(run_candidate, job)


def training_summary(report: dict) -> str:
    parts = [f"{key} {value:,.4g}" if isinstance(value, float) else f"{key} {value}" for key, value in report.items()]
    return ", ".join(parts)


def shown(interval: dict) -> str:
    return f"{interval['point']:.4f} [{interval['low']:.4f}, {interval['high']:.4f}]"


def evaluate(
    purchases: pl.DataFrame, folder: Path, results: dict[str, dict], days: int
) -> tuple[dict[str, dict], dict[str, np.ndarray], dict[str, pl.DataFrame]]:
    """Metrics per candidate and customer group, per-customer NDCG@10 and the lists, for one value
    of just_bought_days (as gate.compare_candidates computes them)."""
    from shopinsight_pipeline.recommend.candidates import Catalogue
    from shopinsight_pipeline.recommend.evaluation import new_and_returning, time_split
    from shopinsight_pipeline.recommend.gate import judge
    from shopinsight_pipeline.recommend.settings import EVAL_DAYS, GateSettings, K

    gate = GateSettings()
    last = purchases["day"].max()
    assert isinstance(last, date)
    split = time_split(purchases, last, EVAL_DAYS)
    catalogue_size = Catalogue.of(purchases).product_ids.size
    groups = {"all": split.evaluation, **new_and_returning(split)}
    metrics, ndcg, lists_of = {}, {}, {}
    for name in results:
        lists = pl.read_parquet(folder / f"{name}_{days}.parquet")
        metrics[name], ndcg[name] = judge(lists, groups, catalogue_size, gate, K)
        lists_of[name] = lists
    return metrics, ndcg, lists_of


def print_table(results: dict[str, dict], metrics: dict[str, dict], days: int) -> None:
    from shopinsight_pipeline.markdown import table

    rows = []
    for name, result in results.items():
        run = next(r for r in result["runs"] if r["just_bought_days"] == days)
        fit = f"{run['fit_seconds']:.1f}" + (" (reused)" if run["reused_model"] else "")
        for group, m in metrics[name].items():
            if m is None:
                continue
            timing = [fit, f"{run['serve_seconds']:.2f}", f"{result['base_mb']:,.0f}", f"{result['peak_mb']:,.0f}"]
            rows.append(
                [
                    name if group == "all" else "",
                    group,
                    m["customers"],
                    *(timing if group == "all" else ["", "", "", ""]),
                    shown(m["recall_at_10"]),
                    shown(m["ndcg_at_10"]),
                    shown(m["mrr"]),
                    f"{m['catalogue_coverage']:.1%}",
                ]
            )
    headers = ["candidate", "customers", "n", "fit s", "serve s", "base MB", "peak MB"]
    print(table([*headers, "Recall@10", "NDCG@10", "MRR", "coverage"], rows))


def print_sweep(ndcg_of: dict[int, dict[str, np.ndarray]], champions: dict[int, str], gate) -> None:
    """Each candidate's NDCG@10 per just_bought_days value, and its paired difference (same
    customers resampled) to the first value swept."""
    from shopinsight_pipeline.markdown import table
    from shopinsight_pipeline.recommend.gate import paired_difference

    values = list(ndcg_of)
    first = values[0]
    rows = []
    for days in values:
        row: list = [days, champions[days]]
        for name, scores in ndcg_of[days].items():
            cell = f"{scores.mean():.4f}"
            if days != first:
                difference = paired_difference(scores, ndcg_of[first][name], gate)
                cell += f" ({difference.point:+.4f} [{difference.low:+.4f}, {difference.high:+.4f}])"
            row.append(cell)
        rows.append(row)
    names = list(ndcg_of[first])
    print(f"\nNDCG@10 per just_bought_days (in brackets: the paired difference to {first}, 95% bootstrap)")
    print(table(["just_bought_days", "gate's choice", *names], rows))


def print_examples(
    purchases: pl.DataFrame, lists_of: dict[str, pl.DataFrame], names: dict[str, str], count: int
) -> None:
    """A returning customer with a long history, one with a median one, and a new customer (when
    there is one): the latest purchases, each candidate's top 5 (* bought in the evaluation week)."""
    from shopinsight_pipeline.recommend.evaluation import time_split
    from shopinsight_pipeline.recommend.settings import EVAL_DAYS

    last = purchases["day"].max()
    assert isinstance(last, date)
    split = time_split(purchases, last, EVAL_DAYS)
    history = split.train.group_by("customer_id").agg(pl.col("day").n_unique().alias("days"))
    evaluated = split.evaluation.group_by("customer_id").len().join(history, on="customer_id", how="left")
    returning = evaluated.filter(pl.col("days").is_not_null()).sort("days", "customer_id")
    new = evaluated.filter(pl.col("days").is_null()).sort("len", "customer_id", descending=[True, False])
    picks = []
    if returning.height:
        picks += [returning["customer_id"][-1], returning["customer_id"][returning.height // 2]]
    if new.height:
        picks.append(new["customer_id"][0])
    picks = (picks + returning["customer_id"][: max(0, count - len(picks))].to_list())[:count]

    def named(product: str) -> str:
        return f"{product} {names.get(product, '?').strip()[:34]}"

    for customer in picks:
        mine = split.train.filter(pl.col("customer_id") == customer)
        bought = set(split.evaluation.filter(pl.col("customer_id") == customer)["product_id"].to_list())
        kind = f"returning, {mine['day'].n_unique()} purchase days" if mine.height else "new"
        print(f"\ncustomer {customer} ({kind}; {len(bought)} products bought in the evaluation week)")
        recent = mine.select("product_id", "day").unique().sort("day", "product_id", descending=[True, False]).head(4)
        for product, day in recent.iter_rows():
            print(f"    bought {day}: {named(product)}")
        for name, lists in lists_of.items():
            top = lists.filter(pl.col("customer_id") == customer).sort("rank").head(5)
            print(f"  {name}:")
            for product, reason in top.select("product_id", "reason").iter_rows():
                mark = "*" if product in bought else " "
                print(f"    {mark} {named(product):<42} {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--candidates", help="comma-separated, simplest first (default: every gate.CANDIDATES)")
    parser.add_argument("--just-bought-days", help="comma-separated values to sweep (default: the settings')")
    parser.add_argument("--sequence-epochs", type=int, help="default: SequenceSettings().epochs")
    parser.add_argument("--cpu", action="store_true", help="train the sequence model on the CPU even with a GPU")
    parser.add_argument("--sample-customers", type=float, default=1.0, help="fraction of customers (quick trials)")
    parser.add_argument("--examples", type=int, default=3, help="customers whose lists are printed")
    args = parser.parse_args()

    from shopinsight_pipeline.recommend.gate import CANDIDATES, choose
    from shopinsight_pipeline.recommend.settings import EVAL_DAYS, GateSettings, RecommenderSettings, SequenceSettings

    candidates = args.candidates.split(",") if args.candidates else list(CANDIDATES)
    unknown = [name for name in candidates if name not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates {unknown}: choose among {list(CANDIDATES)}")
    candidates = [name for name in CANDIDATES if name in candidates]  # the gate's order, simplest first
    sweep = (
        tuple(int(value) for value in args.just_bought_days.split(","))
        if args.just_bought_days
        else (RecommenderSettings().just_bought_days,)
    )
    epochs = args.sequence_epochs if args.sequence_epochs is not None else SequenceSettings().epochs

    started = time.perf_counter()
    raw = pl.read_parquet(args.data)
    purchases, names, counts = clean(raw)
    print_cleaning(raw, purchases, counts)
    print(f"  read and cleaned in {time.perf_counter() - started:.1f}s")
    purchases = sample_customers(purchases, args.sample_customers)
    if args.sample_customers < 1.0:
        share = f"{args.sample_customers:.0%}"
        print(f"  SAMPLE: {share} of the customers, {purchases.height:,} lines (a trial, not a result)")
    last = purchases["day"].max()
    assert isinstance(last, date)
    from shopinsight_pipeline.recommend.evaluation import new_and_returning, time_split

    split = time_split(purchases, last, EVAL_DAYS)
    groups = new_and_returning(split)
    print(
        f"\nsplit: train up to {split.cutoff} ({split.train.height:,} lines, {split.train['customer_id'].n_unique():,} "
        f"customers), recommend on {split.as_of}, evaluate to {split.last_day}: "
        f"{split.evaluation['customer_id'].n_unique():,} customers ({groups['returning']['customer_id'].n_unique():,} "
        f"returning, {groups['new']['customer_id'].n_unique():,} new), {split.evaluation.height:,} (customer, product)"
    )
    sizes = split.evaluation.group_by("customer_id").len()["len"].to_numpy()
    print(
        f"  products bought per evaluated customer: median {np.median(sizes):.0f}, mean {sizes.mean():.1f}, "
        f"max {sizes.max()} (Recall@10 divides by all of them, so a big basket caps it below 10 / n)"
    )
    print(
        f"candidates: {', '.join(candidates)}; just_bought_days: {', '.join(map(str, sweep))}"
        + (f"; sequence: {epochs} epochs{' on the CPU' if args.cpu else ''}" if "sequence" in candidates else "")
    )

    with tempfile.TemporaryDirectory(prefix="shopinsight-recommend-real-") as temp:
        folder = Path(temp)
        purchases.write_parquet(folder / "purchases.parquet")
        results = {}
        for name in candidates:
            job = Job(name, str(folder / "purchases.parquet"), temp, sweep, epochs, args.cpu)
            result = measure(job)
            if result is None:
                continue
            results[name] = result
            first = result["runs"][0]
            print(
                f"  {name}: fit {first['fit_seconds']:.1f}s, serve {first['serve_seconds']:.2f}s, peak "
                f"{result['peak_mb']:,.0f} MiB (child wall {result['wall_seconds']:.0f}s)"
                + (f"; training: {training_summary(first['training'])}" if first["training"] else ""),
                flush=True,
            )
        if not results:
            raise SystemExit("no candidate finished")
        gate = GateSettings()
        ndcg_of, champions = {}, {}
        for days in sweep:
            metrics, ndcg, lists_of = evaluate(purchases, folder, results, days)
            print(f"\njust_bought_days = {days}")
            print_table(results, metrics, days)
            order = list(results)
            champion, reasons = choose(ndcg, order, gate)
            print(f"gate: {champion} would serve" + (f": {'; '.join(reasons)}" if reasons else " (the only candidate)"))
            if days == sweep[0]:
                first_lists = lists_of
            ndcg_of[days], champions[days] = ndcg, champion
        if len(sweep) > 1:
            print_sweep(ndcg_of, champions, gate)
        if args.examples:
            print(f"\nexamples (just_bought_days = {sweep[0]}; * bought in the evaluation week):", end="")
            print_examples(purchases, first_lists, names, args.examples)
    print(f"\ntotal {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
