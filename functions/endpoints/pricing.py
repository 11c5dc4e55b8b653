"""The pricing function's endpoints: /v1/price.

The work one request may ask for is bounded: up to MAX_STONES stones, each explained if asked,
and at most MAX_COMPARED comparable stones in all (each is looked up in the inventory)."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
from pydantic import ValidationError
from starlette.responses import Response as AsgiResponse
from werkzeug.wrappers import Request, Response

from functions.endpoints import DOMAIN, MANY, refuse_implausible
from functions.http import idempotency
from functions.http import journal as record
from functions.http.access import client_address, request_address
from functions.http.asgi import Express
from functions.http.asgi import answer as asgi_answer
from functions.http.bodies import may_repeat_keys
from functions.http.keys import NOBODY, PRICE, Principal
from functions.http.problems import HttpProblem
from functions.http.responses import COMPRESS_FROM, JSON, json_response
from functions.http.router import Call, Route, label
from functions.instance import Instance
from functions.payloads.pricing import Price, PriceList, PriceOptions, StoneQuery
from functions.payloads.schema import MAX_STONES
from functions.payloads.stones import Stone
from training.plausibility import record_implausibilities

MAX_COMPARED = 1_000
"""Comparable stones one request may ask for, in all: stones × `comparables`."""
NO_MODEL_RETRY_SECONDS = 30
"""When a client told "no model yet" should ask again: the first model trains in about that."""
QUICK_BODY_BYTES = 16_384
"""The largest body priced on the event loop: a few dozen stones at most."""
_IDEMPOTENCY_KEY = "HTTP_" + idempotency.HEADER.upper().replace("-", "_")
PATH = "/v1/price"
JSON_BYTES = JSON.encode()
_ACCEPTED = frozenset({b"*/*", JSON_BYTES})
_HANDED_ON = frozenset({idempotency.HEADER.lower().encode(), b"content-encoding"})
"""Headers of a request the express lane leaves to the router."""
_NO_OPTIONS = PriceOptions()
_LABEL = label("POST", PATH)


def quick_pricing(instance: Instance) -> Callable[[Request], bool]:
    """The pricing requests that need only the CPU, briefly: a few stones, sent as they are,
    priced by a champion loaded and not due for a look at storage, with no comparable stones
    (the inventory), no Idempotency-Key (the database) and a caller told without the database
    (`Access.recognise`): a bad key, which looks for keys issued since the last look, and a
    partner's key before the keys were read are served on a thread."""

    def quick(request: Request) -> bool:
        environ = request.environ
        return (
            environ["PATH_INFO"] == PATH
            and instance.made("pricer")
            and instance.pricer.ready()
            and (request.content_length or 0) <= QUICK_BODY_BYTES
            and "HTTP_TRANSFER_ENCODING" not in environ
            and "HTTP_CONTENT_ENCODING" not in environ
            and _IDEMPOTENCY_KEY not in environ
            and "comparables=" not in environ["QUERY_STRING"]
            and ("HTTP_AUTHORIZATION" not in environ or recognised(request))
        )

    def recognised(request: Request) -> bool:
        return (
            instance.access.recognise(
                request.environ["HTTP_AUTHORIZATION"],
                lambda: request_address(request),
                instance.settings.bearer_keys(),
            )
            is not None
        )

    return quick


def express_pricing(instance: Instance) -> Express:
    """The common pricing request answered straight from the ASGI scope, without the router:
    one stone POSTed as JSON, with no query string, no Idempotency-Key, no content coding, no
    header given twice, JSON accepted, priced by a champion ready to serve, from a caller told
    without the database (anonymous where pricing needs no key, a team key, a partner key among
    the keys read). Any other request, and any the lane would refuse before the caller's limits
    counted it (a stone invalid or implausible, a bad key, a scope missing, the minute spent),
    is left to the router (None), which answers it as it answers every request. The lane
    answers only what the router would have answered, journaled and counted as the router does
    (the tests compare the two); a partner's month found spent once the minute counted it is
    the one refusal it answers itself, with the router's problem document."""
    journal = _journal(instance)
    settings = instance.settings

    def express(scope: dict, body: bytes) -> AsgiResponse | None:
        if not (
            scope["path"] == PATH
            and scope["method"] == "POST"
            and not scope["query_string"]
            and len(body) <= min(QUICK_BODY_BYTES, settings.max_body_bytes)
            and instance.made("pricer")
            and instance.pricer.ready()
        ):
            return None
        headers = dict(scope["headers"])
        if (
            len(headers) != len(scope["headers"])
            or headers.get(b"content-type") != JSON_BYTES
            or headers.get(b"accept", b"*/*") not in _ACCEPTED
            or not _HANDED_ON.isdisjoint(headers)
        ):
            return None
        started = time.perf_counter()
        access = instance.access
        principal = access.recognise(
            headers.get(b"authorization", b"").decode("latin-1"),
            lambda: client_address(
                headers.get(b"x-forwarded-for", b"").decode("latin-1"),
                (scope.get("client") or ("",))[0],
            ),
            settings.bearer_keys(),
        )
        if (
            principal is None
            or (principal is NOBODY and settings.read_requires_key)
            or (principal is not NOBODY and not principal.may(PRICE))
        ):
            return None
        try:
            document = orjson.loads(body)
            if not isinstance(document, dict) or may_repeat_keys(body, document):
                return None
            stone = Stone.model_validate(document)
            answer, logged = priced(instance, [stone], True, _NO_OPTIONS)
            payload = orjson.dumps(answer)
            if len(payload) >= COMPRESS_FROM:
                return None
            limited = access.admit(principal, PRICE)
        except (orjson.JSONDecodeError, ValidationError, HttpProblem):
            return None
        try:
            access.limits.take_stones(principal, 1)
        except HttpProblem as problem:
            problem.headers.update(limited)
            refused = asgi_answer(problem.response())
            done(principal, document, problem, started, {})
            return refused
        done(principal, document, 200, started, logged)
        return AsgiResponse(payload, media_type=JSON, headers=limited)

    def done(
        principal: Principal,
        document: dict,
        answer: int | HttpProblem,
        started: float,
        logged: dict,
    ) -> None:
        """Journal the request and count it for the partner, as the router does."""
        latency = round((time.perf_counter() - started) * 1000, 3)
        entry = record.entry(PATH, {}, principal.key_id, document, answer, latency, Stone)
        if principal.partner is not None:
            entry.update(partner=principal.partner, key_id=principal.key_id)
        journal({**entry, **logged})
        status = answer if isinstance(answer, int) else answer.status
        instance.access.count(principal, _LABEL, status, logged.get("n_stones", 0), latency)

    return express


def priced(
    instance: Instance,
    stones: list,
    single: bool,
    options: PriceOptions,
    at: tuple = (),
) -> tuple[dict, dict]:
    """The answer to a pricing request and what its journal entry adds: a 503 without a model;
    a 422 for stones refused, its errors pointing at `at` + the field (or + the stone's index
    and the field)."""
    from training.registry import NoChampion

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
        refuse_implausible(record_implausibilities([s.model_dump() for s in stones]), single, at)
        raise HttpProblem(
            503,
            "No model yet",
            f"{exc}; POST /v1/retrain to train one",
            headers={"Retry-After": str(NO_MODEL_RETRY_SECONDS)},
        ) from None
    refuse_implausible(problems, single, at)
    answer = results[0] if single else {"model_version": version, "prices": results}
    logged = {
        "model_version": version,
        "n_stones": len(stones),
        "response": answer,
        "priced": (stones, [result["price"] for result in results]),
    }
    return answer, logged


def _journal(instance: Instance) -> Callable[[dict], None]:
    def journal(entry: dict) -> None:
        instance.prediction_log.submit(entry)

    return journal


def pricing_routes(instance: Instance) -> list[Route]:
    def respond(
        call: Call, stones: list, single: bool, options: PriceOptions, at: tuple = ()
    ) -> Response:
        answer, logged = priced(instance, stones, single, options, at)
        call.journal.update(logged)
        return json_response(answer)

    def price_body(call: Call) -> Response:
        single = not isinstance(call.body, list)
        return respond(call, [call.body] if single else call.body, single, call.query)

    def price_query(call: Call) -> Response:
        return respond(call, [call.query], True, call.query, at=("query",))

    journal = _journal(instance)

    return [
        Route(
            "POST",
            PATH,
            price_body,
            f"Price one stone, or a list of {MANY}: price, 90% interval, model version; "
            "optionally the explanation and comparable inventory stones",
            body=Stone,
            bulk=MAX_STONES,
            query=PriceOptions,
            responses={200: Price | PriceList, 503: None},
            refuses=DOMAIN,
            tag="pricing",
            scope=PRICE,
            journal=journal,
        ),
        Route(
            "GET",
            PATH,
            price_query,
            "Price one stone given in the query string",
            query=StoneQuery,
            responses={200: Price, 503: None},
            refuses=DOMAIN,
            tag="pricing",
            scope=PRICE,
            journal=journal,
        ),
    ]
