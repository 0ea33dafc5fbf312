"""The whole flow through the client generated from docs/openapi.yaml (scripts/contract runs it).

Every response goes through `check`, which fails the run unless the document declares that status
for that operation and the body matches the declared schema (JSON Schema 2020-12, as OpenAPI 3.1
uses). The generated client also parses each body into its generated types, and raises on a
status the document does not declare (`raise_on_unexpected_status`).

    python scripts/contract_flow.py BASE_URL docs/openapi.yaml CLIENT_ID:CLIENT_SECRET MACHINE_ID:MACHINE_SECRET
    (CONTRACT_ACCESS_SECRET: authd's ACCESS_TOKEN_SECRET, to make an expired token)
"""

import base64
import hashlib
import hmac
import json
import os
import re
import sys
import time
import uuid

import httpx
import jsonschema
import pyotp
import yaml

from authd_client import AuthenticatedClient, Client
from authd_client.api.default import (
    begin_enrolment,
    change_password,
    complete_login,
    confirm_enrolment,
    create_user,
    end_session,
    factor_status,
    forward_auth,
    forward_auth_prefixed,
    healthz,
    introspect,
    jwks,
    list_sessions,
    login,
    logout,
    logout_with_scope,
    me,
    metadata,
    metrics,
    poll_security_events,
    posts,
    readyz,
    remove_factor,
    revoke,
    step_up,
    token,
)
from authd_client.models import (
    BeginEnrolmentBody,
    ChangePasswordBody,
    CompleteLoginBody,
    ConfirmEnrolmentBody,
    FactorAnswer,
    ForwardAuthMfa,
    MfaRequired,
    Credentials,
    Error,
    Introspection,
    LogoutWithScopeBody,
    LogoutWithScopeBodyScope,
    Me,
    OAuthTokenRequest,
    OAuthTokenRequestGrantType,
    OAuthTokens,
    PollSecurityEventsBody,
    RefreshRequest,
    TokenForm,
    Tokens,
)

base_url, spec_path, introspection_client = sys.argv[1], sys.argv[2], sys.argv[3]
# A registered client allowed tokens (`authd clients add ID --may token`), as ID:SECRET.
machine_client = sys.argv[4]
spec = yaml.safe_load(open(spec_path))
checked = []


def operation_for(method, path):
    for template, operations in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return template, operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the document")


def check(response: httpx.Response):
    """Fails unless the document declares this status, and the body matches its schema."""
    response.read()
    request = response.request
    template, operation = operation_for(request.method, request.url.path)
    status = str(response.status_code)
    declared = operation["responses"].get(status)
    assert declared is not None, f"{request.method} {template} answered {status}, which is not declared"
    if "$ref" in declared:
        declared = spec["components"]["responses"][declared["$ref"].rsplit("/", 1)[1]]
    content = declared.get("content")
    if not content:
        assert response.content == b"", f"{request.method} {template} {status}: a body where none is declared"
        checked.append(f"{request.method} {template} {status}")
        return
    media = response.headers.get("content-type", "").split(";")[0].strip()
    assert media in content, f"{request.method} {template} {status}: content type {media!r} not declared"
    if media == "application/json":
        schema = dict(content[media]["schema"])
        # $refs point at #/components/...: give the schema the document's components at its root.
        schema["components"] = spec["components"]
        jsonschema.Draft202012Validator(schema).validate(response.json())
    checked.append(f"{request.method} {template} {status}")


def client(**kwargs):
    hooks = {"event_hooks": {"response": [check]}}
    return Client(base_url=base_url, raise_on_unexpected_status=True, httpx_args=hooks, **kwargs)


def bearer(access_token, prefix="Bearer"):
    hooks = {"event_hooks": {"response": [check]}}
    return AuthenticatedClient(
        base_url=base_url, token=access_token, prefix=prefix, raise_on_unexpected_status=True, httpx_args=hooks
    )


def expect(response, status, kind):
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.content!r}"
    assert isinstance(response.parsed, kind), f"expected a {kind.__name__}, got {response.parsed!r}"
    return response.parsed


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def expired(access_token: str) -> str:
    """The same claims with `exp` an hour ago, signed with authd's own key."""
    header, payload, _ = access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["iat"] = claims["exp"] = int(time.time()) - 3600
    signing_input = header + "." + b64url(json.dumps(claims, separators=(",", ":")).encode())
    key = os.environ["CONTRACT_ACCESS_SECRET"].encode()
    return signing_input + "." + b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


public = client()
user = "contract-" + uuid.uuid4().hex[:8]
password = "correct horse battery"

# Probes, and the endpoints from the metadata rather than hard-coded.
assert healthz.sync_detailed(client=public).status_code == 200
discovered = metadata.sync_detailed(client=public)
assert discovered.status_code == 200 and discovered.parsed.token_endpoint.endswith("/token")
assert readyz.sync_detailed(client=public).status_code == 200

# Sign-up, login, who am I, the tutorial's resource.
created = create_user.sync_detailed(client=public, body=Credentials(username=user.upper(), password=password))
assert created.status_code == 201 and created.parsed.username == user
taken = create_user.sync_detailed(client=public, body=Credentials(username=user, password=password))
assert expect(taken, 409, Error).error == "username_taken"
first = expect(login.sync_detailed(client=public, body=Credentials(username=user, password=password)), 200, Tokens)
assert first.token_type == "Bearer" and first.expires_in > 0
who = expect(me.sync_detailed(client=bearer(first.access_token)), 200, Me)
assert who.username == user
assert posts.sync_detailed(client=bearer(first.access_token)).status_code == 200

# Forward auth, as gateways ask it: the identity in headers; a role required and not held is 403.
allowed = forward_auth.sync_detailed(client=bearer(first.access_token))
assert allowed.status_code == 200 and allowed.headers["x-auth-request-user"] == user
refused = forward_auth.sync_detailed(client=bearer(first.access_token), allowed_roles="admin")
assert expect(refused, 403, Error).error == "insufficient_scope"
assert expect(forward_auth.sync_detailed(client=public), 401, Error).error == "invalid_request"
assert expect(forward_auth.sync_detailed(client=public, allowed_roles="no spaces"), 400, Error).error == "invalid_request"
prefixed = forward_auth_prefixed.sync_detailed("app", client=bearer(first.access_token))
assert prefixed.status_code == 200 and prefixed.headers["x-auth-request-groups"] == ""

# Refresh (the tutorial's JSON form), then the RFC 6749 password and refresh grants (form-encoded).
second = expect(token.sync_detailed(client=public, body=RefreshRequest(token=first.refresh_token)), 200, Tokens)
assert second.refresh_token != first.refresh_token
grant = OAuthTokenRequest(grant_type=OAuthTokenRequestGrantType.PASSWORD, username=user, password=password)
oauth = expect(token.sync_detailed(client=public, body=grant), 200, OAuthTokens)
refreshed = OAuthTokenRequest(grant_type=OAuthTokenRequestGrantType.REFRESH_TOKEN, refresh_token=oauth.refresh_token)
oauth = expect(token.sync_detailed(client=public, body=refreshed), 200, OAuthTokens)

# The client-credentials grant: a registered client's own token, with no refresh token; a wrong
# secret is 401 invalid_client.
machine_id, machine_secret = machine_client.split(":", 1)
machine_basic = bearer(base64.b64encode(machine_client.encode()).decode(), prefix="Basic")
credentials = OAuthTokenRequest(grant_type=OAuthTokenRequestGrantType.CLIENT_CREDENTIALS)
machine = expect(token.sync_detailed(client=machine_basic, body=credentials), 200, OAuthTokens)
assert machine.access_token and not machine.refresh_token
posted = OAuthTokenRequest(
    grant_type=OAuthTokenRequestGrantType.CLIENT_CREDENTIALS, client_id=machine_id, client_secret="wrong")
assert expect(token.sync_detailed(client=public, body=posted), 401, Error).error == "invalid_client"
machine_gate = forward_auth.sync_detailed(client=bearer(machine.access_token))
assert machine_gate.status_code == 200 and machine_gate.headers["x-auth-request-user"] == machine_id

# Sessions: list them, end the other one.
listed = list_sessions.sync_detailed(client=bearer(second.access_token))
assert listed.status_code == 200 and len(listed.parsed.sessions) == 2
current = [s for s in listed.parsed.sessions if s.current]
other = [s for s in listed.parsed.sessions if not s.current]
assert len(current) == 1 and len(other) == 1
assert end_session.sync_detailed(other[0].id, client=bearer(second.access_token)).status_code == 204
gone = me.sync_detailed(client=bearer(oauth.access_token))
assert expect(gone, 401, Error).error == "invalid_token"
missing = end_session.sync_detailed("0" * 32, client=bearer(second.access_token))
assert expect(missing, 404, Error).error == "not_found"

# Introspection and revocation (RFC 7662, RFC 7009).
basic = bearer(base64.b64encode(introspection_client.encode()).decode(), prefix="Basic")
active = expect(introspect.sync_detailed(client=basic, body=TokenForm(token=second.access_token)), 200, Introspection)
assert active.active and active.sub == user and active.token_type == "Bearer"
# A live refresh token is not an access token: inactive here.
refresh_inactive = introspect.sync_detailed(client=basic, body=TokenForm(token=second.refresh_token))
assert expect(refresh_inactive, 200, Introspection).active is False
assert revoke.sync_detailed(client=public, body=TokenForm(token=second.access_token)).status_code == 200
inactive = expect(introspect.sync_detailed(client=basic, body=TokenForm(token=second.access_token)), 200, Introspection)
assert inactive.active is False
nobody = expect(introspect.sync_detailed(client=bearer("x"), body=TokenForm(token="x")), 401, Error)
assert nobody.error == "invalid_client"

# The revocation feed: client authentication first; this deployment signs with HS256, so there is
# no feed to poll (scripts/feed polls one, with signing keys).
poll = PollSecurityEventsBody(return_immediately=True)
assert expect(poll_security_events.sync_detailed(client=bearer("x"), body=poll), 401, Error).error == "invalid_client"
assert expect(poll_security_events.sync_detailed(client=basic, body=poll), 404, Error).error == "not_found"

# The error bodies of a wrong password and an expired token, parsed into the generated types.
wrong = expect(login.sync_detailed(client=public, body=Credentials(username=user, password="not it at all")), 401, Error)
assert wrong.error == "invalid_grant"
third = expect(login.sync_detailed(client=public, body=Credentials(username=user, password=password)), 200, Tokens)
stale = expect(me.sync_detailed(client=bearer(expired(third.access_token))), 401, Error)
assert stale.error == "invalid_token" and "expired" in stale.error_description

# Password change: every session ends.
short = change_password.sync_detailed(
    client=bearer(third.access_token), body=ChangePasswordBody(old_password=password, new_password="short")
)
assert expect(short, 400, Error).error == "invalid_request"
changed = change_password.sync_detailed(
    client=bearer(third.access_token), body=ChangePasswordBody(old_password=password, new_password="a new password")
)
assert changed.status_code == 204
assert expect(me.sync_detailed(client=bearer(third.access_token)), 401, Error).error == "invalid_token"

# Logout: everywhere, then the tutorial's DELETE, then a stale token that may end nothing more.
fourth = expect(login.sync_detailed(client=public, body=Credentials(username=user, password="a new password")), 200, Tokens)
fifth = expect(login.sync_detailed(client=public, body=Credentials(username=user, password="a new password")), 200, Tokens)
everywhere = LogoutWithScopeBody(token=fourth.refresh_token, scope=LogoutWithScopeBodyScope.GLOBAL)
assert logout_with_scope.sync_detailed(client=bearer(fourth.access_token), body=everywhere).status_code == 204
assert expect(me.sync_detailed(client=bearer(fifth.access_token)), 401, Error).error == "invalid_token"
assert logout.sync_detailed(client=public, body=RefreshRequest(token=fifth.refresh_token)).status_code == 204
again = logout_with_scope.sync_detailed(client=bearer(fourth.access_token), body=everywhere)
assert expect(again, 400, Error).error == "invalid_grant"

# A second factor: enrolment asks for the password again; pyotp (an authenticator nobody here
# wrote) makes the code that confirms it. Each step's code is accepted once: the later proofs are
# recovery codes, so that the flow need not wait for the next step.
mfa_user = "contract-mfa-" + uuid.uuid4().hex[:6]
assert create_user.sync_detailed(client=public, body=Credentials(username=mfa_user, password=password)).status_code == 201
plain = expect(login.sync_detailed(client=public, body=Credentials(username=mfa_user, password=password)), 200, Tokens)
as_user = bearer(plain.access_token)
assert factor_status.sync_detailed(client=as_user).parsed.totp == "none"
wrong_password = begin_enrolment.sync_detailed(client=as_user, body=BeginEnrolmentBody(password="not it at all"))
assert expect(wrong_password, 401, Error).error == "invalid_grant"
begun = begin_enrolment.sync_detailed(client=as_user, body=BeginEnrolmentBody(password=password))
assert begun.status_code == 200 and begun.parsed.otpauth_uri.startswith("otpauth://totp/")
authenticator = pyotp.TOTP(begun.parsed.secret)
assert expect(step_up.sync_detailed(client=as_user, body=FactorAnswer(code="123456")), 409, Error).error == "factor_state"
bad_code = confirm_enrolment.sync_detailed(client=as_user, body=ConfirmEnrolmentBody(code="12345"))
assert expect(bad_code, 400, Error).error == "invalid_grant"
confirmed = confirm_enrolment.sync_detailed(client=as_user, body=ConfirmEnrolmentBody(code=authenticator.now()))
assert confirmed.status_code == 200 and len(confirmed.parsed.recovery_codes) == 10
recovery_codes = confirmed.parsed.recovery_codes
again_enrol = begin_enrolment.sync_detailed(client=as_user, body=BeginEnrolmentBody(password=password))
assert expect(again_enrol, 409, Error).error == "factor_state"
challenged = login.sync_detailed(client=public, body=Credentials(username=mfa_user, password=password))
assert expect(challenged, 403, MfaRequired).error == "mfa_required" and challenged.parsed.mfa_token
bogus = complete_login.sync_detailed(client=public, body=CompleteLoginBody(mfa_token="nope", code="123456"))
assert expect(bogus, 400, Error).error == "invalid_grant"
second_step = CompleteLoginBody(mfa_token=challenged.parsed.mfa_token, recovery_code=recovery_codes[0])
with_recovery = expect(complete_login.sync_detailed(client=public, body=second_step), 200, Tokens)
gate = forward_auth.sync_detailed(client=as_user, mfa=ForwardAuthMfa.VALUE_1)
assert expect(gate, 401, Error).error == "insufficient_user_authentication"
assert forward_auth.sync_detailed(client=bearer(with_recovery.access_token), mfa=ForwardAuthMfa.VALUE_1).status_code == 200
stepped = step_up.sync_detailed(client=as_user, body=FactorAnswer(recovery_code=recovery_codes[1]))
assert stepped.status_code == 200 and stepped.parsed.token_type == "Bearer"
assert forward_auth.sync_detailed(client=bearer(stepped.parsed.access_token), mfa=ForwardAuthMfa.VALUE_1, max_age=60).status_code == 200
assert factor_status.sync_detailed(client=as_user).parsed.recovery_codes_left == 8
removed = remove_factor.sync_detailed(client=as_user, body=FactorAnswer(recovery_code=recovery_codes[2]))
assert removed.status_code == 204
assert expect(me.sync_detailed(client=bearer(with_recovery.access_token)), 401, Error).error == "invalid_token"
gone_factor = remove_factor.sync_detailed(client=as_user, body=FactorAnswer(code="123456"))
assert expect(gone_factor, 409, Error).error == "factor_state"

# The keys and metrics.
keys = jwks.sync_detailed(client=public)
assert keys.status_code == 200 and keys.parsed.keys == []
assert metrics.sync_detailed(client=public).status_code == 200

operations = {line.rsplit(" ", 1)[0] for line in checked}
declared = {f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops}
assert operations == declared, f"not exercised: {sorted(declared - operations)}"
print(f"contract: {len(checked)} responses over all {len(operations)} operations matched docs/openapi.yaml")
