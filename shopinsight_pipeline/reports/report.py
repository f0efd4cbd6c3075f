"""insight_report: one self-contained HTML page (charts inlined as PNG data) for a run date.

Built here from plain frames, without Dagster, so the page is tested and rendered outside a run;
the asset only writes the files and reports them.
"""

import base64
import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from shopinsight_pipeline.charts import aspect_heatmap, forecast_chart, sentiment_chart
from shopinsight_pipeline.reports.quality import quality_of, reject_rates
from shopinsight_pipeline.reports.trends import complete_daily_grid, first_date
from shopinsight_pipeline.reports.windows import stack, written_or_empty

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0; } .sub { color: #666; margin-top: .2rem; }
.kpis { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1.5rem 0; }
.kpi { border: 1px solid #ddd; border-radius: 8px; padding: .8rem 1.2rem; min-width: 150px; }
.kpi .value { font-size: 1.6rem; font-weight: 600; } .kpi .label { color: #666; font-size: .85rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; font-size: .9rem; }
th, td { border-bottom: 1px solid #eee; padding: .35rem .5rem; text-align: left; }
.high { color: #b00020; font-weight: 600; } .medium { color: #b36b00; } .low { color: #555; }
img { max-width: 100%; } .note { color: #666; font-size: .85rem; }
"""


CUSTOMER_TYPES = ["customers_at_risk", "top_cross_sell_pair"]
INVENTORY_TYPES = ["stockout_risk", "lost_sales", "overstock"]


def kpi_tiles(kpis: dict[str, str]) -> str:
    return "".join(
        f'<div class="kpi"><div class="value">{html.escape(value)}</div>'
        f'<div class="label">{html.escape(label)}</div></div>'
        for label, value in kpis.items()
    )


def table(frame: pl.DataFrame, columns: list[str]) -> str:
    if frame.is_empty():
        return '<p class="note">nothing to show</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = []
    for row in frame.select(columns).iter_rows(named=True):
        cells = []
        for column in columns:
            value = row[column]
            text = f"{value:,.4g}" if isinstance(value, float) else str(value)
            css = f' class="{html.escape(text)}"' if column == "severity" else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def subject(findings: pl.DataFrame) -> pl.Expr:
    """What a finding is about, as a reader knows it: the product's id with its name where the
    products dimension named it (insights written before it have no entity_name), else the id."""
    if "entity_name" not in findings.columns:
        return pl.col("entity").alias("subject")
    named = pl.format("{} ({})", pl.col("entity"), pl.col("entity_name"))
    return pl.when(pl.col("entity_name").is_not_null()).then(named).otherwise(pl.col("entity")).alias("subject")


def image(png: bytes, title: str) -> str:
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def render_report(
    run_date: date,
    kpis: dict[str, str],
    insights: pl.DataFrame,
    quality: pl.DataFrame,
    charts: dict[str, bytes],
    notes: list[str],
    complaints_chart: bytes | None = None,
) -> str:
    """The whole page; every piece of text is escaped, every chart inlined, nothing fetched."""
    sections = [
        f"<h1>ShopInsight report</h1><p class='sub'>run date {run_date.isoformat()}</p>",
        f"<div class='kpis'>{kpi_tiles(kpis)}</div>",
        "<h2>Top insights</h2>",
        table(insights.head(15), ["rank", "severity", "type", "sentence"])
        if insights.height
        else '<p class="note">no findings for this date</p>',
    ]
    customers = insights.filter(pl.col("type").is_in(CUSTOMER_TYPES)) if insights.height else insights
    sections += [
        "<h2>Customers</h2>",
        table(customers, ["severity", "type", "sentence"])
        if customers.height
        else '<p class="note">no customer findings for this date (customers at risk, cross-sell pairs)</p>',
    ]
    stock = insights.filter(pl.col("type").is_in(INVENTORY_TYPES)) if insights.height else insights
    sections += [
        "<h2>Inventory</h2>",
        table(stock, ["severity", "type", "sentence"])
        if stock.height
        else '<p class="note">no product at risk of running out, overstocked or short last week '
        "(or no inventory_plan for this date)</p>",
    ]
    surges = insights.filter(pl.col("type") == "aspect_negative_surge") if insights.height else insights
    sections += [
        "<h2>Why customers complain</h2>",
        image(complaints_chart, "Negative share of aspect mentions by category")
        if complaints_chart
        else '<p class="note">no aspect mentions in the last 28 days</p>',
        "<h3>This week's surges</h3>",
        table(surges.with_columns(subject(surges)), ["severity", "subject", "sentence"])
        if surges.height
        else '<p class="note">no aspect of a product or category drew significantly more complaints this week</p>',
    ]
    for title, png in charts.items():
        sections += [f"<h2>{html.escape(title)}</h2>", image(png, title)]
    sections += [
        "<h2>Data quality</h2>",
        table(quality, list(quality.columns)) if quality.height else '<p class="note">no row counts</p>',
    ]
    if notes:
        sections.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    body = "\n".join(sections)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>ShopInsight {run_date.isoformat()}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def report_kpis(sales: pl.DataFrame, sentiment: pl.DataFrame, forecast: pl.DataFrame, findings: pl.DataFrame) -> dict:
    """The tiles at the top of the page: the last week's sales and reviews, the forecast, high findings."""
    kpis = {
        "revenue, last 7 days": f"{sales.get_column('revenue').sum():,.0f}" if sales.height else "n/a",
        "orders, last 7 days": f"{sales.get_column('orders').sum():,}" if sales.height else "n/a",
        "reviews, last 7 days": f"{sentiment.get_column('reviews').sum():,}" if sentiment.height else "n/a",
    }
    if sentiment.height:
        negative = float((sentiment.get_column("share_negative") * sentiment.get_column("reviews")).sum())
        reviews = int(sentiment.get_column("reviews").sum())
        kpis["negative reviews (model)"] = f"{negative / max(reviews, 1):.1%}"
    if forecast.height:
        kpis[f"forecast revenue, next {forecast.get_column('horizon_day').max()!s} days"] = (
            f"{forecast.get_column('revenue').sum():,.0f}"
        )
    kpis["high-severity findings"] = (
        str(findings.filter(pl.col("severity") == "high").height) if findings.height else "0"
    )
    return kpis


def sentiment_by_category(sentiment: pl.DataFrame, recent_orders: Mapping[str, pl.LazyFrame]) -> pl.DataFrame:
    """product_sentiment rows with their product's category (from the orders; unknown if none) and
    negative reviews, for the sentiment chart."""
    products = (
        pl.concat([frame.select("product_id", "category") for frame in recent_orders.values()])
        .unique("product_id")
        .collect()
        if recent_orders
        else pl.DataFrame(schema={"product_id": pl.String, "category": pl.String})
    )
    return sentiment.join(products, on="product_id", how="left").with_columns(
        pl.col("category").fill_null("unknown"),
        (pl.col("share_negative") * pl.col("reviews")).alias("negative"),
    )


def complaints_by_category(aspect_sentiment: pl.DataFrame) -> pl.DataFrame:
    """Per category and aspect: mentions and negative mentions of the last 28 days (aspect_sentiment
    of the run date), for the "Why customers complain" chart."""
    if aspect_sentiment.is_empty():
        return pl.DataFrame(
            schema={"category": pl.String, "aspect": pl.String, "mentions": pl.Int64, "negative": pl.Int64}
        )
    return (
        aspect_sentiment.group_by("category", "aspect")
        .agg(
            pl.col("mentions_28d").sum().cast(pl.Int64).alias("mentions"),
            pl.col("negative_mentions_28d").sum().cast(pl.Int64).alias("negative"),
        )
        .filter(pl.col("mentions") > 0)
        .sort("category", "aspect")
    )


@dataclass(frozen=True)
class Report:
    """One run date's report: the files of its folder, its charts by title, and what it says."""

    files: dict[str, bytes]  # report.html and chart-N.png
    charts: dict[str, bytes]
    findings: int
    notes: list[str]


def build_report(
    day: date,
    *,
    insights_today: Mapping[str, pl.DataFrame],
    forecast_today: Mapping[str, pl.DataFrame],
    recent_sales: Mapping[str, pl.DataFrame],
    recent_sentiment: Mapping[str, pl.DataFrame],
    recent_orders: Mapping[str, pl.LazyFrame],
    quality: pl.DataFrame,
    aspects_today: Mapping[str, pl.DataFrame] | None = None,
) -> Report:
    """The run date's page and chart files from its inputs: the `*_today` partitions (date -> frame,
    the day's possibly missing), the days of each `recent_*` window, and `quality_counts` rows."""
    notes: list[str] = []
    findings = written_or_empty(insights_today, "insights", day, notes)
    forecast = written_or_empty(forecast_today, "sales_forecast", day, notes)
    history, sentiment = stack(recent_sales), stack(recent_sentiment)
    charts_png: dict[str, bytes] = {}
    if forecast.height and history.height:
        grid = complete_daily_grid(history, first_date(history), day)
        charts_png["Revenue: last 6 weeks and forecast"] = forecast_chart(grid, forecast)
    if sentiment.height:
        charts_png["Negative reviews by category"] = sentiment_chart(sentiment_by_category(sentiment, recent_orders))
    else:
        notes.append("no product_sentiment in the last 56 days: no sentiment chart")
    last_week = history.filter(pl.col("date") > day - timedelta(days=7)) if history.height else history
    week_sentiment = sentiment.filter(pl.col("date") > day - timedelta(days=7)) if sentiment.height else sentiment
    complaints = complaints_by_category(written_or_empty(aspects_today or {}, "aspect_sentiment", day, notes))
    complaints_png = aspect_heatmap(complaints) if complaints.height else None
    page = render_report(
        day,
        report_kpis(last_week, week_sentiment, forecast, findings),
        findings,
        reject_rates(quality_of(quality, day)),
        charts_png,
        notes,
        complaints_png,
    )
    if complaints_png:
        charts_png["Negative share of aspect mentions by category"] = complaints_png
    files = {"report.html": page.encode("utf-8")}
    files |= {f"chart-{number}.png": png for number, png in enumerate(charts_png.values(), start=1)}
    return Report(files=files, charts=charts_png, findings=findings.height, notes=notes)
