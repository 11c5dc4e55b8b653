"""The problem document every refusal answers (RFC 9457)."""

from pydantic import Field

from functions.payloads.schema import (
    IMPLAUSIBLE,
    Schema,
    absent,
)


class FieldError(Schema):
    field: str = Field(
        description="an RFC 6901 JSON pointer to the offending input: into the JSON body "
        "(`/cut`, `/1/price`; the empty pointer is the whole body), or to a query or path "
        "parameter (`/query/limit`, `/path/id`)"
    )
    detail: str = Field(description="what is wrong with it")


class ProblemDetails(Schema):
    """RFC 9457 problem details."""

    type: str = Field(
        description="the problem's type: a link to its description on the docs page; "
        f"`{IMPLAUSIBLE}` for a stone refused by the domain rule"
    )
    title: str
    status: int
    detail: str
    errors: list[FieldError] = absent(description="one entry per offending input")
