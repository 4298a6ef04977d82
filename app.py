"""fngate: one Chalice app, local and on AWS. Registers the blueprints, the access log and the error middleware."""

from __future__ import annotations

from chalice import Chalice

import chalicelib.api.email_reports as email_reports
import chalicelib.api.logs as function_logs
import chalicelib.api.people as people
import chalicelib.api.replay as replay
import chalicelib.api.reports as reports
import chalicelib.api.schedules as schedules
from chalicelib.api import auth, bots, deployments, domains, events, functions, invoke, jobs, lambdas, openapi, secrets
from chalicelib.api import toolbelt as function_toolbelt
from chalicelib.api import ui as web_ui
from chalicelib.api.middleware import spec_errors
from chalicelib.observability import access_log, configure

configure()
app = Chalice(app_name="fngate")
app.register_middleware(access_log, "http")  # outermost: it sees the answer as it leaves
app.register_middleware(spec_errors, "http")
for module in (auth, lambdas, functions, deployments, events, invoke, openapi, secrets, domains, jobs, bots, web_ui):
    app.register_blueprint(module.bp)
for module in (function_logs, reports, email_reports, replay, schedules, people, function_toolbelt):
    app.register_blueprint(module.bp)
