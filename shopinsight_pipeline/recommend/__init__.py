"""Next-purchase recommendations and purchase propensity from the order history, no Dagster
(`assets.py` is the Dagster shell). Pure polars, numpy and scipy, except `sequence` (torch and
Accelerate, imported only where the sequence model trains or serves) and `propensity`
(scikit-learn).

- `baskets`: a customer's (customer, day) baskets in a sparse matrix, and the product pairs within a
  horizon counted without a self-join.
- `evaluation`: the time split (train up to T-7, evaluate on each active customer's purchases in
  the last 7 days) and the ranking metrics with bootstrap intervals.
- `candidates`: popularity, the customer's own re-buys, item-to-item co-occurrence with a time decay
  and re-order cycles, the exclusion rules, and top-k scoring in batches.
- `sequence`: the learned next-basket model; `gate`: the comparison and the champion/challenger rule.
"""
