"""fngate: one Chalice app, local and on AWS. Registers the blueprints and the error middleware; nothing else."""

from __future__ import annotations

from chalice import Chalice

from chalicelib.api import (
    auth,
    bots,
    deployments,
    domains,
    events,
    functions,
    invoke,
    jobs,
    lambdas,
    openapi,
    secrets,
    ui,
)
from chalicelib.api.middleware import spec_errors

app = Chalice(app_name="fngate")
app.register_middleware(spec_errors, "http")
for module in (auth, lambdas, functions, deployments, events, invoke, openapi, secrets, domains, jobs, bots, ui):
    app.register_blueprint(module.bp)
