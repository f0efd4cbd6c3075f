"""One-line description of every column of every lake table: the one source the catalog
(dagster/column_schema) and the README's column reference are built from."""

# Shared wording: the lineage columns every bronze and silver row carries, and the quarantine columns.
_SOURCE_FILE = "name of the landing file the row was read from, e.g. orders_2026-08-03.csv"
_LINE_NUMBER = "1-based line of the row in that file (a record spanning lines: its first line)"
_DECODE_ERROR = "why the line is not valid UTF-8 (the bad byte and its offset); null for a valid line"
_REJECTED_RULES = "every validation rule the row broke, e.g. ['quantity_not_an_integer', 'unknown_status']"
_REASON = (
    "file, line and each broken rule with the value quoted, e.g. "
    "\"orders_2026-08-03.csv line 17: quantity_not_an_integer (quantity='abc')\""
)
_BUSINESS_DAY = "business day in the shop's timezone (Asia/Shanghai by default)"

_RAW_ORDER_FIELDS = {
    "order_id": "order id, text as it arrived in the landing CSV (null if the line has too few fields)",
    "customer_id": "customer id, text as it arrived in the landing CSV",
    "product_id": "product id, text as it arrived in the landing CSV",
    "category": "product category, text as it arrived in the landing CSV",
    "quantity": "units ordered, as text (valid: an integer from 1 to 1,000 by default)",
    "unit_price": "price per unit, as text (valid: a decimal from 0.01 to 1,000,000 by default)",
    "currency": "currency code, as text (valid: a configured currency, CNY by default)",
    "order_ts": "order time, as text (valid: ISO 8601 with a timezone offset or Z, on the partition's business day)",
    "status": "order status, as text (valid: placed, shipped, delivered, returned or cancelled)",
    "field_count": "fields on the line, not counting unknown header columns: "
    "9 when well formed (else wrong_field_count)",
    "extra_fields": "unknown columns' values as a JSON object, then ' | ' and any fields past the header's end; "
    "else null",
    "decode_error": _DECODE_ERROR,
    "source_file": _SOURCE_FILE,
    "line_number": _LINE_NUMBER,
}

_RAW_REVIEW_FIELDS = {
    "review_id": "review id, text as it arrived on the JSON line (null if absent or the line did not parse)",
    "order_id": "id of the order reviewed, text as it arrived on the JSON line",
    "product_id": "id of the product reviewed, text as it arrived on the JSON line",
    "rating": "star rating as text; a non-string JSON value is kept as its JSON (valid: an integer 1 to 5)",
    "review_text": "the review's text as given (a non-string JSON value kept as its JSON)",
    "review_ts": "review time, as text (valid: ISO 8601 with a timezone offset or Z, on the partition's business day)",
    "parse_error": "why the line is not a JSON object, e.g. 'invalid JSON: ... at column 12'; null when it parsed",
    "type_errors": "fields of the wrong JSON type, e.g. 'review_text is an object, expected a string'; null if none",
    "repeated_keys": "keys given more than once on the line, comma-separated (which value was meant is unknown); "
    "else null",
    "extra_fields": "keys outside the review layout with their values, as a JSON object; null when none",
    "decode_error": _DECODE_ERROR,
    "source_file": _SOURCE_FILE,
    "line_number": _LINE_NUMBER,
}

_RAW_INVENTORY_FIELDS = {
    "product_id": "product id, text as it arrived in the stock CSV (null if the line has too few fields)",
    "on_hand": "units on the shelf at the end of the day, as text (valid: a whole number, 0 or more)",
    "on_order": "units ordered from the supplier and not yet delivered, as text (valid: a whole number, 0 or more)",
    "expected_arrival": "when what is on order arrives, as text (valid: YYYY-MM-DD; required when on_order > 0)",
    "lead_time_days": "the supplier's current days from order to delivery, as text (valid: a whole number 0 to 365)",
    "unit_cost": "what one unit costs the shop, as text (valid: a decimal, 0 or more)",
    "field_count": "fields on the line, not counting unknown header columns: 6 when well formed "
    "(else wrong_field_count)",
    "extra_fields": "unknown columns' values as a JSON object, then ' | ' and any fields past the header's end; "
    "else null",
    "decode_error": _DECODE_ERROR,
    "source_file": "name of the stock file the row was read from, e.g. inventory_2026-08-03.csv",
    "line_number": _LINE_NUMBER,
}

_QUARANTINE = {"rejected_rules": _REJECTED_RULES, "reason": _REASON}

COLUMN_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "raw_orders": _RAW_ORDER_FIELDS,
    "raw_reviews": _RAW_REVIEW_FIELDS,
    "validated_orders": {
        "order_id": "order id, trimmed; unique in its file and over the 365 days before; no space or hidden character",
        "customer_id": "id of the customer who placed the order (trimmed, at most 64 characters, no space inside)",
        "product_id": "id of the product ordered (trimmed, at most 64 characters, no space inside)",
        "category": "product category as the order gives it (trimmed)",
        "quantity": "units ordered, 1 to 1,000 by default",
        "unit_price": "price per unit in the order currency, 0.01 to 1,000,000 by default",
        "currency": "currency code of the order (a configured currency, CNY by default)",
        "order_ts": "when the order was placed, in UTC",
        "order_date": f"{_BUSINESS_DAY} of order_ts: the partition's day",
        "status": "order status: placed, shipped, delivered, returned or cancelled",
        "line_total": "quantity × unit price, rounded to 2 decimals, in the order currency (whatever the status)",
        "source_file": _SOURCE_FILE,
        "line_number": _LINE_NUMBER,
    },
    "validated_reviews": {
        "review_id": "review id, trimmed; unique in its file and over the 365 days before; "
        "no space or hidden character",
        "order_id": "the order reviewed: a validated order of the review's day or the 60 days before",
        "product_id": "id of the product reviewed (trimmed, at most 64 characters, no space inside)",
        "rating": "star rating, 1 to 5",
        "review_text": "the review's text, trimmed, never empty, at most 10,000 characters",
        "review_ts": "when the review was written, in UTC",
        "review_date": f"{_BUSINESS_DAY} of review_ts: the partition's day",
        "source_file": _SOURCE_FILE,
        "line_number": _LINE_NUMBER,
    },
    "raw_inventory": _RAW_INVENTORY_FIELDS,
    "validated_inventory": {
        "date": "the business day whose end the stock was counted at: the file's and the partition's day",
        "product_id": "a product of the day's catalogue, once per day (a later line of it is quarantined)",
        "on_hand": "units on the shelf at the end of the day (0: out of stock; never negative)",
        "on_order": "units ordered from the supplier and not yet delivered",
        "expected_arrival": "when the next delivery of what is on order arrives; null when nothing is on order",
        "lead_time_days": "the supplier's current days from an order to its delivery",
        "unit_cost": "what one unit costs the shop, in the shop's currency",
        "source_file": "name of the stock file the row was read from, e.g. inventory_2026-08-03.csv",
        "line_number": _LINE_NUMBER,
    },
    "quarantined_inventory": {**_RAW_INVENTORY_FIELDS, **_QUARANTINE},
    "quarantined_orders": {**_RAW_ORDER_FIELDS, **_QUARANTINE},
    "quarantined_reviews": {**_RAW_REVIEW_FIELDS, **_QUARANTINE},
    "products": {
        "product_id": "product id from the day's catalogue, no whitespace; "
        "unique (a later line of an id is quarantined)",
        "product_name": "the product's name, shown beside its id in insights, the report and recommendation reasons",
        "category": "the product's category in the catalogue",
        "brand": "the product's brand as the catalogue gives it (trimmed; may be empty)",
        "list_price": "the catalogue's list price, a positive number",
        "source_file": "name of the catalogue file the row was read from, e.g. products_2026-08-03.csv",
        "line_number": _LINE_NUMBER,
    },
    "quarantined_products": {
        "product_id": "product id as read (trimmed text; null if the line has too few fields)",
        "product_name": "product name as read (trimmed text; null if the line has too few fields)",
        "category": "category as read (trimmed text; null if the line has too few fields)",
        "brand": "brand as read (trimmed text; null if the line has too few fields)",
        "list_price": "list price as read (text; valid: a positive decimal number)",
        "source_file": "name of the catalogue file the line was read from, e.g. products_2026-08-03.csv",
        "line_number": _LINE_NUMBER,
        "rejected_rules": "rules the line broke: wrong_field_count, missing_product_id, list_price_not_a_number, "
        "duplicate_product_id, ...",
        "reason": "file, line and each broken rule with the value quoted, "
        "e.g. \"products_2026-08-03.csv line 5: list_price_not_positive (list_price='0')\"",
    },
    "daily_sales": {
        "date": f"{_BUSINESS_DAY} of the orders",
        "category": "product category as the orders give it",
        "orders": "orders that were not cancelled (returned ones included)",
        "units": "units of the orders not cancelled",
        "revenue": "gross revenue: quantity × unit price of orders not cancelled "
        "(returns included), in the order currency",
        "avg_order_value": "revenue / orders, rounded to 2 decimals",
        "return_rate": "returned orders / orders not cancelled, 0 to 1",
    },
    "category_trends": {
        "date": "the business day the row describes; every window ends on it",
        "category": "product category",
        "revenue": "the category's gross revenue on the day (0 on a day without orders)",
        "units": "units the category sold on the day (0 on a day without orders)",
        "revenue_ma7": "mean daily revenue over the 7 days ending on date; null under 7 days of history",
        "revenue_ma28": "mean daily revenue over the 28 days ending on date; null under 28 days of history",
        "units_ma7": "mean daily units over the 7 days ending on date; null under 7 days of history",
        "units_ma28": "mean daily units over the 28 days ending on date; null under 28 days of history",
        "wow_growth": "revenue of the last 7 days / the 7 before - 1; "
        "null if the earlier week sold nothing or is missing",
        "growth_28d": "revenue of the last 28 days / the 28 before - 1; "
        "null if the earlier 28 sold nothing or are missing",
        "seasonal_residual": "revenue - median revenue of the same weekday in the past 4 weeks; "
        "null with under 2 such days",
        "robust_z": "residual's robust z-score: (residual - 28-day median) / (1.4826 × MAD); "
        "null under 14 residuals or MAD 0",
        "anomaly": "true when |robust_z| > anomaly_threshold (3.5 by default); false when robust_z is null",
        "history_days": "days of history behind the row: from the category's first sale in the 56-day window to date",
        "note": "why columns are null, e.g. 'only 20 days of history: longer windows are null'; null with all 56 days",
    },
    "product_demand_forecast": {
        "run_date": "the run date the forecast was made on, from the validated orders and stock counts up to it",
        "product_id": "a product with a sale in the 91 days up to run_date (one without: no rows, a note in the "
        "metadata)",
        "category": "the product's category in the run date's catalogue ('unknown' if it is not there)",
        "target_date": "the day forecast: run_date + horizon_day",
        "horizon_day": "days ahead of run_date, 1 to 28",
        "method": "the method that serves this product, chosen on the backtest: seasonal_naive, sba (Croston, "
        "Syntetos-Boylan), tsb (Teunter-Syntetos-Babai) or sba_weekday (SBA with the assortment's weekday factors)",
        "mean": "expected units demanded on target_date (demand: what customers would buy with stock on the shelf)",
        "p10": "10% quantile of the day's demand (not below 0)",
        "p50": "median of the day's demand (not below 0; often 0 for a product that sells on few days)",
        "p90": "90% quantile of the day's demand: p10 to p90 is the 80% interval",
        "sales_event": "the name of the sales event on target_date from the planner's calendar (its uplift is in "
        "mean and the quantiles), else null",
        "sd": "standard deviation of the day's demand (the spread inventory_plan sums over a lead time; a slow mover's "
        "p10 and p90 can both be 0 while it has one)",
        "day_correlation": "how alike the errors of the first horizon_day days ahead are (0 to 1), the assortment's, "
        "from every product's history: inventory_plan adds the spreads of a span of that many days with it",
        "backtest_mase": "the served method's MASE on this product's own rolling backtest (4 weekly origins, 7 days "
        "each; below 1: better than the in-sample naive forecast), null when the product's history was too short to "
        "backtest or has no day-to-day change: how far to trust this product's forecast",
        "backtest_coverage80": "the share of this product's backtest days whose demand fell within the served method's "
        "p10 to p90 (about 0.8 when its intervals are right), null when unscored",
    },
    "inventory_plan": {
        "run_date": "the run date the plan is for: what to order today",
        "product_id": "a product of the stock count",
        "stock_date": "the day of the product's stock count the plan used: the run date's, else (the day's file "
        "missing, or the product's row quarantined) its latest of the 7 days before (listed in the metadata)",
        "on_hand": "units on the shelf at the end of stock_date",
        "on_order": "units ordered and not yet delivered",
        "expected_arrival": "when what is on order arrives; null when nothing is",
        "lead_time_days": "the supplier's current lead time: an order placed today arrives after it",
        "unit_cost": "what one unit costs the shop",
        "forecast_method": "the product_demand_forecast method behind the numbers; null: no forecast, no plan",
        "days_of_cover": "on_hand / mean daily demand of the next 7 days; null when no demand is expected",
        "stockout_probability": "probability that demand over the lead time exceeds on hand plus what arrives "
        "within it: running out before an order placed today can arrive",
        "reorder_point": "service-level quantile of demand over the lead time: order when on hand + on order "
        "falls to it",
        "order_up_to": "service-level quantile of demand over the lead time plus the 7-day review period",
        "suggested_order": "units to order today: order_up_to - (on hand + on order) when that is at or below the "
        "reorder point, else 0",
        "lead_time_demand": "expected units demanded over the lead time",
        "overstock": "true when on hand is above the 90% quantile of the next 28 days' demand",
        "excess_units": "units on hand above that quantile (0 unless overstock)",
        "overstock_value": "excess_units × unit_cost: cash tied up in the excess",
        "stockout_days_7d": "days of the 7 up to run_date that ended with the shelf empty (0 when none)",
        "lost_units_7d": "units estimated lost to the empty shelf on those days: the forecast's demand of an "
        "ordinary day (the mean of the next 7 days that are no sales event) less what sold that day (0 when none)",
        "service_level": "the service level the plan is for (0.95 by default: run config)",
        "note": "why a product has no plan numbers (no demand forecast); null otherwise",
    },
    "sales_forecast": {
        "run_date": "the run date the forecast was made on, from daily_sales up to and including it",
        "category": "product category forecast",
        "target_date": "the day forecast: run_date + horizon_day",
        "horizon_day": "days ahead of run_date, 1 to 14",
        "revenue": "forecast revenue of the category on target_date (mean, not below 0), in the order currency",
        "revenue_lo80": "lower bound of the 80% prediction interval of revenue (not below 0)",
        "revenue_hi80": "upper bound of the 80% prediction interval of revenue",
        "revenue_lo95": "lower bound of the 95% prediction interval of revenue (not below 0)",
        "revenue_hi95": "upper bound of the 95% prediction interval of revenue",
        "units": "forecast units of the category on target_date (mean, not below 0)",
        "units_lo80": "lower bound of the 80% prediction interval of units (not below 0)",
        "units_hi80": "upper bound of the 80% prediction interval of units",
        "units_lo95": "lower bound of the 95% prediction interval of units (not below 0)",
        "units_hi95": "upper bound of the 95% prediction interval of units",
        "revenue_method": "how revenue was forecast: ets_damped_additive, or the fallback seasonal_naive or naive",
        "units_method": "how units were forecast: ets_damped_additive, or the fallback seasonal_naive or naive",
        "note": "why a measure fell back from ETS, e.g. 'revenue: 20 days of history (< 35): seasonal_naive fallback'; "
        "else null",
    },
    "insights": {
        "run_date": "the run date the findings were computed for, from the windows of days ending on it",
        "rank": "position in the run date's list, 1 first: by severity, then score; at most 3 of a type in the top 10",
        "type": "kind of finding, e.g. negative_share_jump, aspect_negative_surge, top_complaint, anomalous_day, "
        "data_quality",
        "entity_type": "what the finding is about: product, product_pair, category, shop, table or customers",
        "entity": "its id or name: a product id (a pair's first), a category, orders or reviews, 'all categories', "
        "'churn risk'",
        "entity_name": "the product's name from the run date's products, for product findings; "
        "null otherwise or unnamed",
        "severity": "high, medium or low (rules per type); ranks before score",
        "score": "strength of the finding within its severity (by type: size of the change, lift, value, ...)",
        "value": "the finding's main number, e.g. the recent negative share, the revenue or the customers at risk",
        "reference": "the number value is compared with (earlier share, usual rate); for customers_at_risk their "
        "90-day spend; null when none",
        "numbers": "the values the sentence is filled from, as it shows them (numbers formatted, e.g. '12.5%')",
        "sentence": "the finding as one templated sentence in language, a product named by its id and name",
        "language": "language of the sentence: en or zh (run config of insights)",
    },
    "customer_events": {
        "date": f"{_BUSINESS_DAY} of the event: the order's for purchases and returns, the review's for reviews",
        "customer_id": "customer who placed the order (for a review: the order the review names)",
        "product_id": "product bought, returned or reviewed",
        "category": "the product's category on the order the event comes from",
        "event": "purchase, return or review; a returned order gives a purchase and a return, a cancelled one nothing",
        "weight": "what a model counts: +1 a purchase, -1 a return, (stars - 3) / 2 a review (-1 to 1)",
        "order_id": "the order the event comes from (for a review: the order it names)",
        "event_ts": "when, in UTC: the order's time for purchases and returns "
        "(not when returned), the review's for reviews",
        "quantity": "units of the order line for a purchase or return; null for a review",
        "value": "line total (quantity × unit price) of the order line, negative for a return; null for a review",
        "rating": "stars 1 to 5 of a review; null for purchases and returns",
    },
    "customer_recommendations": {
        "run_date": "the run date the lists were computed for, from purchases up to and including it",
        "customer_pseudonym": "the customer's pseudonym (keyed hash of the shop's id; the same in every gold table "
        "and night): one with a purchase in the 30 days up to the run date",
        "rank": "position in the customer's list, 1 best, up to 10",
        "product_id": "product recommended; "
        "by default never one a negative_share_jump or top_complaint insight names that day",
        "score": "the serving candidate's score for the product; higher is better, comparable within one list",
        "candidate": "recommender that made the list (the one recommender_model serves): "
        "popularity, repeat, cooccurrence or sequence",
        "reason": "why, in words: e.g. 'bought together with P501 (Aurelle hydrating toner)', 'popular in beauty'",
    },
    "purchase_propensity": {
        "run_date": "the run date: features as of this day, from customer events up to and including it",
        "customer_pseudonym": "the customer's pseudonym (as in customer_recommendations): one with a purchase in "
        "the 146 days of events up to the run date",
        "purchase_probability": "calibrated probability of at least one purchase in the 7 days after the run date; "
        "null while history is too short",
        "churn_risk": "a regular (2+ orders in 90 days), over 1.5× its usual gap since the last purchase, "
        "probability < 0.2; null if unscored",
        "recency_days": "days from the customer's last purchase to the run date (0: bought on it)",
        "tenure_days": "days from the customer's first purchase in the events window to the run date",
        "orders_30d": "purchases (order lines not cancelled) in the 30 days up to the run date",
        "orders_90d": "purchases (order lines not cancelled) in the 90 days up to the run date",
        "value_90d": "line totals of those 90 days' purchases (returns not deducted), in the order currency",
        "mean_gap_days": "mean days between the customer's distinct purchase days; -1 with a single purchase day",
        "overdue_ratio": "recency_days / mean_gap_days (above 1: later than usual); -1 without a gap",
        "returns_90d": "returned orders among those placed in the 90 days up to the run date",
        "reviews_90d": "reviews the customer wrote in the 90 days up to the run date",
        "mean_review_weight": "mean (stars - 3) / 2 of those reviews, -1 to 1; 0 without reviews",
    },
    "review_token_shards": {
        "review_id": "the validated review tokenized",
        "product_id": "product reviewed",
        "text_key": "16-hex-digit hash of the normalised text (NFKC, whitespace collapsed, case-folded): "
        "same text, same key",
        "rating": "star rating, 1 to 5",
        "label": "class index of the rating in the label scheme (0: first class, e.g. negative); null if unlabelled",
        "input_ids": "token ids of the review text by review_tokenizer, special tokens included, no padding",
        "length": "number of token ids in input_ids (at most the tokenizer's max_length, 128 by default)",
        "truncated": "true when the text had more tokens than max_length and was cut (its closing token kept)",
    },
    "review_scores": {
        "review_id": "the validated review scored",
        "product_id": "product reviewed",
        "review_date": f"{_BUSINESS_DAY} the review was written",
        "rating": "star rating, 1 to 5",
        "rating_label": "class the label scheme gives the rating (1-2 negative, 4-5 positive by default); null if none",
        "predicted_label": "class the serving sentiment scorer finds most likely for the text",
        "confidence": "probability of the predicted class (the largest of the prob_ columns)",
        "scorer_kind": "kind of serving scorer: transformer, tfidf_logreg or ensemble",
        "model_version": "registry version of the scorer that served (the champion's refit when there is one)",
    },
    "review_aspects": {
        "review_id": "the validated review that mentions the aspect",
        "product_id": "product reviewed",
        "review_date": f"{_BUSINESS_DAY} the review was written",
        "aspect": "aspect mentioned: a key of aspects/taxonomy.yaml (logistics, packaging, price, quality, ...)",
        "span": "the clause that mentions it (the one the scorer is surest about when several do)",
        "polarity": "negative, positive or neutral: the serving sentiment scorer's verdict on that clause",
        "probability": "the scorer's probability of its most likely class for the clause",
        "prob_negative": "the scorer's probability that the clause is negative (0 if the scheme has no negative class)",
        "method": "tagger that found the aspect: lexicon, tfidf_ovr or transformer_head",
        "tagger_version": "version of that tagger, e.g. taxonomy-v3 for the lexicon",
        "model_version": "registry version of the sentiment scorer that judged the clause",
    },
    "aspect_sentiment": {
        "date": "the business day the row is for; the 7- and 28-day windows end on it",
        "category": "the product's category on its latest validated order of the 88 days up to date; 'unknown' if none",
        "product_id": "product with a mention of the aspect in the 28 days up to date",
        "aspect": "aspect mentioned: a key of aspects/taxonomy.yaml",
        "mentions": "reviews of the day that mention the aspect for the product",
        "negative_mentions": "of those, the ones whose clause is negative",
        "negative_share": "negative_mentions / mentions; null without mentions on the day",
        "mentions_7d": "reviews of the 7 days ending on date that mention the aspect",
        "negative_mentions_7d": "of those, the ones whose clause is negative",
        "negative_share_7d": "negative_mentions_7d / mentions_7d; null without mentions in the 7 days",
        "mentions_28d": "reviews of the 28 days ending on date that mention the aspect",
        "negative_mentions_28d": "of those, the ones whose clause is negative",
        "negative_share_28d": "negative_mentions_28d / mentions_28d, 0 to 1",
    },
    "product_sentiment": {
        "date": f"{_BUSINESS_DAY} the reviews were written",
        "product_id": "product reviewed",
        "reviews": "validated reviews of the product on the day",
        "avg_rating": "mean star rating of those reviews, 1 to 5",
        "model_rating_agreement": "share of the reviews with a rating_label whose predicted_label equals it; "
        "null if none has one (e.g. 3 stars only)",
        "model_version": "registry version of the sentiment scorer that scored the reviews",
    },
    "customer_pseudonyms": {
        "customer_id": "the shop's customer id (restricted: operators only, never served to analysts)",
        "customer_pseudonym": "the pseudonym gold tables show for that customer",
    },
}

# Columns whose names are built from the sentiment label scheme (e.g. prob_negative, share_positive):
# described by pattern, with {label} standing for the class name.
PATTERN_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "review_scores": {
        "prob_{label}": "the serving scorer's probability that the review is {label}, 0 to 1 (a row's sum to 1)",
    },
    "product_sentiment": {
        "share_{label}": "share of the day's reviews the model predicts as {label}, 0 to 1",
        "mean_prob_{label}": "mean model probability of {label} over the day's reviews",
    },
}
