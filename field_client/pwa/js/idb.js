// A small promise wrapper over IndexedDB. Inside a transaction, await only its own requests:
// the transaction commits on its own once no request is pending.

/** Resolve with a request's result, reject with its error. */
export function req(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Resolve when a transaction commits; reject when it aborts or fails. */
export function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
    tx.onerror = () => reject(tx.error);
  });
}

/** Open (and create or upgrade) a database; `upgrade(db, oldVersion)` makes its stores. */
export function open(name, version, upgrade) {
  const request = indexedDB.open(name, version);
  request.onupgradeneeded = (event) => upgrade(request.result, event.oldVersion, request.transaction);
  return req(request);
}

/** Delete a whole database. */
export function drop(name) {
  return req(indexedDB.deleteDatabase(name));
}

/** Run `fn(tx)` in one transaction over `names`; resolve with its result once committed. */
export async function run(db, names, mode, fn) {
  const tx = db.transaction(names, mode);
  const committed = done(tx);
  let result;
  try {
    result = await fn(tx);
  } catch (error) {
    try {
      tx.abort();
    } catch {
      // already finished
    }
    committed.catch(() => {});
    throw error;
  }
  await committed;
  return result;
}

/** Return every value of a store (or an index). */
export function all(source, query) {
  return req(source.getAll(query));
}
