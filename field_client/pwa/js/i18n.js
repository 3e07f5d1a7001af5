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
  stage_blobs: ["正在上传照片", "Uploading photos"],
  stage_restamp: ["正在校正时间", "Fixing times"],
  stage_done: ["完成", "Done"],
  synced: ["同步完成：发送 {sent} 条，收到 {new} 条新记录。", "Sync done: sent {sent}, received {new} new."],
  synced_returned: ["办公室退回 {n} 条需修改。", "The office sent back {n} to change."],
  synced_conflicts: ["有 {n} 处与他人的修改冲突，办公室会处理。", "{n} changes clashed with someone else's; the office will sort them out."],
  synced_rejected: ["有 {n} 条被服务器拒收，请修改后再同步。", "The server refused {n} changes; fix them and sync again."],
  offline: ["无法连接服务器，所有记录已保存在本机，稍后再同步。", "Cannot reach the server. Everything is saved on this device; sync again later."],
  timeout: ["服务器没有及时回答，记录仍保存在本机，稍后再同步。", "The server did not answer in time. Everything is still saved here; sync again later."],
  busy_elsewhere: ["另一个窗口正在同步，请稍候。", "Another window of the app is syncing; please wait."],
  storage_full: ["本机存储空间已满，这次没有保存，已有的记录都还在；请清理设备空间后再试。", "This device's storage is full. This was not saved; everything saved before is still here. Free some space and try again."],
  save_failed: ["没有保存成功：", "Could not save: "],
  server_error: ["服务器出错了，记录仍保存在本机，稍后再同步。", "The server had a problem. Everything is still saved here; sync again later."],
  device_revoked: ["这台设备已被办公室停用，本机记录仍保留，请联系办公室。", "The office has switched this device off. Its records stay here; please call the office."],
  device_wiped: ["办公室已停用这台设备并要求清除：未发送的记录和照片已先发送到办公室，随后已删除本机上的全部记录、人员和照片。", "The office switched this device off with wipe: its unsent records and photos went to the office first, then every record, person and photo on it was deleted."],
  clock_skew: ["这台设备的时间比服务器快，请校正设备时间后再同步。", "This device's clock is ahead of the server's; fix the time and sync again."],
  unauthorized: ["登记已失效，请重新登记。", "This enrollment is no longer valid; please enroll again."],
  other_error: ["同步没有完成：", "The sync did not finish: "],
  record_visit: ["记录一次走访", "Record a visit"],
  visits: ["最近的走访", "Recent visits"],
  no_visits: ["还没有走访记录。", "No visits yet."],
  place_name: ["地点名称", "Place name"],
  new_place_kind: ["新地点的类型", "Kind of a new place"],
  when: ["时间", "When"],
  people_met: ["在场的人", "People met"],
  add_person: ["添加一个人", "Add a person"],
  person_name: ["姓名", "Full name"],
  concerns_raised: ["反映的诉求", "Concerns raised"],
  add_concern: ["添加一条诉求", "Add a concern"],
  concern_title: ["诉求内容", "What the concern is"],
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
  // the screens (the same words as the Python field UI, field_client/web/catalogue.py)
  nav_home: ["首页", "Home"],
  nav_search: ["搜索", "Search"],
  nav_attention: ["待处理", "Attention"],
  places_recent: ["进门之前看一看：最近的地点", "Before you walk in: recent places"],
  none: ["暂无", "None yet"],
  untitled: ["（无标题）", "(untitled)"],
  not_found: ["找不到这条记录。", "That record is not on this device."],
  no_place: ["未指定地点", "No place"],
  bad_choice: ["请从列表中选择：", "Please choose from the list: "],
  place_before: ["进门之前看一看", "Before you walk in"],
  place_open_concerns: ["未办结的诉求", "Open concerns"],
  place_recent_visits: ["最近的走访", "Recent visits"],
  place_projects: ["民生项目", "Projects"],
  place_people: ["这里的人", "People here"],
  place_visit_here: ["在这里记走访", "Record a visit here"],
  place_concern_here: ["在这里登记诉求", "Add a concern here"],
  place_progress: ["进度 {n}%", "{n}% done"],
  concern_page: ["诉求详情", "Concern details"],
  concern_new: ["新建诉求", "New concern"],
  concern_title_ph: ["例如：污水管道经常堵塞", "e.g. The sewage pipe keeps blocking"],
  concern_created: ["诉求已保存。", "Concern saved."],
  from_visit: ["来自走访", "From visit"],
  raised_by: ["反映人", "Raised by"],
  review_note: ["办公室意见", "Note from the office"],
  supports: ["{n} 人附议", "{n} further voices"],
  support: ["附议", "Add a voice (附议)"],
  supported: ["已附议。", "Your voice was added."],
  voice_counted: ["此人已附议过，不重复计算。", "This person's voice is already counted."],
  voice_of: ["谁附议", "Whose voice"],
  support_this: ["附议这一条", "Support this one"],
  save_anyway: ["仍然新建", "Create it anyway"],
  similar_found: ["这个地点已有类似的未办结诉求，可以附议而不必重复登记：", "This place already has similar open concerns; add your voice instead of a duplicate:"],
  change_status: ["改状态", "Change status"],
  step_to: ["改为“{status}”", "Mark as \u201c{status}\u201d"],
  steps_office: ["受理、转办等其他步骤由办公室处理。", "The office takes the other steps (accept, refer...)."],
  steps_none: ["现在没有需要您做的步骤。", "No step for you to take now."],
  status_changed: ["状态已改为：{status}", "Status changed to: {status}"],
  follow_ups: ["附议与跟进", "Support and follow-ups"],
  follow_up_add: ["添加跟进记录", "Add a follow-up"],
  follow_up_kind: ["方式", "By what means"],
  follow_up_saved: ["跟进记录已保存。", "Follow-up saved."],
  photo_title: ["照片", "Photos"],
  photo_take: ["拍照或选择照片", "Take or choose photos"],
  photo_add: ["添加照片", "Add photos"],
  photo_alt: ["照片", "Photo"],
  photo_added: ["已添加 {n} 张照片。", "{n} photo(s) added."],
  photo_none_chosen: ["请先选择照片。", "Please choose a photo first."],
  photo_not_image: ["“{name}”不是照片。", "“{name}” is not a photo."],
  photo_too_many: ["一次最多添加 {n} 张照片。", "At most {n} photos at a time."],
  photo_after_sync: ["同步后显示", "Appears after sync"],
  photo_quota_device: ["办公室为这台设备保存照片的空间已满，{n} 张照片先留在本机，请联系办公室。", "The office's room for this device's photos is full: {n} photos wait here; please call the office."],
  photo_quota_workspace: ["办公室为本工作区保存照片的空间已满，{n} 张照片先留在本机，请联系办公室。", "The office's room for this workspace's photos is full: {n} photos wait here; please call the office."],
  synced_photos_failed: ["{n} 张照片没有上传成功，对应的记录等下次同步再发送。", "{n} photos did not upload; their records wait for the next sync."],
  search: ["搜索", "Search"],
  search_placeholder: ["地点、人名、走访、诉求……", "Places, people, visits, concerns…"],
  search_places: ["地点", "Places"],
  search_people: ["人员", "Persons"],
  search_visits: ["走访记录", "Visits"],
  search_concerns: ["诉求", "Concerns"],
  search_nothing: ["没有找到“{q}”。", "Nothing found for “{q}”."],
  search_hint: ["输入任意几个字即可。", "Type any few characters."],
  attention: ["待处理", "Needs attention"],
  attention_rejected: ["需要修改的记录", "Changes to fix"],
  attention_rejected_hint: ["服务器没有接受这些修改，它们仍保存在本机。改好后会在下次同步时重新发送。", "The server did not accept these changes; they are kept here. Fixed ones go out with the next sync."],
  attention_conflicts: ["办公室正在处理的冲突", "Conflicts the office is reviewing"],
  attention_conflicts_hint: ["同一字段在别处也被修改过，办公室会决定保留哪一个。您无需操作。", "The same field was changed elsewhere too; the office will decide. Nothing to do."],
  attention_reviews: ["办公室的修改意见", "Notes from the office"],
  attention_nothing: ["一切正常，没有需要处理的事项。", "All good: nothing needs attention."],
  attention_fix: ["修改", "Fix"],
  attention_kept: ["现在的值", "Kept value"],
  attention_other: ["另一个值", "Other value"],
  attention_fix_title: ["修改被退回的记录", "Fix a returned change"],
  visit_page: ["走访详情", "Visit details"],
  visit_edit: ["修改这次走访", "Edit this visit"],
  visit_saved: ["走访已修改。", "Visit changed."],
  concern_edit: ["修改这条诉求", "Edit this concern"],
  concern_saved: ["诉求已修改。", "Concern changed."],
  nothing_changed: ["没有变化。", "Nothing changed."],
  review_fix_hint: ["请按办公室的意见修改下面的内容并保存，下次同步时会重新提交给办公室。", "Change the fields below as the office asks and save; the next sync sends it back to the office."],
  ends_before: ["不能早于开始时间", "must not be before the start"],
  whole_number: ["请填写一个不小于 0 的整数", "must be a whole number, 0 or more"],
  attention_fixed: ["已修改，将在下次同步时发送。", "Fixed; it goes out with the next sync."],
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

/** Return the choices of a field as [value, name] pairs, in the vocabulary's order (names in
 * `inLang`, else the reader's language). */
export function choices(type, field, inLang = null) {
  let table = words?.choices?.[`${type}.${field}`];
  if (typeof table === "string") table = words.choices[table];
  const choose = inLang ? (pair) => (Array.isArray(pair) ? pair[inLang === "en" ? 1 : 0] || pair[0] : pair) : pick;
  return Object.entries(table || {}).map(([value, pair]) => [value, choose(pair)]);
}

/** The casework rules the office exports with the vocabulary (sync.casework.export). */
export function casework() {
  return words?.casework || { representative_steps: {}, closed: [], resolved: [] };
}

/** The record rules' limits the office exports with the vocabulary (sync.rules). */
export function ruleLimits() {
  return words?.rules || { field_allowance_ms: 5 * 60 * 1000 };
}

/** Return a choice value's name. */
export function choiceName(type, field, value) {
  const found = choices(type, field).find(([v]) => v === value);
  return found ? found[1] : String(value ?? "");
}

/** Whether the vocabulary has words for a fault code. */
export const knownFault = (code) => Boolean(words?.faults?.[code]);

/** Return a rule fault's sentence (the vocabulary's faults), `{name}` filled from `params`. */
export function fault(code, params = {}) {
  const text = pick(words?.faults?.[code]) ?? code;
  return text.replace(/\{(\w+)(?::[^}]*)?\}/g, (_, name) => String(params[name] ?? ""));
}
