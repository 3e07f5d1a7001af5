// The app's words. Names of record types, fields and choices come from the one vocabulary
// (vocabulary.json, served by the office from sync.vocabulary); the app's own sentences are
// below, in Simplified Chinese (the default) and English.

const TEXT = {
  enroll_title: ["登记这台设备", "Enroll this device"],
  enroll_help: ["请输入办公室给您的登记码，或扫描管理页面上的二维码。", "Type the enrollment code the office gave you, or scan the QR code on the admin page."],
  code: ["登记码", "Enrollment code"],
  device_name: ["设备名称", "Device name"],
  device_default: ["平板", "Tablet"],
  enroll: ["登记", "Enroll"],
  enrolling: ["正在登记…", "Enrolling…"],
  enroll_failed: ["登记没有成功：", "Enrollment did not work: "],
  pending: ["待同步", "Waiting to sync"],
  last_sync: ["上次同步", "Last sync"],
  never: ["从未同步", "Never"],
  sync: ["同步", "Sync"],
  syncing: ["正在同步…", "Syncing…"],
  stage_push: ["正在发送", "Sending"],
  stage_pull: ["正在接收", "Receiving"],
  stage_restamp: ["正在校正时间", "Fixing times"],
  stage_done: ["完成", "Done"],
  synced: ["同步完成：发送 {sent} 条，接收 {received} 条。", "Sync done: {sent} sent, {received} received."],
  synced_conflicts: ["有 {n} 处与他人的修改冲突，办公室会处理。", "{n} changes clashed with someone else's; the office will sort them out."],
  synced_rejected: ["有 {n} 条被服务器拒收，请修改后再同步。", "The server refused {n} changes; fix them and sync again."],
  offline: ["无法连接服务器，所有记录已保存在本机，稍后再同步。", "Cannot reach the server. Everything is saved on this device; sync again later."],
  server_error: ["服务器出错了，记录仍保存在本机，稍后再同步。", "The server had a problem. Everything is still saved here; sync again later."],
  device_revoked: ["这台设备已被办公室停用，本机记录仍保留，请联系办公室。", "The office has switched this device off. Its records stay here; please call the office."],
  clock_skew: ["这台设备的时间比服务器快，请校正设备时间后再同步。", "This device's clock is ahead of the server's; fix the time and sync again."],
  unauthorized: ["登记已失效，请重新登记。", "This enrollment is no longer valid; please enroll again."],
  other_error: ["同步没有完成：", "The sync did not finish: "],
  record_visit: ["记录一次走访", "Record a visit"],
  visits: ["最近的走访", "Recent visits"],
  no_visits: ["还没有走访记录。", "No visits yet."],
  place_name: ["地点名称", "Place name"],
  new_place_kind: ["新地点的类型", "Kind of a new place"],
  when: ["时间", "When"],
  people_met: ["见到的人", "People met"],
  add_person: ["添加一个人", "Add a person"],
  person_name: ["姓名", "Name"],
  concerns_raised: ["反映的诉求", "Concerns raised"],
  add_concern: ["添加一条诉求", "Add a concern"],
  concern_title: ["诉求内容", "Concern"],
  save: ["保存", "Save"],
  cancel: ["取消", "Cancel"],
  saved: ["已保存在本机，{n} 条记录待同步。", "Saved on this device; {n} records wait to sync."],
  needs: ["请填写：", "Please fill in: "],
  too_long: ["太长了：", "Too long: "],
  offline_banner: ["现在没有网络，记录照常保存在本机。", "No network now; records are saved on this device as usual."],
  no_offline: ["这个地址不能离线使用（需要 https 或本机地址），断网时请勿关闭本页面。", "This address cannot work offline (it needs https or this machine's address); keep this page open while offline."],
  update_ready: ["有新版本。", "An update is available."],
  reload: ["重新加载", "Reload"],
  storage: ["本机已用 {used}", "Storage used on this device: {used}"],
  workspace: ["工作区", "Workspace"],
};

let lang = "zh";
let words = null;

/** Set the language ("zh" or "en"). */
export function setLang(value) {
  lang = value === "en" ? "en" : "zh";
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

/** Return the current language. */
export const getLang = () => lang;

/** Keep the vocabulary (the export of sync.vocabulary). */
export function setWords(data) {
  words = data;
}

const pick = (pair) => (Array.isArray(pair) ? pair[lang === "en" ? 1 : 0] || pair[0] : pair);

/** Return one of the app's sentences, `{name}` filled from `params`. */
export function t(key, params = {}) {
  const text = pick(TEXT[key]) ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

/** Return a record type's name. */
export function typeName(type, many = false) {
  const entry = words?.types?.[type];
  return entry ? pick(many ? entry.many : entry.one) : type;
}

/** Return a field's name. */
export function fieldName(field) {
  return pick(words?.fields?.[field]) ?? field;
}

/** Return the choices of a field as [value, name] pairs, in the vocabulary's order. */
export function choices(type, field) {
  let table = words?.choices?.[`${type}.${field}`];
  if (typeof table === "string") table = words.choices[table];
  return Object.entries(table || {}).map(([value, pair]) => [value, pick(pair)]);
}

/** Return a choice value's name. */
export function choiceName(type, field, value) {
  const found = choices(type, field).find(([v]) => v === value);
  return found ? found[1] : String(value ?? "");
}

/** Return a rule fault's sentence (the vocabulary's faults), `{name}` filled from `params`. */
export function fault(code, params = {}) {
  const text = pick(words?.faults?.[code]) ?? code;
  return text.replace(/\{(\w+)(?::[^}]*)?\}/g, (_, name) => String(params[name] ?? ""));
}
