"""JSON Schemas of every request and response body, by route: what /openapi.json publishes, so clients and fuzzers
(`make fuzz`) see the real shapes (management-api.md §3–5, external-invocation.md §2–5).

Requests are described as the routes accept them; responses as the routes render them (api/render.py). Objects stay
open (extra properties allowed): LivePerson's clients ignore fields they do not know, and so may others.
"""

from __future__ import annotations

from typing import Any

S = dict[str, Any]


def ref(name: str) -> S:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: tuple[str, ...] = (), **props: S) -> S:
    out: S = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


def arr(items: S) -> S:
    return {"type": "array", "items": items}


STR: S = {"type": "string"}
INT: S = {"type": "integer"}
BOOL: S = {"type": "boolean"}
ANY: S = {}
NSTR: S = {"type": "string", "nullable": True}
KEY_VALUE = obj(("key",), key=STR, value=ANY)

COMPONENTS: dict[str, S] = {
    # -- errors --------------------------------------------------------------------------------------------------------
    "ErrorV1": obj(("errorCode", "errorMsg"), errorCode=STR, errorMsg=STR, errorLogs=arr(ANY)),
    "ErrorV2": obj(("code", "message"), code=STR, message=STR, errorLogs=arr(ANY)),
    "OAuthError": obj(("error",), error=STR, error_description=STR),
    "Error": {"anyOf": [ref("ErrorV1"), ref("ErrorV2"), ref("OAuthError")]},
    "Message": obj(("message",), message=STR),
    # -- auth ------------------------------------------------------------------------------------------------------
    "TokenRequest": obj(grant_type=STR, client_id=STR, client_secret=STR),
    "Token": obj(("access_token", "token_type", "expires_in"), access_token=STR, token_type=STR, expires_in=INT),
    "Jwks": obj(("keys",), keys=arr(obj(("kty", "kid"), kty=STR, crv=STR, alg=STR, use=STR, kid=STR, x=STR))),
    "LoginRequest": obj(("username", "password"), username=STR, password=STR),
    "Session": obj(("bearer", "csrf", "sessionId", "config"), bearer=STR, csrf=STR, sessionId=STR,
                   config=obj(("userId", "loginName"), userId=STR, loginName=STR)),
    "RefreshRequest": obj(csrf=ANY),
    "SessionTimeout": obj(("sessionTimeout",), sessionTimeout=INT),
    "BaseUris": obj(("baseURIs",), baseURIs=arr(obj(("service", "account", "baseURI"), service=STR, account=STR,
                                                    baseURI=STR))),
    # -- functions ---------------------------------------------------------------------------------------------------
    "RuntimeV1": obj(("uuid", "name", "baseImageName"), uuid=STR, name=STR, baseImageName=STR),
    "LambdaV1": obj(("uuid", "version", "name", "state", "runtime", "implementation"), uuid=STR, version=INT,
                    name=STR, description=ANY, samplePayload=ANY, state=STR, runtime=ref("RuntimeV1"),
                    eventId=STR, skills=ANY, lastDeployment=ANY, createdAt=ANY, updatedAt=ANY, createdBy=ANY,
                    updatedBy=ANY,
                    implementation=obj(("code",), code=STR, dependencies=ANY,
                                       environmentVariables=arr(KEY_VALUE))),
    "LambdaV1Request": obj(name=ANY, description=ANY, eventId=ANY, samplePayload=ANY, skills=ANY, runtime=ANY,
                           implementation=ANY, version=ANY, uuid=ANY, state=ANY, timestamp=ANY),
    "Manifest": obj(("id", "version", "runtime", "code"), id=STR, version=INT, runtime=STR, spec=ANY, code=STR,
                    customDependencies=ANY, environment=ANY, createdAt=ANY, createdBy=ANY, updatedAt=ANY,
                    updatedBy=ANY),
    "FunctionMeta": obj(("uuid", "name", "state"), uuid=STR, name=STR, description=ANY, state=STR, skills=ANY,
                        size=ANY, isCompV1=ANY, eventId=STR, lastDeployment=ref("Deployment"), createdAt=ANY,
                        createdBy=ANY, updatedAt=ANY, updatedBy=ANY),
    "Function": {"allOf": [ref("FunctionMeta"), obj(("manifest",), manifest=ref("Manifest"))]},
    "FunctionHistory": {"allOf": [ref("Function"), obj(("versions",), versions=arr(ref("Manifest")))]},
    "FunctionRequest": obj(name=ANY, description=ANY, eventId=ANY, skills=ANY, samplePayload=ANY, runtime=ANY,
                           code=ANY, environment=ANY),
    "FunctionUpdate": obj(name=ANY, description=ANY, skills=ANY, eventId=ANY, samplePayload=ANY),
    "ManifestUpdate": obj(version=ANY, id=ANY, code=ANY, environment=ANY, runtime=ANY),
    "Deployment": obj(("id", "uuid", "deploymentState"), id=INT, uuid=STR, functionUuid=STR, manifestUUID=STR,
                      manifestVersion=ANY, deploymentState=STR, createdAt=ANY, updatedAt=ANY, deployedAt=ANY,
                      undeployedAt=ANY, createdBy=ANY, updatedBy=ANY, functionSize=ANY, cpu=ANY, memory=ANY,
                      restoredFrom=ANY, deploymentError=ANY),
    "Restored": obj(("message", "deployment"), message=STR, deployment=ref("Deployment")),
    "TestResult": obj(("result", "logs"), result=ANY, logs=arr(ANY)),
    # -- invocation ------------------------------------------------------------------------------------------------
    "InvokeRequest": obj(timestamp=ANY, headers=ANY, payload=ANY),
    "Implemented": obj(("implemented",), implemented=BOOL),
    "Event": obj(("eventId",), eventId=STR),
    "Template": obj(("eventId", "runtime", "code"), eventId=STR, runtime=STR, code=STR),
    # -- secrets, domains, provisioning --------------------------------------------------------------------------
    "Secret": obj(("key", "value"), key=STR, value=ANY, createdAt=ANY, createdBy=ANY, updatedAt=ANY,
                  updatedBy=ANY, functions={"type": "array", "items": STR, "nullable": True}),
    "SecretRequest": obj(key=ANY, value=ANY, functions=ANY),
    "DomainV1": obj(("id", "domain"), id=ANY, domain=STR, name=ANY),
    "DomainV2": {"allOf": [ref("DomainV1"), obj(createdAt=ANY, createdBy=ANY, updatedAt=ANY, updatedBy=ANY)]},
    "DomainRequest": obj(domain=ANY, name=ANY, id=ANY),
    "Provisioning": obj(("accountId",), accountId=STR, provisioned=ANY, status=ANY, secrets=ANY),
    "TermsAccepted": obj(("accountId",), accountId=STR, provisioned=ANY, secretsCreated=ANY, domainsAdded=ANY,
                         skippedServices=ANY),
    "OpenApi": obj(("openapi", "paths"), openapi=STR, paths=obj()),
    # -- bots and jobs ----------------------------------------------------------------------------------------------
    "BotRequest": obj(botId=ANY, functionUuid=ANY, clientSecret=ANY, clientId=ANY, agentId=ANY, name=ANY,
                      skills=ANY, escalation=ANY, hooks=ANY, callbackUrl=ANY, options=ANY),
    "Bot": obj(("botId", "functionUuid"), botId=STR, name=ANY, functionUuid=STR, agentId=ANY, clientId=ANY,
               clientSecret=STR, skills=ANY, escalation=ANY, hooks=ANY, callbackUrl=ANY, options=ANY),
    "Notification": obj(kind=ANY, type=ANY, body=ANY),
    "PlainMessage": obj(conversationId=ANY, sequence=ANY, consumerId=ANY, message=ANY, richContent=ANY, event=ANY,
                        signalPayload=ANY, sdes=ANY),
    "Accepted": obj(("duplicates",), queued=INT, duplicates=INT, events=arr(ANY)),
    "ConnectionTest": obj(("ok",), ok=BOOL, functionUuid=ANY, problems=arr(ANY), durationMs=ANY, reply=ANY,
                          outbound=ANY),
    # -- logs, reports, replay, email reports ------------------------------------------------------------------
    "LogPage": obj(("logs",), logs=arr(obj(("requestId", "level", "message"), functionUuid=ANY, requestId=STR,
                                           level=STR, message=STR, extras=ANY, timestamp=ANY,
                                           invocationStatus=ANY)), cursor=ANY),
    "LimitCounts": obj(limitTotalLambdas=ANY, limitDeployedLambdas=ANY, invocationLimitPerMonth=ANY),
    "LambdaCounts": obj(accountId=ANY, total=ANY, deployed=ANY),
    "InvocationCounts": {"anyOf": [obj(("accountId",), accountId=STR, successfulInvocations=ANY,
                                       unsuccessfulInvocations=ANY),
                                   arr(obj(("functionUuid",), functionUuid=STR, successfulInvocations=ANY,
                                           failedInvocations=ANY))]},
    "InvocationStatistics": obj(("invocationStatistics",), invocationStatistics=arr(obj(("from", "to"), **{
        "from": ANY, "to": ANY, "SUCCEEDED": ANY, "CODING_FAILURE": ANY, "PLATFORM_FAILURE": ANY, "TIMEOUT": ANY,
        "UNKOWN": ANY}))),
    "Home": obj(functions=ANY, invocations=ANY, errors=ANY, p50Ms=ANY, p99Ms=ANY, perFunction=ANY,
                gatewayRequests=ANY),
    "Replay": obj(keepInputs=ANY, keptForSeconds=ANY),
    "ReplayRequest": obj(keepInputs=ANY),
    "Kept": arr(obj(("requestId",), requestId=STR, at=ANY, status=ANY)),
    "Replayed": obj(("same",), requestId=ANY, replayRequestId=ANY, same=BOOL, original=ANY, replay=ANY),
    "EmailReports": obj(("settings", "recipients"), settings=obj(), recipients=arr(obj())),
    "EmailSettingsRequest": obj(enabled=ANY, frequency=ANY),
    "EmailSettings": obj(),
    "RecipientRequest": obj(email=ANY),
    "Recipient": obj(("email",), email=STR, addedAt=ANY, addedBy=ANY),
    "Delivery": obj(delivery=ANY, period=ANY, state=ANY, attempts=ANY, errors=ANY),
    "ToolbeltCall": obj(("method",), method=STR, params=obj()),
    "ToolbeltResult": obj(("ok",), ok=BOOL, result=ANY, code=STR, message=STR),
    "Job": obj(("id", "kind", "state"), id=ANY, kind=STR, state=STR, group=ANY, payload=ANY, attempts=ANY,
               maxAttempts=ANY, runAt=ANY, createdAt=ANY, updatedAt=ANY, lastError=ANY, errors=ANY),
}


def json_body(name: str) -> S:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


def optional_json_body(name: str) -> S:
    return {"required": False, "content": {"application/json": {"schema": ref(name)}}}


TEXT_EXPORT: dict[str, S] = {"200": {"description": "CSV with a header line (or JSON lines with ?format=jsonl)",
                                     "content": {"text/csv": {"schema": STR},
                                                 "application/x-ndjson": {"schema": STR}}}}

UI_FILE: dict[str, S] = {"200": {"description": "a file of the web UI (HTML, JavaScript, CSS, fonts, images)",
                                 "content": {"*/*": {"schema": STR}}}}

FORM_BODY: S = {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": ref("TokenRequest")},
                                              "application/json": {"schema": ref("TokenRequest")}}}


def ok(schema: S, status: str = "200", text: str = "OK") -> dict[str, S]:
    return {status: {"description": text, "content": {"application/json": {"schema": schema}}}}


A, F, L, D, SEC, DOM = ("/api/account/{account_id}", "/api/account/{account_id}/functions",
                        "/api/account/{account_id}/lambdas", "/api/account/{account_id}/deployments",
                        "/api/account/{account_id}/secrets", "/api/account/{account_id}")
MESSAGE = ok(ref("Message"))
ANY_JSON = ok(ANY, text="the function's result as JSON")

# (method, path) → (request body or None, responses besides the errors every route documents)
OPERATIONS: dict[tuple[str, str], tuple[S | None, dict[str, S]]] = {
    ("POST", "/sentinel/api/account/{account_id}/app/token"): (FORM_BODY, ok(ref("Token"))),
    ("POST", "/sentinel/api/v2/account/{account_id}/app/token"): (FORM_BODY, ok(ref("Token"))),
    ("GET", "/sentinel/well-known/jwks"): (None, ok(ref("Jwks"))),
    ("POST", A + "/login"): (json_body("LoginRequest"), ok(ref("Session"))),
    ("POST", A + "/refresh"): (optional_json_body("RefreshRequest"), ok(ref("SessionTimeout"))),
    ("GET", A + "/service/baseURI.json"): (None, ok(ref("BaseUris"))),
    ("POST", D + "/{uuid}"): (None, MESSAGE),
    ("PATCH", D + "/{uuid}"): (None, MESSAGE),
    ("DELETE", D + "/{uuid}"): (None, MESSAGE),
    ("GET", D): (None, ok(arr(ref("Deployment")))),
    ("GET", D + "/count"): (None, ok(INT)),
    ("GET", F + "/{uuid}/deployments"): (None, ok(arr(ref("Deployment")))),
    ("POST", F + "/{uuid}/deployments/{deployment_id}/rollback"): (None, ok(ref("Restored"))),
    ("GET", A + "/proxy-settings"): (None, ok(arr(ref("DomainV1")))),
    ("POST", A + "/proxy-settings"): (json_body("DomainRequest"), ok(ref("DomainV1"), "201")),
    ("PUT", A + "/proxy-settings/{domain_id}"): (json_body("DomainRequest"), ok(ref("DomainV1"))),
    ("DELETE", A + "/proxy-settings/{domain_id}"): (None, MESSAGE),
    ("GET", DOM + "/domains"): (None, ok(arr(ref("DomainV2")))),
    ("POST", DOM + "/domains"): (json_body("DomainRequest"), ok(ref("DomainV2"), "201")),
    ("PUT", DOM + "/domains/{domain_id}"): (json_body("DomainRequest"), ok(ref("DomainV2"))),
    ("DELETE", DOM + "/domains/{domain_id}"): (None, MESSAGE),
    ("GET", A + "/events"): (None, ok(arr(ref("Event")))),
    ("GET", A + "/events/{event_id}/template"): (None, ok(ref("Template"))),
    ("GET", F): (None, ok(arr(ref("FunctionMeta")))),
    ("GET", F + "/count"): (None, ok(INT)),
    ("POST", F): (json_body("FunctionRequest"), ok(ref("Function"), "201")),
    ("GET", F + "/{uuid}"): (None, ok(ref("FunctionHistory"))),
    ("PUT", F + "/{uuid}"): (json_body("FunctionUpdate"), ok(ref("Function"))),
    ("PUT", F + "/{uuid}/manifest"): (json_body("ManifestUpdate"), ok(ref("Function"))),
    ("DELETE", F + "/{uuid}"): (None, MESSAGE),
    ("POST", F + "/{uuid}/test"): (json_body("InvokeRequest"), ok(ref("TestResult"))),
    ("POST", L + "/{uuid}/invoke"): (json_body("InvokeRequest"), {
        **ANY_JSON, "901": {"description": "the function failed",
                            "content": {"application/json": {"schema": ref("Error")}}}}),
    ("POST", A + "/events/{event_id}/invoke"): (json_body("InvokeRequest"), {
        **ok(arr(ANY), text="every bound function's result"),
        "901": {"description": "a function failed", "content": {"application/json": {"schema": ref("Error")}}}}),
    ("GET", A + "/events/{event_id}/isImplemented"): (None, ok(ref("Implemented"))),
    ("GET", L): (None, ok(arr(ref("LambdaV1")))),
    ("POST", L): (json_body("LambdaV1Request"), ok(ref("LambdaV1"), "201")),
    ("GET", L + "/{uuid}"): (None, ok(arr(ref("LambdaV1")))),
    ("PUT", L + "/{uuid}"): (json_body("LambdaV1Request"), {**ok(ref("LambdaV1")),
                                                            "304": {"description": "unchanged (V1)"}}),
    ("DELETE", L + "/{uuid}"): (None, MESSAGE),
    ("GET", A + "/runtimes"): (None, ok(arr(ref("RuntimeV1")))),
    ("GET", "/openapi.json"): (None, ok(ref("OpenApi"))),
    ("GET", SEC): (None, ok(arr(ref("Secret")))),
    ("POST", SEC): (json_body("SecretRequest"), ok(ref("Secret"), "201")),
    ("GET", SEC + "/{key}"): (None, ok(ref("Secret"))),
    ("PUT", SEC + "/{key}"): (json_body("SecretRequest"), ok(ref("Secret"))),
    ("DELETE", SEC + "/{key}"): (None, MESSAGE),
    ("GET", A + "/provisioning"): (None, ok(ref("Provisioning"))),
    ("POST", A + "/bots"): (json_body("BotRequest"), ok(ref("Bot"), "201")),
    ("GET", A + "/bots"): (None, ok(arr(ref("Bot")))),
    ("GET", A + "/bots/{bot_id}"): (None, ok(ref("Bot"))),
    ("PUT", A + "/bots/{bot_id}"): (json_body("BotRequest"), ok(ref("Bot"))),
    ("DELETE", A + "/bots/{bot_id}"): (None, MESSAGE),
    ("POST", A + "/bots/{bot_id}/webhook"): (json_body("Notification"), ok(ref("Accepted"))),
    ("POST", A + "/bots/{bot_id}/messages"): (json_body("PlainMessage"), ok(ref("Accepted"))),
    ("POST", A + "/bots/{bot_id}/test-connection"): (None, ok(ref("ConnectionTest"))),
    ("GET", A + "/bots/{bot_id}/logs"): (None, ok(arr(obj()))),
    ("GET", A + "/jobs"): (None, ok(arr(ref("Job")))),
    ("POST", A + "/jobs/{job_id}/retry"): (None, ok(ref("Job"))),
    ("POST", A + "/provisioning/terms"): (None, ok(ref("TermsAccepted"))),
    ("GET", A + "/logs"): (None, ok(ref("LogPage"))),
    ("GET", A + "/logs/export"): (None, TEXT_EXPORT),
    ("GET", F + "/{uuid}/logs/export"): (None, TEXT_EXPORT),
    ("GET", A + "/reports/limitCounts"): (None, ok(ref("LimitCounts"))),
    ("GET", A + "/reports/lambdaCounts"): (None, ok(ref("LambdaCounts"))),
    ("GET", A + "/reports/invocationCounts"): (None, ok(ref("InvocationCounts"))),
    ("GET", A + "/reports/invocations/{uuid}"): (None, ok(ref("InvocationStatistics"))),
    ("GET", A + "/reports/home"): (None, ok(ref("Home"))),
    ("GET", F + "/{uuid}/replay"): (None, ok(ref("Replay"))),
    ("PUT", F + "/{uuid}/replay"): (json_body("ReplayRequest"), ok(ref("Replay"))),
    ("GET", F + "/{uuid}/invocations"): (None, ok(ref("Kept"))),
    ("POST", F + "/{uuid}/invocations/{request_id}/replay"): (None, ok(ref("Replayed"))),
    ("GET", A + "/emailReports"): (None, ok(ref("EmailReports"))),
    ("PUT", A + "/emailReports/settings"): (json_body("EmailSettingsRequest"), ok(ref("EmailSettings"))),
    ("POST", A + "/emailReports/recipients"): (json_body("RecipientRequest"), ok(ref("Recipient"), "201")),
    ("DELETE", A + "/emailReports/recipients/{email}"): (None, MESSAGE),
    ("GET", A + "/emailReports/deliveries"): (None, ok(arr(ref("Delivery")))),
    ("POST", A + "/emailReports/send"): (None, ok(ref("Delivery"), "202")),
    ("POST", F + "/{uuid}/toolbelt"): (json_body("ToolbeltCall"), ok(ref("ToolbeltResult"))),
    ("GET", "/"): (None, UI_FILE),
    ("GET", "/ui/{name}"): (None, UI_FILE),
    ("GET", "/ui/{folder}/{name}"): (None, UI_FILE),
    ("GET", "/ui/{folder}/{package}/{name}"): (None, UI_FILE),
}
