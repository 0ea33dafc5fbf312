// The peer in Node: the same API as authd's bench routes, written the popular way.
//
// Express and node-redis (v4), both from Debian's packages; HS256 JWTs over node's crypto, as no
// JWT library is packaged; scrypt from node's crypto for passwords. It does what authd does on the
// measured paths: verify checks the JWT and asks Redis whether the session is live; refresh checks
// the JWT, rotates the refresh token in one Lua script (reuse detection), and signs a new pair.
// Benchmarks/peers.sh runs it; it is not a product.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const express = require('express');
const { createClient } = require('redis');

const ACCESS = process.env.ACCESS_TOKEN_SECRET;
const REFRESH = process.env.REFRESH_TOKEN_SECRET;
const redis = createClient({ url: process.env.REDIS_URL });
const ROTATE = fs.readFileSync(path.join(__dirname, 'rotate.lua'), 'utf8');

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const HEADER = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
function sign(claims, secret) {
  const input = HEADER + '.' + b64url(JSON.stringify(claims));
  return input + '.' + crypto.createHmac('sha256', secret).update(input).digest('base64url');
}
function verify(token, secret) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) return null;
  const header = JSON.parse(Buffer.from(parts[0], 'base64url'));
  if (header.alg !== 'HS256') return null;
  const expected = crypto.createHmac('sha256', secret).update(parts[0] + '.' + parts[1]).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
  return claims.exp > Date.now() / 1000 ? claims : null;
}
function issue(user, sid) {
  const now = Math.floor(Date.now() / 1000);
  const jti = crypto.randomBytes(16).toString('hex');
  return [jti, {
    accessToken: sign({ sub: user, sid, iat: now, exp: now + 900, jti: crypto.randomBytes(16).toString('hex') }, ACCESS),
    refreshToken: sign({ sub: user, sid, iat: now, exp: now + 2592000, jti }, REFRESH),
    tokenType: 'Bearer', expiresIn: 900,
  }];
}
const scrypt = (password, salt) => new Promise((resolve, reject) =>
  crypto.scrypt(password, salt, 32, { N: 16384, r: 8, p: 1 }, (err, key) => err ? reject(err) : resolve(key)));
const wrap = (fn) => (req, res, next) => fn(req, res).catch(next);

const app = express();
app.use(express.json({ limit: '16kb' }));
app.post('/users', wrap(async (req, res) => {
  const salt = crypto.randomBytes(16);
  const hash = await scrypt(req.body.password, salt);
  const created = await redis.hSetNX('peer:user:' + req.body.username, 'hash', salt.toString('hex') + ':' + hash.toString('hex'));
  if (!created) return res.status(409).json({ error: 'username_taken' });
  res.status(201).json({ username: req.body.username });
}));
app.post('/login', wrap(async (req, res) => {
  const stored = (await redis.hGet('peer:user:' + req.body.username, 'hash')) || '00:00';
  const [salt, hash] = stored.split(':');
  const key = await scrypt(req.body.password, Buffer.from(salt, 'hex'));
  if (hash.length !== 64 || !crypto.timingSafeEqual(key, Buffer.from(hash, 'hex'))) {
    return res.status(401).json({ error: 'invalid_grant' });
  }
  const sid = crypto.randomBytes(16).toString('hex');
  const [jti, tokens] = issue(req.body.username, sid);
  await redis.hSet('peer:session:' + sid, { user: req.body.username, state: 'active', refresh: jti });
  await redis.expire('peer:session:' + sid, 2592000);
  res.json(tokens);
}));
app.get('/me', wrap(async (req, res) => {
  const auth = req.get('authorization') || '';
  const claims = auth.startsWith('Bearer ') ? verify(auth.slice(7), ACCESS) : null;
  if (!claims || (await redis.hGet('peer:session:' + claims.sid, 'state')) !== 'active') {
    return res.status(401).json({ error: 'invalid_token' });
  }
  res.json({ username: claims.sub, sessionId: claims.sid, expiresAt: claims.exp });
}));
app.post('/token', wrap(async (req, res) => {
  const claims = verify(req.body.token, REFRESH);
  if (!claims) return res.status(400).json({ error: 'invalid_grant' });
  const [jti, tokens] = issue(claims.sub, claims.sid);
  const rotated = await redis.evalSha(rotateSHA, { keys: ['peer:session:' + claims.sid], arguments: [claims.jti, jti, '2592000'] });
  if (rotated !== 1) return res.status(400).json({ error: 'invalid_grant' });
  res.json(tokens);
}));
app.use((err, req, res, next) => res.status(400).json({ error: 'invalid_request' }));

let rotateSHA;
redis.connect()
  .then(() => redis.scriptLoad(ROTATE))
  .then((sha) => { rotateSHA = sha; app.listen(Number(process.env.PORT), '127.0.0.1'); });
