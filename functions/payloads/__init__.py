"""The API's request and response models, derived from the one diamond record in
training.record. They validate requests and generate the OpenAPI document, so every constraint
the server enforces on an input is stated in the document, and every field of every response
is described there.

One module per function's endpoints: a function instance imports the payloads of the routes it
serves, and the pricing function's cold start does not build the other functions' models.

Annotations here are objects, not strings (no `from __future__ import annotations`): pydantic
would evaluate each string back, a few milliseconds of every cold start."""
