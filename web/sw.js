// Ursa page, service worker: the page works offline after the first visit, and a new
// version of the site replaces the old one whole, when the visitor agrees.
//
// `ursa web` writes the site's version and its file list (SHA-256 of each file) in
// place of the token below, so every build is a byte-different sw.js: that is how the
// browser notices a new version. Each version has its own cache, filled with exactly
// its files (checked by hash), and serves the page from it (cache first: no network
// needed, never a mix of two versions). A new version installs in the background,
// reusing every file an earlier version already holds; it waits until the page asks
// it to take over (the page's "Reload"), then the earlier caches are deleted.
const BUILD = /* @ursa-build */ null;

const VERSION = BUILD ? BUILD.version : 'dev';
const PREFIX = 'ursa-site-';
const CACHE = `${PREFIX}${VERSION}`;
const MANIFEST = '.ursa-build.json';  // cache key of the version's file list, in its cache
// On the first visit the page's worker downloads these at once itself: they are
// cached in passing (below), never downloaded twice.
// Core's pthreads build is only loaded by ?backend=ursa on an isolated page.
const IN_PASSING = new Set(['model.onnx', 'ort/ort-wasm-simd-threaded.wasm', 'core/ursa_core_mt.mjs',
  'core/ursa_core_mt.wasm', 'core/ursa_core_mt.worker.js']);

const scope = new URL(self.registration.scope);
const urlOf = (path) => new URL(path, scope).href;
const has = (path) => Boolean(BUILD) && Object.prototype.hasOwnProperty.call(BUILD.files, path);

async function sha256(buffer) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', buffer));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

// The response itself when it is the file of this version, byte for byte; else null.
async function verified(path, response) {
  if (!response.ok || response.status !== 200) return null;
  const body = await response.clone().arrayBuffer();
  return await sha256(body) === BUILD.files[path] ? response : null;
}

// Caches of earlier versions with their file lists.
async function earlierCaches() {
  const found = [];
  for (const key of await caches.keys()) {
    if (!key.startsWith(PREFIX) || key === CACHE) continue;
    const cache = await caches.open(key);
    try {
      const list = await cache.match(urlOf(MANIFEST));
      if (list) found.push({ cache, files: (await list.json()).files || {} });
    } catch { /* not a cache of ours after all */ }
  }
  return found;
}

async function install() {
  if (!BUILD) return;  // not built by `ursa web`: online only
  const cache = await caches.open(CACHE);
  const update = Boolean(self.registration.active);  // an earlier version runs the page now
  const earlier = await earlierCaches();
  await Promise.all(Object.keys(BUILD.files).map(async (path) => {
    const url = urlOf(path);
    if (await cache.match(url)) return;  // an interrupted install got it already
    for (const old of earlier) {
      if (old.files[path] !== BUILD.files[path]) continue;
      const kept = await old.cache.match(url);
      if (kept) {
        await cache.put(url, kept);
        return;
      }
    }
    if (!update && IN_PASSING.has(path)) return;
    let response = null;
    try {
      response = await verified(path, await fetch(url, { cache: 'no-cache' }));
    } catch { /* offline */ }
    if (response) await cache.put(url, response);
    // An update is all or nothing: the browser tries again on a later visit. The first
    // install is best effort (the page works online meanwhile; missing files are
    // cached in passing).
    else if (update) throw new Error(`${path}: not the file of version ${VERSION} (the site is being replaced?)`);
  }));
  await cache.put(urlOf(MANIFEST), new Response(JSON.stringify(BUILD), { headers: { 'content-type': 'application/json' } }));
}

self.addEventListener('install', (event) => {
  event.waitUntil(install());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  const type = event.data && event.data.type;
  if (type === 'skip-waiting') self.skipWaiting();
  else if (type === 'version' && event.source) event.source.postMessage({ type: 'version', version: VERSION });
});

// Cross-origin isolation for hosts that cannot send headers (GitHub Pages, buckets,
// `python3 -m http.server`): every file of the site is served with COOP/COEP (and
// CORP), so the page and its workers are isolated and ONNX Runtime may use threads.
// The page reloads itself once after the first install to get them (app.js).
function isolated(response) {
  if (!response || response.type === 'opaque' || response.status === 0) return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

// This version's files come from its cache; anything else (and every other method,
// origin or a range request) goes to the network untouched.
self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (!BUILD || request.method !== 'GET' || request.headers.has('range')) return;
  const url = new URL(request.url);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  let path;
  try {
    path = decodeURIComponent(url.pathname.slice(scope.pathname.length));
  } catch {
    return;
  }
  if (path === '' || (request.mode === 'navigate' && path === 'index.html')) path = 'index.html';
  if (!has(path)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(urlOf(path));
    if (cached) return isolated(cached);
    const response = await fetch(request);
    if (response.ok && response.status === 200) {
      const copy = response.clone();
      event.waitUntil((async () => {
        try {
          const kept = await verified(path, copy);
          if (kept) await cache.put(urlOf(path), kept);
        } catch { /* quota or storage errors: the page still works online */ }
      })());
    }
    return isolated(response);
  })());
});
