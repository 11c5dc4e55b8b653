import os

# The suite trains models while other processes of its own run: LightGBM's OpenMP threads
# should sleep, not spin, while they wait (see functions/runners.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

pytest_plugins = [
    "tests.gcs_emulator",
    "tests.training_fixtures",
    "tests.database_fixtures",
    "tests.service_fixtures",
    "tests.ingestion_fixtures",
    "tests.browser_fixtures",
]
