"""The pricing function's endpoints: /v1/price.

The work one request may ask for is bounded: up to MAX_STONES stones, each explained if asked,
and at most MAX_COMPARED comparable stones in all (each is looked up in the inventory)."""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.wrappers import Request, Response

from functions import payloads
from functions.endpoints import DOMAIN, MANY, refuse_implausible
from functions.http import idempotency
from functions.http.keys import PREFIX, PRICE
from functions.http.problems import HttpProblem
from functions.http.responses import json_response
from functions.http.router import Call, Route
from functions.instance import Instance
from training.plausibility import record_implausibilities

MAX_COMPARED = 1_000
"""Comparable stones one request may ask for, in all: stones × `comparables`."""
NO_MODEL_RETRY_SECONDS = 30
"""When a client told "no model yet" should ask again: the first model trains in about that."""
QUICK_BODY_BYTES = 16_384
"""The largest body priced on the event loop: a few dozen stones at most."""
_IDEMPOTENCY_KEY = "HTTP_" + idempotency.HEADER.upper().replace("-", "_")


def quick_pricing(instance: Instance) -> Callable[[Request], bool]:
    """The pricing requests that need only the CPU, briefly: a few stones, sent as they are,
    priced by a champion loaded and not due for a look at storage, with no comparable stones
    (the inventory), no Idempotency-Key (the database) and, for a partner's key, the keys
    already read from the database."""

    def quick(request: Request) -> bool:
        environ = request.environ
        return (
            environ["PATH_INFO"] == "/v1/price"
            and instance.made("pricer")
            and instance.pricer.ready()
            and (request.content_length or 0) <= QUICK_BODY_BYTES
            and "HTTP_TRANSFER_ENCODING" not in environ
            and "HTTP_CONTENT_ENCODING" not in environ
            and _IDEMPOTENCY_KEY not in environ
            and "comparables=" not in environ["QUERY_STRING"]
            and (PREFIX not in environ.get("HTTP_AUTHORIZATION", "") or keys_read())
        )

    def keys_read() -> bool:
        keyring = instance.access.keyring
        return keyring is None or keyring.loaded

    return quick


def pricing_routes(instance: Instance) -> list[Route]:
    from training.registry import NoChampion

    def respond(
        call: Call, stones: list, single: bool, options: payloads.PriceOptions, at: tuple = ()
    ) -> Response:
        """A 503 without a model; a 422 for stones refused, its errors pointing at `at` + the
        field (or + the stone's index and the field)."""
        compared = len(stones) * options.comparables
        if compared > MAX_COMPARED:
            detail = (
                f"{options.comparables} comparable stones for each of {len(stones):,} stones is "
                f"{compared:,}; at most {MAX_COMPARED:,} per request"
            )
            raise HttpProblem(
                413,
                "Too much asked",
                detail,
                [{"field": "/query/comparables", "detail": detail}],
            )
        try:
            version, results, problems = instance.pricer.price(
                stones, explain=options.explain, comparables=options.comparables
            )
        except NoChampion as exc:
            refuse_implausible(
                record_implausibilities([s.model_dump() for s in stones]), single, at
            )
            raise HttpProblem(
                503,
                "No model yet",
                f"{exc}; POST /v1/retrain to train one",
                headers={"Retry-After": str(NO_MODEL_RETRY_SECONDS)},
            ) from None
        refuse_implausible(problems, single, at)
        document = results[0] if single else {"model_version": version, "prices": results}
        call.journal.update(
            model_version=version,
            n_stones=len(stones),
            response=document,
            priced=(stones, [result["price"] for result in results]),
        )
        return json_response(document)

    def price_body(call: Call) -> Response:
        single = not isinstance(call.body, list)
        return respond(call, [call.body] if single else call.body, single, call.query)

    def price_query(call: Call) -> Response:
        return respond(call, [call.query], True, call.query, at=("query",))

    def journal(entry: dict) -> None:
        instance.prediction_log.submit(entry)

    return [
        Route(
            "POST",
            "/v1/price",
            price_body,
            f"Price one stone, or a list of {MANY}: price, 90% interval, model version; "
            "optionally the explanation and comparable inventory stones",
            body=payloads.Stone,
            bulk=payloads.MAX_STONES,
            query=payloads.PriceOptions,
            responses={200: payloads.Price | payloads.PriceList, 503: None},
            refuses=DOMAIN,
            tag="pricing",
            scope=PRICE,
            journal=journal,
        ),
        Route(
            "GET",
            "/v1/price",
            price_query,
            "Price one stone given in the query string",
            query=payloads.StoneQuery,
            responses={200: payloads.Price, 503: None},
            refuses=DOMAIN,
            tag="pricing",
            scope=PRICE,
            journal=journal,
        ),
    ]
