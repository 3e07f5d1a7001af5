// The field app's service worker. The office server fills in VERSION (a hash of every asset)
// and ASSETS when it serves this file, so any change to the app installs a new version; the
// old version's cache is removed once the new one takes over.
const VERSION = "__VERSION__";
const ASSETS = ["__ASSETS__"];
const CACHE = `fieldsync-field-${VERSION}`;
const PREFIX = "fieldsync-field-";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(ASSETS.map((a) => new Request(a, { cache: "reload" })))),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data === "update") self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  const scope = new URL(self.registration.scope);
  if (request.method !== "GET" || url.origin !== scope.origin) return;
  if (!url.pathname.startsWith(scope.pathname)) return; // the API and the office: network only
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      const key = request.mode === "navigate" ? "./" : request;
      const hit = await cache.match(key, { ignoreSearch: true });
      return hit || fetch(request);
    })(),
  );
});
