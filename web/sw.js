// Ursa page, service worker: makes the page work offline after the first visit.
// Network first (a re-generated site or model is picked up at once), the cache when
// the network fails. Same-origin GETs only: nothing else passes through here.
const CACHE = 'ursa-site-v1';

// Small files of the site as `ursa web` writes it, cached at install. The large ones
// (ort/ort-wasm-simd-threaded.wasm, model.onnx) are cached in passing by the fetch
// handler when the page's worker loads them: never downloaded twice.
const SITE_FILES = [
  './', 'index.html', 'app.js', 'worker.js', 'style.css', 'icon.svg', 'manifest.webmanifest',
  'core/ursa_core.mjs', 'core/ursa_core.wasm', 'ort/ort.wasm.min.mjs', 'ort/ort-wasm-simd-threaded.mjs',
];

self.addEventListener('install', (event) => {
  // Best effort: a file that is missing or fails does not block the others.
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(SITE_FILES.map(async (path) => {
      const url = new URL(path, self.registration.scope).href;
      try {
        const response = await fetch(url);
        if (response.ok) await cache.put(url, response);
      } catch { /* offline during install: cached later, in passing */ }
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  if (request.headers.has('range')) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(request);
      if (response.ok && response.type === 'basic' && response.status === 200) {
        event.waitUntil(refresh(cache, request, response.clone()));
      }
      return response;
    } catch (error) {
      const cached = await cache.match(request, { ignoreSearch: true });
      if (cached) return cached;
      throw error;
    }
  })());
});

// Stores a fresh copy unless the cached one is the same file (large files: model, runtime).
async function refresh(cache, request, response) {
  try {
    const cached = await cache.match(request, { ignoreSearch: true });
    const same = (name) => cached && response.headers.get(name) && cached.headers.get(name) === response.headers.get(name);
    if (same('etag') || (same('last-modified') && same('content-length'))) return;
    await cache.put(request, response);
  } catch { /* quota or storage errors: the page still works online */ }
}
