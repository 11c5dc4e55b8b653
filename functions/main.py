"""Cloud Functions entry points (functions-framework targets), one line each, as the table of
deployables (functions/deployables.py) lists them: the logic lives in the modules these call.

    functions-framework --source functions/main.py --target pricing

`pricing` runs on the framework's async (ASGI) mode (`functions_framework.aio`: Starlette under
uvicorn), which its decorator selects; the others on its synchronous one (Flask under gunicorn).

The imports allocate tens of thousands of objects that live as long as the process: the
garbage collector, which would walk them over and over while they load, is paused meanwhile,
and they are frozen out of its collections afterwards (`benchmarks/startup.py` measures both;
its figures are in docs/results.md). NumPy is imported first: imported after the service's own
modules, as the first that needs it reaches it, it took twice as long under functions-framework
(`benchmarks/cold_start.py`'s first price, and `python -X importtime`, measure it).
"""

import gc

import functions_framework
import functions_framework.aio

gc.disable()
try:
    import numpy  # noqa: F401

    from functions.deployables import asgi_function, framework_error, http_function
    from functions.http.asgi import refusals_as_problems
    from functions.ingestion import cloud_event_function
    from functions.instance import Instance

    instance = Instance.from_environment()
finally:
    gc.freeze()
    gc.enable()

inventory = functions_framework.http(http_function(instance, "inventory"))
pricing = functions_framework.aio.http(asgi_function(instance, "pricing"))
models = functions_framework.http(http_function(instance, "models"))
retrain = functions_framework.http(http_function(instance, "retrain"))
ingest = functions_framework.cloud_event(cloud_event_function(instance))

for status in (400, 404, 405, 409, 413, 414, 431, 503):
    functions_framework.errorhandler(status)(framework_error)
refusals_as_problems(framework_error)
