"""Next-purchase recommendations from the order history: pure polars and numpy, no Dagster.

- `evaluation`: the time split (train up to T-7, evaluate on each active customer's purchases in
  the last 7 days) and the ranking metrics with bootstrap intervals.
- `candidates`: the popularity baseline, item-to-item co-occurrence with a time decay and re-order
  cycles, the exclusion rules, and top-k scoring in batches.
"""
