// Photos: the camera through a file input, each photo resized on the device to at most 1600 px
// (JPEG), named by its SHA-256 and kept in IndexedDB with the attachment record that names it.
// sync.js uploads the bytes before it pushes the attachment.
import { t } from "./i18n.js";
import { app, h } from "./ui.js";

export const MAX_SIDE = 1600;
const BASE = new URL("../", location.href).href.replace(/\/$/, "");
const QUALITY = 0.85;
const MAX_PHOTOS = 10;

/** Return a photo file resized to at most `MAX_SIDE` px on its longer side, as JPEG:
 * {blob, media_type, size, width, height, sha256}. Throws when it is not a picture. */
export async function resize(file, maxSide = MAX_SIDE) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff"; // a transparent PNG becomes white, not black
  context.fillRect(0, 0, width, height);
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close?.();
  const blob = await new Promise((resolve, reject) => {
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("toBlob"))), "image/jpeg", QUALITY);
  });
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  const sha256 = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { blob, media_type: "image/jpeg", size: blob.size, width, height, sha256 };
}

/** The camera input of a form (several photos allowed). */
export function photoInput(id = "photos") {
  return h("div", { class: "photo-field" },
    h("label", { for: id }, t("photo_take")),
    h("input", { type: "file", id, name: "photos", accept: "image/*", capture: "environment", multiple: true }));
}

/** Resize the files chosen in `input`; return [photos, error sentence or ""]. Nothing is kept
 * until the form is saved, so a bad file keeps the rest of the form as typed. */
export async function readPhotos(input) {
  const files = [...(input?.files || [])];
  if (files.length > MAX_PHOTOS) return [[], t("photo_too_many", { n: MAX_PHOTOS })];
  const photos = [];
  for (const file of files) {
    try {
      photos.push(await resize(file));
    } catch {
      return [[], t("photo_not_image", { name: file.name })];
    }
  }
  return [photos, ""];
}

/** Attach resized photos to a record (each in its own transaction with its bytes). */
export async function attach(subjectType, subjectId, photos) {
  for (const photo of photos) await app.store.addPhoto(subjectType, subjectId, photo);
  return photos.length;
}

/** Fetch a photo another device took from the office and keep it here (null when offline or
 * not there yet). */
async function fetchPhoto(sha256, mediaType) {
  if (!navigator.onLine || !/^[0-9a-f]{64}$/.test(sha256 || "")) return null;
  const { token } = await app.store.state();
  if (!token) return null;
  try {
    const answer = await fetch(`${BASE}/api/v1/blobs/${sha256}`, {
      headers: { Authorization: `Bearer ${token}`, "Fieldsync-Protocol": "1" },
    });
    if (!answer.ok) return null;
    const blob = await answer.blob();
    await app.store.keepBlob(sha256, blob, mediaType || blob.type);
    return { blob };
  } catch {
    return null;
  }
}

/** The photos of a record: the ones on this device (or fetched now from the office) as
 * pictures, the others as a placeholder that says they appear after a sync. */
export async function gallery(subjectId) {
  const rows = (await app.store.aboutSubject(subjectId)).filter(
    (r) => r.type === "attachment" && String(r.fields.media_type || "").startsWith("image/"),
  );
  const items = [];
  for (const row of rows) {
    const kept = (await app.store.blob(row.fields.sha256)) || (await fetchPhoto(row.fields.sha256, row.fields.media_type));
    if (kept) {
      const url = URL.createObjectURL(kept.blob);
      items.push(h("li", {}, h("img", { src: url, alt: t("photo_alt"), class: "photo", "data-sha256": row.fields.sha256, onload: () => URL.revokeObjectURL(url) })));
    } else {
      items.push(h("li", { class: "photo missing", "data-sha256": row.fields.sha256 }, t("photo_after_sync")));
    }
  }
  return items.length ? h("ul", { class: "photos" }, items) : null;
}
