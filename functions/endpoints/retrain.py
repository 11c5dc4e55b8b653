"""The retrain function's endpoint: /v1/retrain."""

from __future__ import annotations

from werkzeug.wrappers import Response

from functions.http.problems import HttpProblem
from functions.http.responses import json_response
from functions.http.router import Call, Route
from functions.instance import Instance
from functions.payloads.models import RetrainRequest, RunStarted


def retrain_routes(instance: Instance) -> list[Route]:
    def retrain(call: Call) -> Response:
        from functions.retraining import JobNotStarted, NothingToTrain

        try:
            started = instance.retraining.request(
                trigger="api", reason=call.body.reason, caller=call.caller
            )
        except NothingToTrain as exc:
            raise HttpProblem(409, "Nothing to train on", str(exc)) from None
        except JobNotStarted as exc:
            raise HttpProblem(503, "Training could not start", str(exc)) from None
        return json_response(started, 202, {"Location": started["status_url"]})

    return [
        Route(
            "POST",
            "/v1/retrain",
            retrain,
            "Snapshot the inventory and ask for a training run; poll the returned status URL. "
            "One run trains at a time: a request while one runs joins the single follow-up run "
            "queued behind it (202 pointing at that run, coalesced=true)",
            body=RetrainRequest,
            responses={202: RunStarted, 409: None, 503: None},
            links={
                202: {
                    "GetRun": {
                        "operationId": "get_v1_runs_run_id",
                        "parameters": {"run_id": "$response.body#/run_id"},
                    }
                }
            },
            write=True,
            tag="models",
        ),
    ]
