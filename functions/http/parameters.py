"""Path and query parameters, validated against the route's pydantic models: a value refused
is a 422 naming `/path/<name>` or `/query/<name>`; an unknown or repeated query parameter too."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError
from werkzeug.wrappers import Request

from functions.http.problems import invalid, pointer, validation_errors

NOT_KEPT = "(not kept)"
"""What a log keeps of a value it must not keep (a client may put a secret anywhere)."""


def parse_params(params: dict[str, Any], model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise invalid(validation_errors(exc, ("path",))) from None


def parse_query(request: Request, model: type[BaseModel]) -> BaseModel:
    if request.query_string:
        values = _query_values(request, model)
    elif (defaults := _defaults(model)) is not None:
        return defaults
    else:
        values = {}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise invalid(validation_errors(exc, ("query",))) from None


def known_query(request: Request, model: type[BaseModel] | None) -> dict[str, Any]:
    """The query's parameters that `model` knows, by name; the others by name only, their
    values left out (a client may put a secret there, such as its key)."""
    known = model.model_fields if model is not None else {}
    kept: dict[str, Any] = {}
    for name in request.args:
        values = request.args.getlist(name)
        kept[name] = (values[0] if len(values) == 1 else values) if name in known else NOT_KEPT
    return kept


def _query_values(request: Request, model: type[BaseModel]) -> dict[str, Any]:
    """The query's parameters by name: a list field's values split at commas, any other given
    once; an unknown or repeated parameter is a 422."""
    args = request.args
    unknown = sorted(set(args) - set(model.model_fields))
    if unknown:
        raise invalid(
            [
                {"field": pointer(("query", name)), "detail": "unknown query parameter"}
                for name in unknown
            ]
        )
    lists = _list_fields(model)
    values: dict[str, Any] = {}
    for name in args:
        many = args.getlist(name)
        if name in lists:
            values[name] = [part for value in many for part in value.split(",")]
        elif len(many) > 1:
            raise invalid([{"field": pointer(("query", name)), "detail": "given more than once"}])
        else:
            values[name] = many[0]
    return values


@cache
def _defaults(model: type[BaseModel]) -> BaseModel | None:
    """The query of a request that sends none, validated once and shared by every such request
    (handlers read their query, never change it); None if the model requires a parameter."""
    try:
        return model.model_validate({})
    except ValidationError:
        return None


@cache
def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(n for n, f in model.model_fields.items() if "list[" in str(f.annotation))
