"""The local stack: what runs the functions on a laptop as the cloud runs them, and is never
deployed. `diamonds serve` (serve.py, commands.py): every function behind one address, a
local Eventarc (eventarc.py) and, with --emulate-gcp, a GCS emulator (gcs_emulator.py)."""
