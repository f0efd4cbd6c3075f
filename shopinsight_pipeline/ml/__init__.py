"""Pure machine-learning code: text keys and splits, tokenizer, training loop, scorers, metrics.

Nothing here imports Dagster; the assets in `shopinsight_pipeline.train` and `.score` wire it up.
"""
