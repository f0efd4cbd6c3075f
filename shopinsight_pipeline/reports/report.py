"""insight_report: one self-contained HTML page (charts inlined as PNG data) for a run date."""

import base64
import html
from datetime import date

import polars as pl

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


def image(png: bytes, title: str) -> str:
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def render_report(
    run_date: date,
    kpis: dict[str, str],
    insights: pl.DataFrame,
    quality: pl.DataFrame,
    charts: dict[str, bytes],
    notes: list[str],
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
