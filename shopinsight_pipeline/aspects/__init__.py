"""Review aspects (the topics customers praise or complain about): the taxonomy, clause splitting,
taggers and per-clause polarity. Pure: polars, numpy and the sentiment scorers; no Dagster."""
