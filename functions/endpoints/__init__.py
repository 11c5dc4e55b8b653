"""The API's endpoints, declared as data (functions/http/router.py): one module per deployable
(functions/deployables.py) and the routes every function serves (common.py); and the domain
rule the inventory and pricing endpoints apply."""

from functions.http.problems import invalid, pointer
from functions.payloads.schema import IMPLAUSIBLE, MAX_STONES
from training.record import DEPTH_TOLERANCE, PRICE_PER_CARAT_RANGE, WEIGHT_RATIO_RANGE

MANY = f"up to {MAX_STONES:,} stones"
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


def refuse_implausible(
    problems: list[list[tuple[str, str]]], single: bool, prefix: tuple = ()
) -> None:
    """A 422 for stones with (field, message) problems under the domain rule, with one error
    per offending input, pointing into the request: `/carat` for one stone (`/query/carat` with
    the prefix `("query",)`), `/3/carat` for the fourth of a list. Nothing if there are none."""
    messages: dict[str, list[str]] = {}
    for i, found in enumerate(problems):
        for name, message in found:
            where = prefix + ((name,) if single else (i, name))
            messages.setdefault(pointer(where), []).append(message)
    if messages:
        errors = [{"field": at, "detail": "; ".join(m)} for at, m in messages.items()]
        title = "Implausible stone" if single else "Implausible stones"
        raise invalid(errors, title, IMPLAUSIBLE)
