"""Small matplotlib charts as PNG bytes or Markdown images for asset metadata and reports."""

import base64
import io

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # no display on servers and in tests
import matplotlib.pyplot as plt


def figure_png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def markdown_image(png: bytes, title: str) -> str:
    """A Markdown image the Dagster UI renders inline (data URI)."""
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode()})"


def reliability_chart(reliability_by_candidate: dict[str, list[dict]]) -> bytes:
    """Accuracy against confidence per bin; the diagonal is perfect calibration."""
    figure, axis = plt.subplots(figsize=(4.5, 4))
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name, bins in reliability_by_candidate.items():
        axis.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", label=name)
    axis.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title="Reliability on the test split")
    axis.legend(fontsize=8)
    return figure_png(figure)


def learning_curve(history: list[dict]) -> bytes:
    """Validation loss and macro-F1 over training steps."""
    figure, loss_axis = plt.subplots(figsize=(5.5, 3.5))
    steps = [record["step"] for record in history]
    loss_axis.plot(steps, [record["validation_loss"] for record in history], color="tab:red", marker=".")
    loss_axis.set(xlabel="step", ylabel="validation loss")
    f1_axis = loss_axis.twinx()
    f1_axis.plot(steps, [record["validation_macro_f1"] for record in history], color="tab:blue", marker=".")
    f1_axis.set_ylabel("validation macro-F1")
    loss_axis.set_title("Fine-tuning")
    return figure_png(figure)


def forecast_chart(history, forecast, measure: str = "revenue") -> bytes:
    """Small multiples per category: recent history, forecast and its 80% / 95% bands.

    `history` has date, category and `measure`; `forecast` the sales_forecast columns.
    """
    categories = sorted(set(forecast.get_column("category").to_list()))
    columns = 3
    rows = max(1, -(-len(categories) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.6 * rows), squeeze=False, sharex=True)
    for axis, category in zip(axes.flat, categories, strict=False):
        past = history.filter(history["category"] == category).sort("date")
        ahead = forecast.filter(forecast["category"] == category).sort("target_date")
        axis.plot(past["date"].to_list(), past[measure].to_list(), color="black", linewidth=1)
        dates = ahead["target_date"].to_list()
        axis.fill_between(dates, ahead[f"{measure}_lo95"].to_list(), ahead[f"{measure}_hi95"].to_list(), alpha=0.2)
        axis.fill_between(dates, ahead[f"{measure}_lo80"].to_list(), ahead[f"{measure}_hi80"].to_list(), alpha=0.35)
        axis.plot(dates, ahead[measure].to_list(), color="tab:blue")
        axis.set_title(category, fontsize=9)
        axis.tick_params(labelsize=7, labelrotation=45)
    for axis in list(axes.flat)[len(categories) :]:
        axis.set_visible(False)
    figure.suptitle(f"daily {measure}: history and forecast (80% / 95% intervals)", fontsize=10)
    return figure_png(figure)


def sentiment_chart(daily) -> bytes:
    """Weekly share of negative reviews (by the model) per category; `daily` has date, category,
    reviews and negative."""
    import polars as pl

    weekly = (
        daily.sort("date")
        .group_by_dynamic("date", every="1w", group_by="category")
        .agg(pl.col("negative").sum(), pl.col("reviews").sum())
        .with_columns((pl.col("negative") / pl.col("reviews")).alias("share"))
        .sort("category", "date")
    )
    figure, axis = plt.subplots(figsize=(7, 3.5))
    for (category,), rows in weekly.group_by("category", maintain_order=True):
        axis.plot(rows["date"].to_list(), rows["share"].to_list(), marker=".", label=category)
    axis.set(ylabel="negative share (model)", title="Negative reviews by category, weekly")
    axis.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    axis.tick_params(labelsize=8, labelrotation=30)
    axis.legend(fontsize=7, ncol=3)
    return figure_png(figure)


def aspect_heatmap(shares) -> bytes:
    """Share of an aspect's mentions that are negative, per category (rows) and aspect (columns),
    over the last 28 days; `shares` has category, aspect, mentions and negative. Blank: no mentions."""
    import numpy as np

    categories = sorted(set(shares["category"].to_list()))
    aspects = sorted(set(shares["aspect"].to_list()))
    grid = np.full((len(categories), len(aspects)), np.nan)
    counts = np.zeros_like(grid)
    for row in shares.iter_rows(named=True):
        i, j = categories.index(row["category"]), aspects.index(row["aspect"])
        grid[i, j] = row["negative"] / row["mentions"] if row["mentions"] else np.nan
        counts[i, j] = row["mentions"]
    figure, axis = plt.subplots(figsize=(max(5, 0.8 * len(aspects) + 2), 0.45 * len(categories) + 1.5))
    image = axis.imshow(np.ma.masked_invalid(grid), cmap="Reds", vmin=0, vmax=1, aspect="auto")
    for i in range(len(categories)):
        for j in range(len(aspects)):
            if counts[i, j]:
                axis.text(j, i, f"{grid[i, j]:.0%}\n({int(counts[i, j])})", ha="center", va="center", fontsize=6)
    axis.set_xticks(range(len(aspects)), [aspect.replace("_", " ") for aspect in aspects], rotation=35, ha="right")
    axis.set_yticks(range(len(categories)), categories)
    axis.set_title("Negative share of aspect mentions, last 28 days (mentions)", fontsize=9)
    figure.colorbar(image, ax=axis, format=matplotlib.ticker.PercentFormatter(1.0), fraction=0.03)
    return figure_png(figure)


def backtest_chart(summary, coverage_target: tuple[float, float] = (0.75, 0.85)) -> bytes:
    """Per method of a demand backtest (inventory/demand.summarize_backtest's rows): MASE and 80%
    interval coverage as points with their 95% intervals over resampled products; the target band
    of coverage is shaded and MASE 1 (the in-sample naive's error) drawn, so a gate's choice and an
    interval that misses its target show at a glance."""
    methods = summary["method"].to_list()
    figure, (mase_axis, coverage_axis) = plt.subplots(1, 2, figsize=(8, 0.45 * len(methods) + 1.2), sharey=True)
    rows = list(range(len(methods)))
    for axis, column, low, high in (
        (mase_axis, "mase", "mase_low", "mase_high"),
        (coverage_axis, "coverage80", "coverage_low", "coverage_high"),
    ):
        points = summary[column].to_numpy()
        errors = [points - summary[low].to_numpy(), summary[high].to_numpy() - points]
        axis.errorbar(points, rows, xerr=errors, fmt="o", color="tab:blue", capsize=3)
    mase_axis.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    mase_axis.set(title="MASE (lower is better)", yticks=rows, yticklabels=methods)
    mase_axis.invert_yaxis()
    coverage_axis.axvspan(*coverage_target, color="tab:green", alpha=0.15)
    coverage_axis.set(title="80% interval coverage (target shaded)")
    coverage_axis.xaxis.set_major_locator(matplotlib.ticker.MultipleLocator(0.05))  # whole percents only
    coverage_axis.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    figure.suptitle("demand backtest per method, 95% intervals over products", fontsize=10)
    return figure_png(figure)


def reorder_chart(plan, limit: int = 20) -> bytes:
    """The products most at risk of running out (inventory_plan rows, highest stock-out probability
    first): on hand and on order as stacked bars against the reorder point and the order-up-to
    level, so the planner sees at a glance how far each is below its line and what today's order
    brings it to."""
    import numpy as np

    shown = plan.filter(plan["reorder_point"].is_not_null()).sort("stockout_probability", descending=True)
    shown = shown.head(limit)
    products = shown["product_id"].to_list()
    rows = np.arange(len(products))
    figure, axis = plt.subplots(figsize=(7, 0.32 * len(products) + 1.4))
    on_hand = shown["on_hand"].to_numpy().astype(float)
    axis.barh(rows, on_hand, color="tab:blue", label="on hand")
    axis.barh(rows, shown["on_order"].to_numpy().astype(float), left=on_hand, color="tab:cyan", label="on order")
    axis.scatter(shown["reorder_point"].to_numpy(), rows, marker="|", s=160, color="tab:red", label="reorder point")
    axis.scatter(shown["order_up_to"].to_numpy(), rows, marker="|", s=160, color="black", label="order-up-to level")
    labels = [f"{product} ({risk:.0%})" for product, risk in zip(products, shown["stockout_probability"], strict=True)]
    axis.set(yticks=rows, yticklabels=labels, xlabel="units")
    axis.invert_yaxis()
    axis.tick_params(labelsize=7)
    axis.legend(fontsize=7, loc="lower left", bbox_to_anchor=(1.01, 0))  # beside the bars, never over them
    axis.set_title("Most at risk of running out (stock-out probability): stock against its levels", fontsize=9)
    return figure_png(figure)
