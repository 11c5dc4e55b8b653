"""The API's endpoints, declared as data (functions/routing.py): one module per deployable
(functions/deployables.py) and the routes every function serves (common.py)."""

from functions import payloads
from training.record import DEPTH_TOLERANCE, PRICE_PER_CARAT_RANGE, WEIGHT_RATIO_RANGE

MANY = f"up to {payloads.MAX_STONES:,} stones"
GEOMETRY = (
    "the geometry rule: a stone whose measurements contradict each other (its carat outside "
    f"{WEIGHT_RATIO_RANGE[0]:g}–{WEIGHT_RATIO_RANGE[1]:g} times the weight its x·y·z box "
    f"implies, or its depth % more than {DEPTH_TOLERANCE:g} points off 2·z/(x+y)·100) is refused"
)
APPRAISAL = (
    GEOMETRY + ", and so is a price that is no appraisal for the stone's weight (outside "
    f"{PRICE_PER_CARAT_RANGE[0]:,.0f}–{PRICE_PER_CARAT_RANGE[1]:,.0f} USD per carat: a typing slip)"
)
DOMAIN = (
    GEOMETRY + ", and so is one far outside what the serving model was trained on (a "
    "measurement well beyond the range of its training stones': the message gives the range)"
)
