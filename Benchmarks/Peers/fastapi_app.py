"""The peer in Python: the same API as authd's bench routes, written the popular way.

FastAPI on uvicorn, PyJWT (HS256), redis-py's asyncio client, argon2-cffi. It does what authd
does on the measured paths: verify checks the JWT and asks Redis whether the session is live;
refresh checks the JWT, rotates the refresh token in one Lua script (reuse detection: an old token
ends the session), and signs a new pair. Benchmarks/peers.sh runs it; it is not a product.
"""
import os
import secrets
import time

import jwt
import redis.asyncio as redis
from argon2 import PasswordHasher
from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse

ACCESS = os.environ["ACCESS_TOKEN_SECRET"]
REFRESH = os.environ["REFRESH_TOKEN_SECRET"]
r = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
app = FastAPI()

with open(os.path.join(os.path.dirname(__file__), "rotate.lua")) as script:
    ROTATE = r.register_script(script.read())


def issue(user, sid):
    now = int(time.time())
    jti = secrets.token_hex(16)
    access = jwt.encode({"sub": user, "sid": sid, "iat": now, "exp": now + 900, "jti": secrets.token_hex(16)},
                        ACCESS, algorithm="HS256")
    refresh = jwt.encode({"sub": user, "sid": sid, "iat": now, "exp": now + 2592000, "jti": jti},
                         REFRESH, algorithm="HS256")
    return jti, {"accessToken": access, "refreshToken": refresh, "tokenType": "Bearer", "expiresIn": 900}


@app.post("/users", status_code=201)
async def create_user(request: Request):
    body = await request.json()
    if not await r.hsetnx("peer:user:" + body["username"], "hash", hasher.hash(body["password"])):
        raise HTTPException(409, "username_taken")
    return {"username": body["username"]}


@app.post("/login")
async def login(request: Request):
    body = await request.json()
    stored = await r.hget("peer:user:" + body["username"], "hash")
    try:
        hasher.verify(stored.decode() if stored else "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA", body["password"])
    except Exception:
        raise HTTPException(401, "invalid_grant")
    sid = secrets.token_hex(16)
    jti, tokens = issue(body["username"], sid)
    await r.hset("peer:session:" + sid, mapping={"user": body["username"], "state": "active", "refresh": jti})
    await r.expire("peer:session:" + sid, 2592000)
    return tokens


@app.get("/me")
async def me(authorization: str = Header(None)):
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "invalid_token")
    try:
        claims = jwt.decode(authorization[7:], ACCESS, algorithms=["HS256"])
    except jwt.PyJWTError:
        raise HTTPException(401, "invalid_token")
    if await r.hget("peer:session:" + claims["sid"], "state") != b"active":
        raise HTTPException(401, "invalid_token")
    return {"username": claims["sub"], "sessionId": claims["sid"], "expiresAt": claims["exp"]}


@app.post("/token")
async def token(request: Request):
    body = await request.json()
    try:
        claims = jwt.decode(body["token"], REFRESH, algorithms=["HS256"])
    except (jwt.PyJWTError, KeyError):
        return JSONResponse({"error": "invalid_grant"}, status_code=400)
    jti, tokens = issue(claims["sub"], claims["sid"])
    if await ROTATE(keys=["peer:session:" + claims["sid"]], args=[claims["jti"], jti, 2592000]) != 1:
        return JSONResponse({"error": "invalid_grant"}, status_code=400)
    return tokens
