"""ShopInsight: nightly orders and reviews turned into trustworthy report tables."""

import os

# Telemetry stays off wherever the package is imported: CLI, UI, tests.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
