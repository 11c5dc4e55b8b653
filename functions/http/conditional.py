"""ETags and preconditions (RFC 9110): a resource's ETag is its revision in quotes; a change
sent with If-Match applies only to the revision it names (else 412), and a read sent with
If-None-Match naming the current revision is a 304 with no body."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from functions.http.problems import HttpProblem

ANY = frozenset({-1})
"""`If-Match: *`: any current revision."""


def etag(revision: int) -> str:
    return f'"{revision}"'


def required_revisions(request: Request) -> frozenset[int] | None:
    """The revisions an If-Match header allows (ANY for `*`), None without one. A tag that is
    weak, or no revision this server gave, allows none: the change is refused."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = [tag.strip() for tag in header.split(",")]
    if "*" in tags:
        return ANY
    return frozenset(_revision(tag) for tag in tags) - {None}  # type: ignore[arg-type]


def _revision(tag: str) -> int | None:
    if len(tag) > 2 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit():
        return int(tag[1:-1])
    return None


def precondition_failed(current: int) -> HttpProblem:
    return HttpProblem(
        412,
        "Precondition failed",
        f"the resource is at revision {current} (ETag {etag(current)}), not one If-Match "
        "names: someone changed it since you read it; read it again, then retry",
        headers={"ETag": etag(current)},
    )


def not_modified(request: Request, revision: int) -> Response | None:
    """A 304 when If-None-Match names the current revision (or is `*`), else None."""
    header = request.headers.get("If-None-Match")
    if not header:
        return None
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if "*" in tags or etag(revision) in tags:
        return Response(status=304, headers={"ETag": etag(revision)})
    return None
