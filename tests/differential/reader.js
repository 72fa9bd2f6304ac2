// Node reader of the differential suite (tests/differential.rs, docs/differential.md).
// Answers, as JSON, what a Node application reads from the request: the WHATWG URL's
// pathname (dot-segments, `%2e` and `\` resolved as browsers and Express do), URLSearchParams
// and the legacy `querystring` module, the id headers (Node keeps `x_app_id` apart from
// `x-app-id`), a JSON or urlencoded body, and multipart fields as undici's FormData reads them
// (for the `file` field: the sha256 of the whole file, which the test maps to a package).
// Prints {"node": port} once listening; exits when stdin closes.
'use strict';
const http = require('http');
const querystring = require('querystring');
const crypto = require('crypto');

const IDS = ['appid', 'pkg', 'bundle', 'package', 'x-app-id', 'x-mp-appid'];
const PACKAGE_TYPES = ['application/vnd.android.package-archive', 'application/octet-stream', 'application/zip'];

function nested(key) {
  return key.replace(/\]\[/g, '.').replace(/\[/g, '.').replace(/\]$/, '');
}

async function read(req, body) {
  const readings = [];
  const add = (via, name, value) => readings.push({ via, name, value: String(value) });
  let url;
  try {
    url = new URL(req.url, 'http://reader.invalid');
  } catch (e) {
    return { path: '', readings, error: String(e) };
  }
  let path = url.pathname;
  try {
    path = decodeURIComponent(path);
  } catch (e) {
    // Express leaves an undecodable path as it is.
  }
  for (const [k, v] of url.searchParams) if (IDS.includes(k)) add('URLSearchParams', k, v);
  const legacy = querystring.parse(url.search.slice(1));
  for (const k of Object.keys(legacy)) {
    if (!IDS.includes(k)) continue;
    for (const v of [].concat(legacy[k])) add('querystring', k, v);
  }
  for (const name of ['x-app-id', 'x-mp-appid']) {
    if (req.headers[name] !== undefined) add('req.headers', name, req.headers[name]);
  }
  const ctype = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (ctype === 'application/json' || ctype.endsWith('+json')) {
    try {
      const doc = JSON.parse(body.toString('utf8'));
      for (const k of IDS) if (typeof doc[k] === 'string') add('JSON.parse', k, doc[k]);
      if (doc.app && typeof doc.app.id === 'string') add('JSON.parse', 'app.id', doc.app.id);
    } catch (e) {
      // Not JSON: no reading.
    }
  } else if (ctype === 'application/x-www-form-urlencoded') {
    for (const [k, v] of new URLSearchParams(body.toString('latin1'))) {
      if (IDS.includes(nested(k)) || nested(k) === 'app.id') add('form URLSearchParams', nested(k), v);
    }
  } else if (PACKAGE_TYPES.includes(ctype)) {
    add('raw body', 'file', 'file-sha256:' + crypto.createHash('sha256').update(body).digest('hex'));
  } else if (ctype === 'multipart/form-data') {
    try {
      const form = await new Response(body, {
        headers: { 'content-type': req.headers['content-type'] },
      }).formData();
      for (const [k, v] of form) {
        if (k === 'file' && typeof v !== 'string') {
          const bytes = Buffer.from(await v.arrayBuffer());
          add('undici FormData', 'file', 'file-sha256:' + crypto.createHash('sha256').update(bytes).digest('hex'));
        } else if (typeof v === 'string' && (IDS.includes(nested(k)) || nested(k) === 'app.id')) {
          add('undici FormData', nested(k), v);
        }
      }
    } catch (e) {
      add('undici FormData', 'error', String(e).slice(0, 120));
    }
  }
  return { path, readings };
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const out = Buffer.from(JSON.stringify(await read(req, Buffer.concat(chunks))));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': out.length });
    res.end(out);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ node: server.address().port }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
