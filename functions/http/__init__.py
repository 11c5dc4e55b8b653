"""The HTTP layer every function shares. It knows requests, not diamonds: the endpoints
(functions/endpoints/) declare routes as data, and this package serves them.

router        routes as data, dispatch, and what a handler gets (`Route`, `Router`, `Call`)
problems      RFC 9457 problem documents and RFC 6901 pointers to the offending input
bodies        reading a JSON body: size, media type, encoding, gzip, duplicate keys
parameters    path and query parameters against their pydantic models
keys          who is calling: bearer keys and their ids
conditional   ETags and preconditions (If-Match, If-None-Match)
idempotency   Idempotency-Key: a retried POST gets the first answer
responses     JSON answers, content negotiation and gzip
journal       what a journaled route's log entry holds, secrets left out
asgi          the router on functions-framework's async mode (Starlette, uvicorn)
"""
