"""authd through stock OAuth and JOSE libraries, each used as its documentation says.

    python scripts/interop_check.py CLIENT_ID:SECRET ALG=BASE_URL=KEYS_DIR ...

Each instance is found through its RFC 8414 metadata; no endpoint URL is hard-coded. Every check
asserts something a user of that library relies on; the run fails if any check fails.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import jwt as pyjwt
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7662 import IntrospectTokenValidator
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from joserfc import jws
from joserfc import jwt as josejwt
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey, import_key
from checks import check, finish
from oauthlib.oauth2 import BackendApplicationClient, LegacyApplicationClient
from oauthlib.oauth2.rfc6749.errors import InvalidClientError, InvalidGrantError, UnsupportedGrantTypeError
from requests_oauthlib import OAuth2Session

# Warnings the libraries' own code raises when used as documented: authlib's RFC 9068 validator
# imports keys through a joserfc call it deprecates, and joserfc flags EdDSA (RFC 9864).
warnings.filterwarnings("ignore", message=".*KeySet.import_key_set.*")
warnings.filterwarnings("ignore", message="EdDSA is deprecated.*")

client_id, client_secret = sys.argv[1].split(":", 1)
instances = [dict(zip(["alg", "base", "keys"], arg.split("=", 2))) for arg in sys.argv[2:]]
PASSWORD = "correct horse battery"
AUDIENCE = "authd"


def discover(base):
    """RFC 8414 metadata, validated by authlib; everything else comes from it."""
    metadata = AuthorizationServerMetadata(requests.get(base + "/.well-known/oauth-authorization-server").json())
    metadata.validate()
    assert metadata["issuer"] == base, metadata["issuer"]
    return metadata


def sign_up(metadata):
    user = "interop-" + uuid.uuid4().hex[:10]
    base = metadata["issuer"]
    assert requests.post(base + "/users", json={"username": user, "password": PASSWORD}).status_code == 201
    return user


def password_grant(metadata, user):
    session = AuthlibSession(client_id="authd-public", token_endpoint_auth_method="none")
    return session.fetch_token(metadata["token_endpoint"], username=user, password=PASSWORD, grant_type="password")


def expired_token(instance, metadata, token):
    """A token like `token` that expired an hour ago, signed with the instance's own key."""
    pem = next(Path(instance["keys"]).glob("*.pem"))
    key = import_key(pem.read_text(), {"ES256": "EC", "RS256": "RSA", "EdDSA": "OKP"}[instance["alg"]])
    claims = pyjwt.decode(token, options={"verify_signature": False})
    claims["iat"] = claims["exp"] = int(time.time()) - 3600
    header = {"alg": instance["alg"], "typ": "at+jwt", "kid": pem.stem}
    return josejwt.encode(header, claims, key, algorithms=[instance["alg"]])


for instance in instances:
    alg = instance["alg"]
    print(f"{alg} ({instance['base']})")
    metadata = discover(instance["base"])
    user = sign_up(metadata)
    tokens = password_grant(metadata, user)
    access = tokens["access_token"]

    @check(f"{alg}: metadata names the algorithm, and the JWKS publishes the key in its own kty")
    def _():
        assert metadata["access_token_signing_alg_values_supported"] == [alg]
        keys = requests.get(metadata["jwks_uri"]).json()["keys"]
        assert [key["kty"] for key in keys] == [{"ES256": "EC", "RS256": "RSA", "EdDSA": "OKP"}[alg]]
        assert all(key["alg"] == alg and key["use"] == "sig" and key["kid"] for key in keys)
        assert pyjwt.get_unverified_header(access)["alg"] == alg

    @check(f"{alg}: PyJWT's PyJWKClient and jwt.decode verify it, with audience and issuer")
    def _():
        signing_key = pyjwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(access)
        claims = pyjwt.decode(
            access, signing_key.key, algorithms=[alg], audience=AUDIENCE, issuer=metadata["issuer"],
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
        )
        assert claims["sub"] == user and claims["client_id"]

    @check(f"{alg}: PyJWT raises ExpiredSignatureError for an expired token")
    def _():
        signing_key = pyjwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(access)
        stale = expired_token(instance, metadata, access)
        try:
            pyjwt.decode(stale, signing_key.key, algorithms=[alg], audience=AUDIENCE, issuer=metadata["issuer"])
        except pyjwt.ExpiredSignatureError:
            pass
        else:
            raise AssertionError("an expired token was accepted")
        # authd refuses it too, with the RFC 6750 error.
        response = requests.get(metadata["issuer"] + "/me", headers={"Authorization": f"Bearer {stale}"})
        assert response.status_code == 401 and response.json()["error"] == "invalid_token"

    @check(f"{alg}: joserfc verifies it from the key set, and its claims registry checks iss and aud")
    def _():
        key_set = KeySet.import_key_set(requests.get(metadata["jwks_uri"]).json())
        # joserfc's defaults allow ES256 and RS256; EdDSA must be asked for (docs/CLIENTS.md).
        algorithms = ["EdDSA"] if alg == "EdDSA" else None
        token = josejwt.decode(access, key_set, algorithms=algorithms)
        registry = josejwt.JWTClaimsRegistry(
            iss={"essential": True, "value": metadata["issuer"]}, aud={"essential": True, "value": AUDIENCE},
            exp={"essential": True}, sub={"essential": True},
        )
        registry.validate(token.claims)
        assert token.header["typ"] == "at+jwt"

    class MetadataJWTBearerTokenValidator(JWTBearerTokenValidator):
        """authlib's documented pattern: the JWKS from the server's metadata."""

        def get_jwks(self):
            return requests.get(metadata["jwks_uri"]).json()

    if alg in ("ES256", "RS256"):

        @check(f"{alg}: authlib's RFC 9068 JWTBearerTokenValidator accepts it, with its defaults")
        def _():
            validator = MetadataJWTBearerTokenValidator(issuer=metadata["issuer"], resource_server=AUDIENCE)
            claims = validator.authenticate_token(access)
            validator.validate_token(claims, scopes=None, request=None)
            assert claims["sub"] == user

        @check(f"{alg}: authlib's RFC 9068 validator refuses a refresh token")
        def _():
            validator = MetadataJWTBearerTokenValidator(issuer=metadata["issuer"], resource_server=AUDIENCE)
            try:
                validator.validate_token(validator.authenticate_token(tokens["refresh_token"]), None, None)
            except InvalidTokenError:
                pass
            else:
                raise AssertionError("a refresh token passed as an access token")

    else:

        @check("EdDSA: authlib's RFC 9068 validator refuses it with its defaults, as docs/CLIENTS.md warns")
        def _():
            validator = MetadataJWTBearerTokenValidator(issuer=metadata["issuer"], resource_server=AUDIENCE)
            try:
                validator.validate_token(validator.authenticate_token(access), None, None)
            except InvalidTokenError:
                pass
            else:
                raise AssertionError("authlib now accepts EdDSA by default: update docs/CLIENTS.md")


# The OAuth flows, once, against the first instance.
metadata = discover(instances[0]["base"])


@check("requests-oauthlib: password grant, then the refresh grant rotates the refresh token")
def _():
    user = sign_up(metadata)
    session = OAuth2Session(client=LegacyApplicationClient(client_id="authd-public"))
    token = session.fetch_token(
        token_url=metadata["token_endpoint"], username=user, password=PASSWORD, include_client_id=True
    )
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    refreshed = session.refresh_token(metadata["token_endpoint"], client_id="authd-public")
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert session.get(metadata["issuer"] + "/me").json()["username"] == user


@check("oauthlib: a wrong password raises InvalidGrantError")
def _():
    user = sign_up(metadata)
    session = OAuth2Session(client=LegacyApplicationClient(client_id="authd-public"))
    try:
        session.fetch_token(
            token_url=metadata["token_endpoint"], username=user, password="not the password", include_client_id=True
        )
    except InvalidGrantError:
        pass
    else:
        raise AssertionError("a wrong password got a token")


@check("oauthlib: an unsupported grant raises UnsupportedGrantTypeError")
def _():
    class DeviceClient(BackendApplicationClient):
        grant_type = "urn:ietf:params:oauth:grant-type:device_code"

    session = OAuth2Session(client=DeviceClient(client_id="authd-public"))
    try:
        session.fetch_token(token_url=metadata["token_endpoint"], client_id="authd-public", include_client_id=True)
    except UnsupportedGrantTypeError:
        pass
    else:
        raise AssertionError("an unsupported grant got a token")


@check("authlib: password and refresh grants; revocation (RFC 7009) ends the access token")
def _():
    user = sign_up(metadata)
    session = AuthlibSession(client_id="authd-public", token_endpoint_auth_method="none")
    token = session.fetch_token(metadata["token_endpoint"], username=user, password=PASSWORD, grant_type="password")
    refreshed = session.refresh_token(metadata["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    me = requests.get(metadata["issuer"] + "/me", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert me.status_code == 200
    revoked = session.revoke_token(
        metadata["revocation_endpoint"], token=refreshed["access_token"], token_type_hint="access_token"
    )
    assert revoked.status_code == 200
    me = requests.get(metadata["issuer"] + "/me", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert me.status_code == 401


@check("authlib: introspection (RFC 7662) with client_secret_basic")
def _():
    user = sign_up(metadata)
    token = password_grant(metadata, user)
    resource_server = AuthlibSession(
        client_id=client_id, client_secret=client_secret, token_endpoint_auth_method="client_secret_basic"
    )
    response = resource_server.introspect_token(metadata["introspection_endpoint"], token=token["access_token"])
    info = response.json()
    assert response.headers["Cache-Control"] == "no-store"
    assert info["active"] is True and info["token_type"] == "Bearer"
    assert info["aud"] == AUDIENCE and info["client_id"] == "authd-public" and info["sub"] == user
    refresh = resource_server.introspect_token(metadata["introspection_endpoint"], token=token["refresh_token"])
    assert refresh.json() == {"active": False}


class MetadataIntrospectTokenValidator(IntrospectTokenValidator):
    """authlib's documented pattern: introspect_token posts to the introspection endpoint."""

    def introspect_token(self, token_string):
        response = requests.post(
            metadata["introspection_endpoint"], data={"token": token_string}, auth=(client_id, client_secret)
        )
        response.raise_for_status()
        return response.json()


@check("authlib: IntrospectTokenValidator accepts an access token and never a refresh token")
def _():
    user = sign_up(metadata)
    token = password_grant(metadata, user)
    validator = MetadataIntrospectTokenValidator()
    validator.validate_token(validator.authenticate_token(token["access_token"]), scopes=None, request=None)
    try:
        validator.validate_token(validator.authenticate_token(token["refresh_token"]), scopes=None, request=None)
    except InvalidTokenError:
        pass
    else:
        raise AssertionError("a refresh token passed introspection as a bearer token")


# Registered clients and the client-credentials grant (RFC 6749 §4.4), on the ES256 deployment's
# two instances: A (the first) grants, B (its twin, verify cache on) checks.
twin = os.environ["INTEROP_TWIN"]
a_token_url = metadata["token_endpoint"]


def authd(*arguments, as_json=True):
    """`authd ARGUMENTS` against the ES256 deployment's Redis: its JSON (`--json`), or its text."""
    done = subprocess.run(
        [os.environ["INTEROP_AUTHD"], *arguments, *(["--json"] if as_json else []),
         "--env-file", os.environ["INTEROP_ENV_FILE"]],
        env={"PATH": os.environ["PATH"], "REDIS_URL": os.environ["INTEROP_REDIS_URL"],
             "AUTHD_KEY_PREFIX": os.environ["INTEROP_KEY_PREFIX"]},
        capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout) if as_json else done.stdout


def gate(base, token):
    """The gateways' question to one instance: 200 for a live token."""
    return requests.get(base + "/forward-auth", headers={"Authorization": f"Bearer {token}"}).status_code


def register(permissions=("token",)):
    name = "svc-" + uuid.uuid4().hex[:10]
    arguments = ["clients", "add", name]
    for permission in permissions:
        arguments += ["--may", permission]
    issued = authd(*arguments)
    return issued["client_id"], issued["client_secret"], issued["secret_id"]


@check("metadata advertises client_credentials, client_secret_basic and client_secret_post")
def _():
    assert "client_credentials" in metadata["grant_types_supported"]
    assert {"client_secret_basic", "client_secret_post"} <= set(metadata["token_endpoint_auth_methods_supported"])


@check("authlib: client_credentials with client_secret_basic and _post; the token works on the other instance")
def _():
    machine, secret, _ = register()
    for method in ("client_secret_basic", "client_secret_post"):
        session = AuthlibSession(client_id=machine, client_secret=secret, token_endpoint_auth_method=method)
        token = session.fetch_token(a_token_url, grant_type="client_credentials")
        assert token["token_type"] == "Bearer" and "refresh_token" not in token, token
        claims = pyjwt.decode(token["access_token"], options={"verify_signature": False})
        assert claims["sub"] == machine and claims["client_id"] == machine, claims
        assert gate(twin, token["access_token"]) == 200
        # authlib's own session sends the token, to the other instance.
        assert session.get(twin + "/forward-auth").headers["X-Auth-Request-User"] == machine


@check("requests-oauthlib: BackendApplicationClient gets a machine token; it works on the other instance")
def _():
    machine, secret, _ = register()
    session = OAuth2Session(client=BackendApplicationClient(client_id=machine))
    token = session.fetch_token(token_url=a_token_url, client_id=machine, client_secret=secret)
    assert token["token_type"] == "Bearer" and "refresh_token" not in token, token
    assert session.get(twin + "/forward-auth").status_code == 200
    assert gate(metadata["issuer"], token["access_token"]) == 200


@check("oauthlib: a wrong client secret raises InvalidClientError")
def _():
    machine, _, _ = register()
    session = OAuth2Session(client=BackendApplicationClient(client_id=machine))
    try:
        session.fetch_token(token_url=a_token_url, client_id=machine, client_secret="not the secret")
    except InvalidClientError:
        pass
    else:
        raise AssertionError("a wrong client secret got a token")


@check("authd clients remove-secret: its tokens fail at once on both instances; the other secret keeps working")
def _():
    machine, first, first_id = register(("token", "introspect"))
    second = authd("clients", "add-secret", machine)["client_secret"]
    old = AuthlibSession(client_id=machine, client_secret=first).fetch_token(a_token_url, grant_type="client_credentials")
    new = AuthlibSession(client_id=machine, client_secret=second).fetch_token(
        a_token_url, grant_type="client_credentials")
    for base in (metadata["issuer"], twin):
        assert gate(base, old["access_token"]) == 200 and gate(base, new["access_token"]) == 200
    assert "revoked" in authd("clients", "remove-secret", machine, first_id, as_json=False)
    for base in (metadata["issuer"], twin):
        assert gate(base, old["access_token"]) == 401, base
        assert gate(base, new["access_token"]) == 200, base
    # authlib's introspection, as the client itself (it may introspect): the old token is inactive.
    introspector = AuthlibSession(client_id=machine, client_secret=second)
    assert introspector.introspect_token(metadata["introspection_endpoint"], token=old["access_token"]).json() == {
        "active": False}
    assert introspector.introspect_token(twin + "/introspect", token=new["access_token"]).json()["active"] is True
    try:
        AuthlibSession(client_id=machine, client_secret=first).fetch_token(a_token_url, grant_type="client_credentials")
    except OAuthError as error:
        assert error.error == "invalid_client", error.error
    else:
        raise AssertionError("a revoked secret got a token")


# DPoP (RFC 9449) on the ES256 deployment's two instances, with proofs joserfc builds from its
# documented API: keys from joserfc's generate_key, thumbprints from its RFC 7638 thumbprint().
def proof(key, alg, method, url, access_token=None):
    """A DPoP proof JWT (RFC 9449 §4.2) signed by joserfc."""
    claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time())}
    if access_token:
        claims["ath"] = pyjwt.utils.base64url_encode(hashlib.sha256(access_token.encode()).digest()).decode()
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}
    return jws.serialize_compact(header, json.dumps(claims), key, algorithms=[alg])


issuer = metadata["issuer"]


@check("metadata lists dpop_signing_alg_values_supported, ES256 and EdDSA among them")
def _():
    assert {"ES256", "EdDSA", "RS256"} <= set(metadata["dpop_signing_alg_values_supported"]), metadata


for alg, key in (("ES256", ECKey.generate_key("P-256")), ("EdDSA", OKPKey.generate_key("Ed25519")),
                 ("RS256", RSAKey.generate_key(2048))):

    @check(f"DPoP with a joserfc {alg} key: the password grant binds both tokens to its RFC 7638 thumbprint")
    def _():
        global bound
        user = sign_up(metadata)
        answer = requests.post(a_token_url, data={"grant_type": "password", "username": user, "password": PASSWORD},
                               headers={"DPoP": proof(key, alg, "POST", a_token_url)})
        assert answer.status_code == 200, answer.text
        tokens = answer.json()
        assert tokens["token_type"] == "DPoP", tokens
        for name in ("access_token", "refresh_token"):
            claims = pyjwt.decode(tokens[name], options={"verify_signature": False})
            assert claims["cnf"] == {"jkt": key.thumbprint()}, (claims, key.thumbprint())
        bound = tokens

    @check(f"DPoP {alg}: a fresh proof works on the twin; the same proof again, the token as Bearer, "
           "or another key's proof are refused")
    def _():
        access = bound["access_token"]
        url = issuer + "/me"
        good = proof(key, alg, "GET", url, access)
        owner = requests.get(twin + "/me", headers={"Authorization": f"DPoP {access}", "DPoP": good})
        assert owner.status_code == 200, owner.text
        replay = requests.get(issuer + "/me", headers={"Authorization": f"DPoP {access}", "DPoP": good})
        assert replay.status_code == 401 and replay.json()["error"] == "invalid_dpop_proof", replay.text
        assert replay.headers["WWW-Authenticate"].startswith("DPoP "), replay.headers
        assert requests.get(twin + "/me", headers={"Authorization": f"Bearer {access}"}).status_code == 401
        thief = ECKey.generate_key("P-256")
        stolen = requests.get(twin + "/me", headers={
            "Authorization": f"DPoP {access}", "DPoP": proof(thief, "ES256", "GET", url, access)})
        assert stolen.status_code == 401 and stolen.json()["error"] == "invalid_dpop_proof", stolen.text

    @check(f"DPoP {alg}: the refresh grant needs a proof of the key, and keeps the binding")
    def _():
        data = {"grant_type": "refresh_token", "refresh_token": bound["refresh_token"]}
        without = requests.post(twin + "/token", data=data)
        assert without.status_code == 400 and without.json()["error"] == "invalid_dpop_proof", without.text
        again = requests.post(twin + "/token", data=data, headers={"DPoP": proof(key, alg, "POST", a_token_url)})
        assert again.status_code == 200, again.text
        refreshed = pyjwt.decode(again.json()["access_token"], options={"verify_signature": False})
        assert refreshed["cnf"]["jkt"] == key.thumbprint() and again.json()["token_type"] == "DPoP"


@check("authlib's introspection shows a bound token's cnf.jkt and token_type DPoP")
def _():
    introspector = AuthlibSession(client_id=client_id, client_secret=client_secret)
    answer = introspector.introspect_token(metadata["introspection_endpoint"], token=bound["access_token"]).json()
    assert answer["active"] is True and answer["token_type"] == "DPoP", answer
    assert answer["cnf"]["jkt"] == pyjwt.decode(bound["access_token"], options={"verify_signature": False})["cnf"]["jkt"]


finish(lambda passed, failed: f"interop: {passed} passed, {failed} failed")
