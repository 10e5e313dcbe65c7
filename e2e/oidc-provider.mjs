// A real OpenID provider for the tests: the npm `oidc-provider` package (a certified
// implementation), configured by the JSON file named in argv[2] and listening on
// 127.0.0.1 on a free port. It prints one line, `listening <issuer>`, when it is ready.
//
// Ours are only the parts a provider leaves to its operator: the login form (a small
// user table), automatic consent for our test client, and /test/* hooks that tests use
// to make the provider misbehave as a broken or hostile one would (an expired, forged or
// misaddressed ID token) or to rename an account. Everything else, discovery, PKCE,
// tokens, signatures, sessions, RP-initiated logout, is the library's own behaviour.
//
// Configuration: { "clients": [oidc-provider client metadata],
//                  "accounts": { "<sub>": { "login": "...", "password": "...", "claims": {...} } } }

import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: randomUUID(), alg: 'RS256', use: 'sig' };
// A key the relying party has never seen: tokens signed with it are forgeries.
const { privateKey: foreignKey } = await jose.generateKeyPair('RS256');

// How the next ID tokens leave the token endpoint; tests set it through /test/id-token.
let idTokenMode = 'normal';

async function tamper(idToken) {
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = privateKey;
  switch (idTokenMode) {
    case 'expired': claims.iat = now - 7200; claims.exp = now - 3600; break;
    case 'wrong-audience': claims.aud = 'someone-else'; break;
    case 'wrong-issuer': claims.iss = 'https://impostor.example'; break;
    case 'wrong-nonce': claims.nonce = 'not-the-nonce-we-were-given'; break;
    case 'forged': key = foreignKey; break;
    default: throw new Error(`unknown id token mode ${idTokenMode}`);
  }
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: signingJwk.kid, typ: 'JWT' })
    .sign(key);
}

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomUUID()] },
  // Roomkeeper must send PKCE even as a confidential client.
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'uid'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // Like Keycloak and most university IdPs: the claims are in the ID token too.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, sub) => accounts[sub] && {
    accountId: sub,
    claims: async () => ({ sub, ...accounts[sub].claims }),
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  // Our test client is first-party: consent is given without asking.
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email groups');
    return grant.save().then(() => grant);
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = `<!DOCTYPE html><html><body><h1>Sign out?</h1>${form}
          <button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button></body></html>`;
      },
    },
  },
});

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && idTokenMode !== 'normal' && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token) };
  }
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function loginPage(res, uid, error) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!DOCTYPE html><html><body><h1>Test university login</h1>
    ${error ? `<p class="error">${escape(error)}</p>` : ''}
    <form method="post" action="/interaction/${escape(uid)}/login">
      <label>Login <input name="login"></label>
      <label>Password <input name="password" type="password"></label>
      <button type="submit">Sign in</button>
    </form></body></html>`);
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') return loginPage(res, details.uid);
  const form = await readForm(req);
  const sub = Object.keys(accounts).find((s) => accounts[s].login === form.get('login'));
  if (!sub || accounts[sub].password !== form.get('password')) {
    return loginPage(res, details.uid, 'Wrong login or password.');
  }
  return provider.interactionFinished(req, res, { login: { accountId: sub } }, { mergeWithLastSubmission: false });
}

const handleProtocol = provider.callback();

server.on('request', async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname.startsWith('/interaction/')) return await interaction(req, res);
    if (req.method === 'POST' && url.pathname === '/test/id-token') {
      idTokenMode = (await readForm(req)).get('mode');
      res.writeHead(204).end();
      return;
    }
    const rename = url.pathname.match(/^\/test\/accounts\/([^/]+)$/);
    if (req.method === 'POST' && rename && accounts[rename[1]]) {
      // "true"/"false" become booleans, as providers send email_verified; a JSON list
      // ("[...]") a list, as providers send groups.
      for (const [claim, value] of (await readForm(req)).entries()) {
        accounts[rename[1]].claims[claim] = value === 'true' ? true : value === 'false' ? false
          : value.startsWith('[') ? JSON.parse(value) : value;
      }
      res.writeHead(204).end();
      return;
    }
    return handleProtocol(req, res);
  } catch (error) {
    console.error(error);
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
  }
});

console.log(`listening ${issuer}`);
