// One sync of the app with its office server (docs/protocol.md): push the outbox batch by
// batch (each batch kept before it is sent, so a retry sends the same batch id), then pull
// pages until up to date (each page applied with its cursor in one transaction).
// `fetch` is injected, so tests can point it anywhere; nothing here touches the page.

export const PROTOCOL = "1";
const PULL_LIMIT = 1000;
const PUSH_LIMIT = 500;
/** How long one request may take before the sync stops with "timeout" (the batch stays
 * queued with its id, so the next sync sends it again and the server answers it once). */
export const REQUEST_TIMEOUT_MS = 30_000;

/** A sync that stopped: `code` is a protocol error code, "offline", "timeout" or
 * "server_error". */
export class SyncStop extends Error {
  constructor(code, detail = "", body = {}) {
    super(detail || code);
    this.code = code;
    this.body = body;
  }
}

/** Send one API request; return the JSON answer or throw SyncStop. */
export async function call(fetcher, base, path, { method = "GET", token = null, body, type = "application/json" } = {}) {
  const headers = { "Fieldsync-Protocol": PROTOCOL, Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = type;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  let response;
  let data = {};
  try {
    try {
      response = await fetcher(`${base}/api/v1${path}`, { method, headers, body, cache: "no-store", signal: abort.signal });
    } catch (error) {
      if (abort.signal.aborted) throw new SyncStop("timeout");
      throw new SyncStop("offline", String(error && error.message ? error.message : error));
    }
    try {
      data = await response.json();
    } catch {
      if (abort.signal.aborted) throw new SyncStop("timeout");
      data = {};
    }
  } finally {
    clearTimeout(timer);
  }
  if (response.ok) return data;
  if (response.status >= 500) throw new SyncStop("server_error", data.detail || String(response.status));
  throw new SyncStop(data.code || "invalid_request", data.detail || data.title || "", data);
}

/** Enroll with a code; keep the answer in `store`; return it. */
export async function enroll(store, fetcher, base, code, deviceName) {
  const body = JSON.stringify({ code, device_name: deviceName });
  const answer = await call(fetcher, base, "/enroll", { method: "POST", body });
  await store.enroll(answer, deviceName);
  return answer;
}

/** Run one sync; `progress(stage, done, total)` hears how it goes. Return a report:
 * {ok, sent, received, new, returned, conflicts, rejected, restamped, photos, photos_failed,
 * error, message, pending}. */
export async function syncOnce(store, fetcher, base, progress = () => {}) {
  const report = { ok: false, sent: 0, received: 0, new: 0, returned: 0, conflicts: 0, rejected: 0, restamped: 0 };
  report.photos = 0;
  report.photos_failed = 0;
  report.error = null;
  report.message = "";
  try {
    const state = await store.state();
    if (state.wiped) throw new SyncStop("device_wiped");
    const token = state.token;
    if (state.restamp_needed) {
      report.restamped = await store.restampPending(state.skew_server_time || null);
      progress("restamp", report.restamped, report.restamped);
    }
    await uploadBlobs(store, fetcher, base, token, report, progress);
    await push(store, fetcher, base, token, report, progress);
    await pull(store, fetcher, base, token, report, progress);
    await store.setState({ last_sync: store.now() });
    report.ok = true;
    progress("done", report.received, report.received);
  } catch (caught) {
    let error = caught;
    if (error instanceof SyncStop && error.code === "device_revoked" && error.body.wipe === true) {
      error = await wipe(store, fetcher, base, report, progress);
    }
    if (!error) {
      report.pending = await store.pendingCount();
      return report;
    }
    if (!(error instanceof SyncStop)) throw error;
    report.error = error.code;
    report.message = error.message;
    if (error.code === "clock_skew") {
      await store.setState({ restamp_needed: true, skew_server_time: error.body.server_time || null });
    } else if (error.code === "device_revoked") {
      await store.setState({ revoked: true });
    }
  }
  report.pending = await store.pendingCount();
  return report;
}

/** The office revoked this device with wipe (docs/protocol.md section 8): send every photo and
 * every pending edit first (attachments whose photo the office refused go too), then delete
 * every record, person, photo and search copy here, tell the server, forget the token. Return
 * null when done, or the SyncStop that stopped it (offline: nothing deleted, the next sync
 * goes on). */
async function wipe(store, fetcher, base, report, progress) {
  try {
    const { token } = await store.state();
    await uploadBlobs(store, fetcher, base, token, report, progress);
    await push(store, fetcher, base, token, report, progress, { holdBack: false });
    if (await store.pendingCount()) return new SyncStop("device_revoked", "edits still pending", { wipe: true });
    report.wiped = await store.wipe();
    try {
      await call(fetcher, base, "/device/wiped", { method: "POST", token, body: "{}" });
    } catch (error) {
      // revoked without "wipe": the server heard it before (its answer was lost)
      if (!(error instanceof SyncStop) || error.code !== "device_revoked") throw error;
    }
    await store.setState({ token: null, revoked: true });
    report.error = "device_wiped";
    report.message = "";
    return null;
  } catch (error) {
    return error;
  }
}

/** Upload the photos this device took that the office does not have, before the attachments
 * that name them are pushed (docs/protocol.md section 7). A photo the office refuses (too
 * large, say) is marked failed and its attachment waits; being offline stops the sync. */
async function uploadBlobs(store, fetcher, base, token, report, progress) {
  const hashes = await store.blobsToUpload();
  if (!hashes.length) return;
  progress("blobs", 0, hashes.length);
  const body = JSON.stringify({ sha256: hashes });
  const { missing = [] } = await call(fetcher, base, "/blobs/missing", { method: "POST", token, body });
  const wanted = new Set(Array.isArray(missing) ? missing : []);
  let done = 0;
  for (const sha of hashes) {
    if (wanted.has(sha)) {
      const row = await store.blob(sha);
      try {
        await call(fetcher, base, `/blobs/${sha}`, { method: "PUT", token, body: row.blob, type: row.media_type || "application/octet-stream" });
        report.photos += 1;
      } catch (error) {
        if (!(error instanceof SyncStop) || error.code === "offline" || error.code === "unauthorized" || error.code === "device_revoked") throw error;
        await store.markBlob(sha, error.code);
        report.photos_failed += 1;
        if (error.body.quota === "device" || error.body.quota === "workspace") report.photo_quota = error.body.quota;
        progress("blobs", ++done, hashes.length);
        continue;
      }
    }
    await store.markBlob(sha);
    progress("blobs", ++done, hashes.length);
  }
}

async function push(store, fetcher, base, token, report, progress, { holdBack = true } = {}) {
  const total = await store.pendingCount();
  progress("push", 0, total);
  const hold = holdBack ? await store.heldAttachments() : new Set();
  for (;;) {
    const batch = await store.nextBatch(PUSH_LIMIT, hold);
    if (!batch) return;
    const answer = await call(fetcher, base, "/sync/push", { method: "POST", token, body: batch.body });
    const counts = await store.applyAnswer(batch.id, answer);
    report.sent += counts.sent;
    report.conflicts += counts.conflicts;
    report.rejected += counts.rejected;
    progress("push", report.sent + report.rejected, Math.max(total, report.sent));
  }
}

async function pull(store, fetcher, base, token, report, progress) {
  progress("pull", 0, null);
  let restarted = false;
  for (;;) {
    const { cursor } = await store.state();
    const query = new URLSearchParams({ limit: String(PULL_LIMIT) });
    if (cursor) query.set("cursor", cursor);
    let page;
    try {
      page = await call(fetcher, base, `/sync/pull?${query}`, { token });
    } catch (error) {
      if (!(error instanceof SyncStop) || error.code !== "resync_required" || restarted) throw error;
      // The server was restored from a backup: give it back what it lost of this device's
      // writes, then pull everything from the start.
      restarted = true;
      await store.requeueOwnWrites();
      await push(store, fetcher, base, token, report, progress);
      continue;
    }
    const counts = await store.applyPull(page);
    report.received += counts.received;
    report.new += counts.new;
    report.returned += counts.returned;
    progress("pull", report.received, null);
    if (!page.more) return;
  }
}
