from shopinsight_pipeline_tests.privacy.erasure_lake import customer_lake  # noqa: F401 (a fixture)
