"""The pricing desk: the team's web page, static files (functions/web/) served at `/` by the
function that answers every path the API does not claim (pricing, locally and in the cloud).

The page itself is revalidated on every load (ETag); the scripts and styles it loads live under
a path naming a digest of all the files (/web/<digest>/app.js), so a browser keeps them for a
year and a new release reaches it at once. Every file goes out with a Content-Security-Policy
that lets the page load nothing and talk to nothing but its own origin. Only the files found in
the folder at start are served: a name is looked up, never joined to a path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import PurePath

from werkzeug.wrappers import Response

from functions.http.problems import HttpProblem
from functions.http.router import Call, Route

PAGE = "index.html"
VERSION_MARK = "{{version}}"
"""Replaced, in the page, by the digest that names the current files' path."""
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PAGE_CACHING = "no-cache"
ASSET_CACHING = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> Asset:
        return cls(body, content_type, hashlib.sha256(body).hexdigest()[:20])


@dataclass(frozen=True)
class Site:
    version: str
    page: Asset
    assets: dict[str, Asset]


def load_site() -> Site:
    """The files of the page, read once; the version is a digest of all of them."""
    found = {
        entry.name: Asset.of(entry.read_bytes(), CONTENT_TYPES[PurePath(entry.name).suffix])
        for entry in (files("functions") / "web").iterdir()
        if entry.is_file() and PurePath(entry.name).suffix in CONTENT_TYPES
    }
    digest = hashlib.sha256()
    for name in sorted(found):
        digest.update(name.encode() + b"\0" + found[name].body + b"\0")
    version = digest.hexdigest()[:12]
    template = found.pop(PAGE)
    page = Asset.of(
        template.body.replace(VERSION_MARK.encode(), version.encode()), template.content_type
    )
    return Site(version, page, found)


def _send(call: Call, asset: Asset, caching: str) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": caching, "ETag": f'"{asset.etag}"'}
    if call.request.if_none_match.contains(asset.etag):
        return Response(status=304, headers=headers)
    return Response(asset.body, content_type=asset.content_type, headers=headers)


def web_routes() -> list[Route]:
    site = cache(load_site)  # read at the first request for the page: pricing never waits for it

    def page(call: Call) -> Response:
        return _send(call, site().page, PAGE_CACHING)

    def asset(call: Call) -> Response:
        found = site().assets.get(call.params["name"])
        if call.params["version"] != site().version or found is None:
            raise HttpProblem(404, "Not found", f"no such file: {call.request.path}")
        return _send(call, found, ASSET_CACHING)

    return [
        Route("GET", "/", page, "The pricing desk", public=True, tag="web"),
        Route(
            "GET",
            "/web/<string(maxlength=40):version>/<string(maxlength=100):name>",
            asset,
            "A script, style or image of the pricing desk",
            public=True,
            tag="web",
        ),
    ]
