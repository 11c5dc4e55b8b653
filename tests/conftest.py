pytest_plugins = [
    "tests.gcs_emulator",
    "tests.training_fixtures",
    "tests.database_fixtures",
    "tests.service_fixtures",
    "tests.ingestion_fixtures",
    "tests.browser_fixtures",
]
