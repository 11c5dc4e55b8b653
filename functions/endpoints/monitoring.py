"""The models function's monitoring endpoints: drift and live accuracy, the drift series the
pricing desk draws, and the daily check that writes one log line per characteristic (what the
alerts in Cloud Monitoring count)."""

from __future__ import annotations

from werkzeug.wrappers import Response

from functions.http.responses import json_response
from functions.http.router import Call, Route
from functions.instance import Instance
from functions.payloads.monitoring import (
    DriftSeries,
    DriftSeriesQuery,
    MonitoringQuery,
    MonitoringReport,
)


def monitoring_routes(instance: Instance) -> list[Route]:
    from functions.monitoring import window_bounds

    def report(call: Call) -> Response:
        start, end = window_bounds(call.query.window, call.query.end)
        monitoring = instance.monitoring
        return json_response(
            {
                "drift": monitoring.drift(start, end, call.query.partner),
                "accuracy": monitoring.accuracy(),
            }
        )

    def daily(call: Call) -> Response:
        return json_response(instance.monitoring.daily(call.query.days, call.query.partner))

    def check(call: Call) -> Response:
        return json_response(instance.monitoring.check())

    return [
        Route(
            "GET",
            "/v1/monitoring",
            report,
            "Drift of the stones priced in a window against the champion's training stones "
            "(each characteristic, the prices given, the factors), and the champion's MAPE and "
            "interval coverage on each ingested file's fresh appraisals",
            query=MonitoringQuery,
            responses={200: MonitoringReport},
            tag="monitoring",
        ),
        Route(
            "GET",
            "/v1/monitoring/daily",
            daily,
            "Each characteristic's drift, day after day (UTC)",
            query=DriftSeriesQuery,
            responses={200: DriftSeries},
            tag="monitoring",
        ),
        Route(
            "POST",
            "/v1/monitoring/check",
            check,
            "The last day's drift and the live accuracy, with one log line per characteristic "
            "and one for the newest scored file (the daily check the alerts read)",
            responses={200: MonitoringReport},
            write=True,
            tag="monitoring",
        ),
    ]
