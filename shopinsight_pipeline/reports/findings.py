"""The insight rows' common parts: the sentence templates, the row builder that fills a sentence
only from the numbers it keeps, number formats and the proportion test every comparison uses.
reports/insights.py and reports/causes.py both write their findings with these."""

from collections.abc import Mapping

TEMPLATES: dict[str, dict[str, str]] = {
    "fastest_growing_category": {
        "en": "{entity} grew fastest: revenue of the last {days} days is {change} vs the {days} days before "
        "({value} vs {reference}).",
        "zh": "{entity}增长最快：近{days}天销售额较前{days}天变化{change}（{value} 对比 {reference}）。",
    },
    "fastest_falling_category": {
        "en": "{entity} fell fastest: revenue of the last {days} days is {change} vs the {days} days before "
        "({value} vs {reference}).",
        "zh": "{entity}下降最快：近{days}天销售额较前{days}天变化{change}（{value} 对比 {reference}）。",
    },
    "forecast_vs_last_period": {
        "en": "Revenue of the next {days} days is forecast at {value}, {change} vs the last {days} days ({reference}).",
        "zh": "预计未来{days}天销售额为{value}，较过去{days}天（{reference}）变化{change}。",
    },
    "negative_share_jump": {
        "en": "Negative reviews of {entity} rose to {value} of {recent} reviews in the last {days} days "
        "from {reference} of {earlier} before (p = {p}).",
        "zh": "{entity}的差评占比在近{days}天的{recent}条评论中升至{value}，"
        "此前{earlier}条评论中为{reference}（p = {p}）。",
    },
    "top_complaint": {
        "en": "{value} of the {reviews} reviews of {entity} in {days} days are negative, against {reference} for "
        "other {category} products (p = {p}); most complaints are about {aspect} ({aspect_share} of its negative "
        "mentions), e.g. \u201c{example}\u201d.",
        "zh": "{entity}近{days}天{reviews}条评论中差评占{value}，同类（{category}）其他商品为{reference}（p = {p}）；"
        "差评多与{aspect}有关（占负面提及的{aspect_share}），如\u201c{example}\u201d。",
    },
    "top_complaint_unexplained": {
        "en": "{value} of the {reviews} reviews of {entity} in {days} days are negative, against {reference} for "
        "other {category} products (p = {p}); no aspect is named in its complaints.",
        "zh": "{entity}近{days}天{reviews}条评论中差评占{value}，同类（{category}）其他商品为{reference}（p = {p}）；"
        "差评未提及具体方面。",
    },
    "aspect_negative_surge": {
        "en": "Complaints about {aspect} of {entity} rose: {value} of {recent} reviews in the last {days} days "
        "criticise it, up from {reference} of {earlier} before (p = {p}); customers wrote \u201c{example}\u201d and "
        "\u201c{second_example}\u201d.",
        "zh": "{entity}的{aspect}差评增多：近{days}天{recent}条评论中有{value}提出批评，此前{earlier}条中为{reference}"
        "（p = {p}）；顾客写道\u201c{example}\u201d、\u201c{second_example}\u201d。",
    },
    "anomalous_day": {
        "en": "{entity} revenue on {day} was {value}, far from the usual {reference} for that weekday (z = {z}).",
        "zh": "{entity}在{day}的销售额为{value}，明显偏离该星期几通常的{reference}（z = {z}）。",
    },
    "model_rating_disagreement": {
        "en": "For {entity} the sentiment model agrees with star ratings on only {value} of {reviews} reviews.",
        "zh": "{entity}的{reviews}条评论中，情感模型与星级评分一致的仅占{value}。",
    },
    "customers_at_risk": {
        "en": "{count} regular customers are at risk of leaving ({share} of the regulars): they spent {value} in "
        "the last 90 days, are overdue and have under {p} chance of buying this week.",
        "zh": "{count}位老顾客有流失风险（占老顾客的{share}）：他们近90天消费{value}，已超过惯常的购买间隔，"
        "本周购买概率低于{p}。",
    },
    "top_cross_sell_pair": {
        "en": "{share} of the {buyers} customers who bought {entity} bought {second} within {days} days "
        "({lift}x the usual rate): a cross-sell pair.",
        "zh": "购买{entity}的{buyers}位顾客中有{share}在{days}天内购买了{second}（是平常的{lift}倍）：可交叉销售。",
    },
    "stockout_risk": {
        "en": "{entity}: {cover} days of cover, {p} chance of running out before a delivery ordered today arrives in "
        "{lead} days; order {order}.",
        "zh": "{entity}：库存可售{cover}天，在今天下单的货{lead}天后到达前缺货的概率为{p}；建议订购{order}件。",
    },
    "overstock": {
        "en": "{entity}: {on_hand} units on hand, {excess} more than the next 28 days' demand at its 90% quantile, "
        "tying up {value}.",
        "zh": "{entity}：库存{on_hand}件，比未来28天需求的90%分位多{excess}件，占用资金{value}。",
    },
    "lost_sales": {
        "en": "{entity}: about {units} units lost to an empty shelf in the last 7 days ({days} days out of stock).",
        "zh": "{entity}：近7天因缺货约损失{units}件销量（缺货{days}天）。",
    },
    "data_quality": {
        "en": "{value} of {entity} rows were rejected on {day}, up from {reference} on average "
        "over the {days} days before.",
        "zh": "{day}的{entity}数据有{value}被拒收，高于此前{days}天平均的{reference}。",
    },
}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def signed_percent(value: float) -> str:
    return f"{value * 100:+.1f}%"


def money(value: float) -> str:
    return f"{value:,.0f}"


def two_proportion_p(hits_a: int, total_a: int, hits_b: int, total_b: int) -> float:
    """One-sided p-value that share a exceeds share b: the pooled two-proportion z-test
    (statsmodels' `proportions_ztest`, alternative "larger"). 1.0 when the pooled share is 0 or 1:
    both shares are equal and there is no spread to test against (statsmodels would give nan)."""
    if hits_a + hits_b in (0, total_a + total_b):
        return 1.0
    from statsmodels.stats.proportion import proportions_ztest  # the code location loads this module

    _, p = proportions_ztest([hits_a, hits_b], [total_a, total_b], alternative="larger")
    return float(p)


def adjusted(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, in the same order: a run date tests many products (and
    aspects) at once, and at p < 0.05 each, noise alone would be reported every day."""
    if not p_values:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(q) for q in multipletests(p_values, method="fdr_bh")[1]]


def finding(
    kind: str,
    entity_type: str,
    entity: str,
    severity: str,
    score: float,
    value_number: float,
    reference_number: float | None,
    language: str,
    template: str | None = None,
    **shown: str,
) -> dict:
    """A row: the sentence (TEMPLATES[template or kind]) is filled only from `shown`, whose values are
    also kept in `numbers`. The template and `shown` ride along (private keys) so that `named` can
    write the sentence again with product names."""
    sentence = TEMPLATES[template or kind][language].format(entity=entity, **shown)
    return {
        "_template": template or kind,
        "_shown": shown,
        "type": kind,
        "entity_type": entity_type,
        "entity": entity,
        "severity": severity,
        "score": float(score),
        "value": float(value_number),
        "reference": None if reference_number is None else float(reference_number),
        "numbers": list(shown.values()),
        "sentence": sentence,
    }


PRODUCT_ENTITIES = ("product", "product_pair")


def product_label(product_id: str, names: Mapping[str, str]) -> str:
    """A product as a sentence names it: its id with its name (as recommendation reasons do), or the
    id alone when unnamed."""
    name = names.get(product_id)
    return f"{product_id} ({name})" if name else product_id


def named(row: dict, names: Mapping[str, str], language: str) -> dict:
    """The row without its private keys, with `entity_name` and, for a finding about products, the
    sentence written again with each product's name beside its id (the pair's second product too).
    The numbers stay those the sentence was built from."""
    row = dict(row)
    template, shown = row.pop("_template"), row.pop("_shown")
    row["entity_name"] = None
    if row["entity_type"] in PRODUCT_ENTITIES and names:
        row["entity_name"] = names.get(row["entity"])
        if "second" in shown:
            shown = {**shown, "second": product_label(shown["second"], names)}
        row["sentence"] = TEMPLATES[template][language].format(entity=product_label(row["entity"], names), **shown)
    return row
