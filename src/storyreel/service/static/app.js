// storyreel studio: an editor over the JSON API in plain JavaScript (no build step).
// Words for phases, states, option labels, units and help come from /api/words/.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const state = {
  words: null, schema: null, project: null, events: null, selected: null,
  lastStatus: null, videoJob: null, history: [], panel: "segment", frameEnd: false,
  saving: 0, pending: new Map(), saveError: null,
};

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(message, status, problems, current = null) {
    super(message);
    this.status = status;
    this.problems = problems || [];
    this.current = current;  // a 412's resource as it is now
  }
}

// An answer's ETag travels with its data (a list, such as the new order, gets it too).
function tagged(data, etag) {
  if (data && typeof data === "object" && etag && !data.etag) data.etag = etag;
  return data;
}

async function api(method, path, body, headers = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError("The studio cannot be reached. Is “storyreel serve” still running?", 0);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (err) { data = null; }
  if (!response.ok) {
    const detail = (data && data.detail) || `The studio answered ${response.status}.`;
    throw new ApiError(typeof detail === "string" ? detail : JSON.stringify(detail),
      response.status, data && data.problems, data && data.current);
  }
  return tagged(data, response.headers.get("ETag"));
}

// A form upload with progress (fetch cannot report how much of the body was sent).
function sendForm(path, form, onProgress, headers = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
    xhr.onerror = () => reject(new ApiError("The upload failed: the studio cannot be reached.", 0));
    xhr.onload = () => {
      let data = null;
      try { data = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch (err) { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(tagged(data, xhr.getResponseHeader("ETag")));
      else reject(new ApiError((data && data.detail) || `The studio answered ${xhr.status}.`, xhr.status, data && data.problems, data && data.current));
    };
    xhr.send(form);
  });
}

const projectPath = (rest = "") => `/api/projects/${state.project.id}/${rest}`;

// ---------------------------------------------------------------- small helpers

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function fmtSeconds(total) {
  if (total == null || !isFinite(total)) return "";
  if (total > 0 && total < 10) return `${total.toFixed(1)} s`;
  total = Math.max(0, Math.round(total));
  const m = Math.floor(total / 60), s = total % 60;
  return m ? `${m}:${String(s).padStart(2, "0")} min` : `${s} s`;
}

function fmtSize(bytes) {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

function fmtWhen(epoch) {
  const date = new Date(epoch * 1000);
  const today = new Date();
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return date.toDateString() === today.toDateString() ? `today ${time}` : `${date.toLocaleDateString()} ${time}`;
}

const phaseWords = (phase) => (state.words.phases[phase] ?? phase);
const stateWords = (status) => (state.words.states[status] ?? status);

// ---------------------------------------------------------------- toasts and dialogs

function toast(message, { kind = "info", action = null, seconds = null } = {}) {
  const box = el("div", { class: `toast ${kind}` }, el("span", { textContent: message }));
  const close = () => box.remove();
  if (action) box.append(el("button", { class: "link", textContent: action.label, onclick: () => { close(); action.run(); } }));
  box.append(el("button", { class: "close", textContent: "×", ariaLabel: "Dismiss", onclick: close }));
  const stack = $("#toasts");
  stack.append(box);
  while (stack.children.length > 2) stack.firstElementChild.remove();
  const wait = seconds ?? (kind === "error" ? 10 : 2.5);
  setTimeout(close, wait * 1000);
  return close;
}

function problemText(problem) {
  const where = problem.segment ? `Segment ${problem.segment}` : "";
  const what = problem.label || "";
  const head = [where, what].filter(Boolean).join(" · ");
  return head ? `${head}: ${problem.message}` : problem.message;
}

function showError(err) {
  const extra = err.problems && err.problems.length ? " " + err.problems.map(problemText).join("; ") : "";
  toast(err.message + extra, { kind: "error" });
}

// In-page dialogs instead of prompt() and confirm(). Resolves to the text (or true), or null.
// Enter is the main button (the form's first submit button), Escape and Cancel cancel; focus
// starts in the dialog and goes back to where it was.
function ask({ title, text = "", input = null, ok = "OK", danger = false }) {
  const dialog = $("#dialog");
  const from = document.activeElement;
  $("#dialog-title").textContent = title;
  $("#dialog-text").textContent = text;
  const field = $("#dialog-input");
  field.hidden = input === null;
  field.value = input ?? "";
  field.setAttribute("aria-labelledby", text ? "dialog-text" : "dialog-title");
  $("#dialog-ok").textContent = ok;
  $("#dialog-ok").className = danger ? "danger" : "primary";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      if (dialog.returnValue !== "ok") resolve(null);
      else resolve(input === null ? true : field.value.trim());
      if (from && from.isConnected && from !== document.body) from.focus();
    }, { once: true });
    dialog.returnValue = "";  // Escape leaves it as it was: an earlier OK must not count
    dialog.showModal();
    if (input !== null) { field.focus(); field.select(); } else $("#dialog-ok").focus();
  });
}

// ---------------------------------------------------------------- saving

// Only changed fields are sent; a field being edited is never refilled from a reply.
function setSaveState() {
  const box = $("#save-state");
  if (state.saveError) { box.textContent = "Not saved"; box.className = "save-state bad"; box.title = state.saveError; return; }
  const busy = state.saving > 0 || state.pending.size > 0;
  box.textContent = busy ? "Saving…" : "All changes saved";
  box.className = `save-state ${busy ? "busy" : "ok"}`;
  box.title = "";
}

// Saves on their way to the studio: a render waits for them, so it uses what was typed.
const inflight = new Set();

async function save(run) {
  state.saving += 1;
  setSaveState();
  const sending = Promise.resolve().then(run);
  inflight.add(sending);
  sending.catch(() => {}).finally(() => inflight.delete(sending));
  try {
    const result = await sending;
    state.saveError = null;
    return result;
  } catch (err) {
    state.saveError = err.message;
    showError(err);
    throw err;
  } finally {
    state.saving -= 1;
    setSaveState();
  }
}

// Typing is saved once it pauses; leaving the field saves at once.
function debounced(key, run, delay = 700) {
  clearTimeout(state.pending.get(key));
  state.pending.set(key, setTimeout(() => { state.pending.delete(key); save(run).catch(() => {}); }, delay));
  setSaveState();
}

function flush(key, run) {
  if (!state.pending.has(key)) return;
  clearTimeout(state.pending.get(key));
  state.pending.delete(key);
  save(run).catch(() => {});
}

const isEditing = (node) => node === document.activeElement || node.dataset.dirty === "1";

// ---------------------------------------------------------------- versions (ETags)

// For each project and segment: the ETag of the version the page shows, and that version's
// values. Every write sends the tag as If-Match, so a change made in another window is never
// overwritten unseen; one write per resource runs at a time, in order.
const versions = new Map();
const queues = new Map();
const projectKey = () => `project:${state.project.id}`;
const segmentKey = (id) => `segment:${id}`;

// The version an ETag names (`"s.22.7"`: segment 22 at version 7), to tell which of two
// answers about one resource is the newer; null for a tag of another form.
function tagVersion(tag) {
  const found = /^"[ps]\.\d+\.(\d+)"$/.exec(tag || "");
  return found ? Number(found[1]) : null;
}
const olderThan = (tag, other) => {
  const a = tagVersion(tag), b = tagVersion(other);
  return a !== null && b !== null && a < b;
};

// A version is remembered unless a newer one of the resource is known: an answer that
// arrives late (a read sent before a write was answered) never puts back an older one.
function remember(key, data) {
  if (!data || !data.etag) return;
  const known = versions.get(key);
  if (known && olderThan(data.etag, known.etag)) return;
  versions.set(key, { etag: data.etag, data });
}

const ifMatch = (key) => (versions.has(key) ? { "If-Match": versions.get(key).etag } : {});

function serial(key, run) {
  const next = (queues.get(key) || Promise.resolve()).catch(() => {}).then(run);
  queues.set(key, next);
  const done = () => { if (queues.get(key) === next) queues.delete(key); };
  next.then(done, done);
  return next;
}

// A project whose title or options are being edited or saved keeps the version they were
// edited from: a newer one read meanwhile is taken once the edit is saved (or settled).
function projectBusy() {
  return queues.has(projectKey()) || state.pending.has("title") || $("#title").dataset.dirty === "1" ||
    $$("[data-path][data-dirty='1']").length > 0;
}

// A project read is remembered, and returned to be shown, resource by resource at the
// newest version known: a read sent before a write was answered keeps that write's
// title, options and order of segments (the project's version) and each segment written
// (its own version).
function rememberProject(project) {
  if (!state.project || state.project.id !== project.id) versions.clear();
  const key = `project:${project.id}`;
  const known = versions.get(key);
  let shown = project;
  if (known && olderThan(project.etag, known.etag)) {
    const kept = known.data;
    const read = new Map(project.segment_list.map((seg) => [seg.id, seg]));
    const list = kept.segment_list.map((seg) => read.get(seg.id) || seg);
    shown = { ...project, title: kept.title, options: kept.options, etag: kept.etag,
              segment_list: list.map((seg, index) => ({ ...seg, number: index + 1 })) };
  } else if (!known || !projectBusy()) {
    remember(key, project);
  }
  shown.segment_list = shown.segment_list.map((seg) => {
    const segKey = segmentKey(seg.id);
    remember(segKey, seg);
    const newest = versions.get(segKey);
    return newest && newest.data !== seg ? { ...newest.data, number: seg.number } : seg;
  });
  return shown;
}

// Reads of a project, in the order they were sent: an answer that comes after a later
// one's is dropped (null) rather than shown over it. The caller remembers what it shows.
const reads = new Map();
async function readProject(id) {
  const count = reads.get(id) || { sent: 0, shown: 0 };
  reads.set(id, count);
  const order = ++count.sent;
  const fresh = await api("GET", `/api/projects/${id}/`);
  if (order < count.shown) return null;
  count.shown = order;
  return fresh;
}

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

// A write of one resource with If-Match. On 412, `settle(current, seen)` decides: "send"
// sends again with the new tag (the creator keeps theirs, or only other fields changed),
// anything else leaves the write unsent. Resolves to the answer (true for an empty one),
// or null when the write was left unsent.
async function conditional(key, send, settle) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const answer = await send(ifMatch(key));
      remember(key, answer);
      return answer ?? true;
    } catch (err) {
      if (err.status !== 412 || !err.current || attempt >= 3) throw err;
      const seen = versions.has(key) ? versions.get(key).data : null;
      const choice = await settle(err.current, seen);
      remember(key, err.current);
      if (choice !== "send") return null;
    }
  }
}

// The page's own dialog for a change made elsewhere: both versions side by side, one
// question at a time. Resolves to "mine", "theirs", or "" (Escape: decide later; what was
// typed stays).
let conflictQueue = Promise.resolve();
function chooseVersion(question) {
  const next = conflictQueue.then(() => askVersion(question));
  conflictQueue = next.catch(() => {});
  return next;
}

function askVersion({ title, text, theirs, mine }) {
  const dialog = $("#conflict");
  $("#conflict-title").textContent = title;
  $("#conflict-text").textContent = text;
  $("#conflict-theirs").textContent = theirs === "" || theirs == null ? "(empty)" : String(theirs);
  $("#conflict-mine").textContent = mine === "" || mine == null ? "(empty)" : String(mine);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    $("#conflict-keep-mine").focus();
  });
}

// A field's value changed elsewhere: keep mine (sent again), take theirs, or decide later.
// Without `seen` (what the field showed before), the change is already known to collide.
async function settleField({ what, mine, theirs, seen, apply }) {
  const unchanged = seen !== undefined && same(asText(theirs), asText(seen));
  if (unchanged || same(asText(theirs), asText(mine))) return "send";  // the field itself is as it was
  const choice = await chooseVersion({
    title: `${what} was changed in another window`,
    text: "Nothing is lost: choose which version to keep.", theirs, mine });
  if (choice === "mine") return "send";
  if (choice === "theirs") { apply(theirs); toast(`${what}: the other window's version is kept`); return "theirs"; }
  throw new ApiError(`${what} was changed in another window; yours is kept here but not saved yet.`, 412);
}

// ---------------------------------------------------------------- project list

async function loadProjects() {
  const projects = await api("GET", "/api/projects/");
  const list = $("#project-list");
  list.replaceChildren();
  $("#no-projects").hidden = projects.length > 0;
  for (const p of projects) {
    const thumb = el("div", { class: "thumb" });
    if (p.thumbnail_url) thumb.append(el("img", { src: p.thumbnail_url, alt: "" }));
    const badge = el("span", { class: `badge ${p.status}`, textContent: badgeText(p.status, p.percent) });
    const li = el("li", { class: "project-item", dataset: { id: p.id }, tabIndex: 0 }, thumb,
      el("div", { class: "project-text" },
        el("div", { class: "name", textContent: p.title }),
        el("div", { class: "muted small", textContent: `${p.segments} segment${p.segments === 1 ? "" : "s"} · ${fmtSeconds(p.duration) || "0 s"}` }),
        badge));
    li.classList.toggle("active", Boolean(state.project && state.project.id === p.id));
    li.addEventListener("click", () => { location.hash = `#/project/${p.id}`; closeDrawer(); });
    li.addEventListener("keydown", (event) => { if (event.key === "Enter") li.click(); });
    list.append(li);
  }
}

function badgeText(status, percent) {
  const words = stateWords(status);
  return status === "processing" ? `${words} ${Math.floor(percent || 0)} %` : words;
}

function closeDrawer() {
  document.body.classList.remove("drawer-open");
  $("#toggle-projects").setAttribute("aria-expanded", "false");
}

// ---------------------------------------------------------------- opening a project

async function openProject(id) {
  let project;
  try {
    project = await readProject(id);
  } catch (err) {
    if (err.status === 404) location.hash = "";
    showError(err);
    return;
  }
  if (!project) return;  // a later read of it is shown
  const switching = !state.project || state.project.id !== project.id;
  project = rememberProject(project);
  state.project = project;
  if (switching) {
    state.selected = project.segment_list.length ? project.segment_list[0].id : null;
    state.videoJob = null;
    switchUndo(project.id);
  }
  $("#welcome").hidden = true;
  $("#editor").hidden = false;
  $("#project-head").hidden = false;
  $("#render-actions").hidden = false;
  $("#title").value = project.title;
  $("#project-heading").textContent = project.title;
  document.title = `${project.title} · storyreel`;
  applyAspect();
  renderTimeline();
  buildPanel();
  updateStatus(project.render);
  loadHistory();
  showFrame();
  setSaveState();
  listen(project.id);
  $$(".project-item").forEach((node) => node.classList.toggle("active", Number(node.dataset.id) === project.id));
}

function closeProject() {
  state.project = null;
  if (state.events) { state.events.close(); state.events = null; }
  $("#editor").hidden = true;
  $("#project-head").hidden = true;
  $("#render-actions").hidden = true;
  $("#welcome").hidden = false;
  document.title = "storyreel studio";
}

// Re-read the project after a change of segments or media; fields being edited keep their text.
async function reloadProject() {
  if (!state.project) return;
  const read = await readProject(state.project.id);
  if (!read || !state.project || read.id !== state.project.id) return;  // another is open
  const fresh = rememberProject(read);
  state.project = fresh;
  if (!isEditing($("#title"))) $("#title").value = fresh.title;
  renderTimeline();
  refreshSegmentPanel();
  updateMeta();
  showFrame();
}

function updateMeta() {
  const p = state.project;
  const { width, height, fps } = p.options;
  const segments = p.segment_list;
  // The video's length as planned (gaps, fades, intro and outro included) once the frame
  // grid is read, as the scrubber shows it; until then, the narrations' sum.
  const planned = scrub.grid && scrub.project === p.id ? scrub.grid.seconds : null;
  const total = planned ?? segments.reduce((sum, seg) => sum + segDuration(seg), 0);
  const estimated = segments.some((seg) => !seg.audio) ? "about " : "";
  $("#project-meta").textContent = `${segments.length} segment${segments.length === 1 ? "" : "s"} · ${estimated}${fmtSeconds(total) || "0 s"} · ${width}×${height} · ${Number(fps).toFixed(fps % 1 ? 2 : 0)} fps`;
}

function applyAspect() {
  const { width, height } = state.project.options;
  document.documentElement.style.setProperty("--aspect", `${width} / ${height}`);
  document.body.classList.toggle("portrait", height > width);
}

function route() {
  const match = location.hash.match(/^#\/project\/(\d+)/);
  if (match) openProject(Number(match[1]));
  else closeProject();
}

// ---------------------------------------------------------------- timeline

const segmentById = (id) => state.project.segment_list.find((s) => s.id === id);
// Before a segment has narration, its length is estimated from its words (at the pace the
// studio gives in /api/words/).
const segDuration = (seg) => (seg.audio ? seg.audio.duration : seg.seconds);

function renderTimeline() {
  const list = $("#timeline");
  const segments = state.project.segment_list;
  const longest = Math.max(1, ...segments.map(segDuration));
  const focused = document.activeElement && document.activeElement.closest(".segment");
  const keep = focused ? { id: Number(focused.dataset.id), field: document.activeElement.className } : null;
  // What is being typed survives a redraw: it is kept, and still saved when typing pauses.
  const typing = $$(".segment [data-dirty='1']", list).map((input) => [input.closest(".segment").dataset.id, input.className, input.value]);
  list.style.setProperty("--digits", String(String(segments.length).length));  // room for the longest number
  placeRows(list, segments.map((seg) => keptRow(seg, segments.length, longest)));
  for (const [id, name, value] of typing) {
    const input = document.querySelector(`#segment-${id} .${name.split(" ")[0]}`);
    if (input && input.value !== value) input.value = value;  // a kept row still holds it
    if (input) input.dataset.dirty = "1";
  }
  if (!segments.length) list.append(el("li", { class: "empty muted", textContent: "No segments yet: press “+ Segment”, or drop pictures here." }));
  const deleted = deletedRow();
  if (deleted) list.insertBefore(deleted, list.children[undoLog.done.at(-1).deleted - 1] || null);
  renderOverview();
  updateMeta();
  updateNarrateButton();
  if (keep) {
    const row = document.getElementById(`segment-${keep.id}`);
    const field = row && keep.field && row.querySelector(`.${keep.field.split(" ")[0]}`);
    (field || row)?.focus();
  }
}

// The timeline's rows are kept by segment: a row whose segment is unchanged is updated in
// place (its length bar, its selection), not built again, so a long project redraws only
// what changed and a field keeps its focus, selection and typing.
const keptRows = new Map();  // segment id -> { li, key }

// What a row shows of its segment (its version tag aside: it changes with every save).
const rowKey = (seg, count) => JSON.stringify([{ ...seg, etag: undefined }, count]);

function keptRow(seg, count, longest) {
  const key = rowKey(seg, count);
  const kept = keptRows.get(seg.id);
  if (kept && kept.key === key) {
    kept.li.classList.toggle("selected", seg.id === state.selected);
    $(".seg-length-fill", kept.li).style.width = `${(100 * segDuration(seg)) / longest}%`;
    return kept.li;
  }
  const li = segmentRow(seg, count, longest);
  keptRows.set(seg.id, { li, key });
  return li;
}

// A saved edit is shown in its row: the row now stands for the segment as it is.
function showRecording(row, seg) {
  $(".audio-state", row).textContent = seg.audio ? `♪ ${seg.audio.duration.toFixed(1)} s` : "+ Recording";
  $(".seg-audio", row).classList.toggle("filled", Boolean(seg.audio));
  $(".listen", row).hidden = !seg.audio;
  const kept = keptRows.get(seg.id);
  if (kept && kept.li === row) kept.key = rowKey(seg, state.project.segment_list.length);
}

// Put ``rows`` in the list in order, moving only the rows that are out of place.
function placeRows(list, rows) {
  const wanted = new Set(rows);
  for (const node of [...list.children]) if (!wanted.has(node)) node.remove();
  rows.forEach((li, at) => { if (list.children[at] !== li) list.insertBefore(li, list.children[at] || null); });
  const ids = new Set(rows.map((li) => Number(li.dataset.id)));
  for (const id of [...keptRows.keys()]) if (!ids.has(id)) keptRows.delete(id);
}

function updateNarrateButton() {
  const waiting = state.project.segment_list.filter((seg) => seg.narration === "pending" || seg.narration === "outdated").length;
  const button = $("#narrate-missing");
  button.hidden = waiting === 0;
  button.textContent = `Generate narration (${waiting})`;
}

// What a saved edit changes outside its field: what the row still needs, its length, the
// header's estimate and the Generate narration button.
function showSegmentFacts(seg) {
  const row = document.getElementById(`segment-${seg.id}`);
  if (row) {
    showNarration(row, seg);
    showMissing(row, seg);
    showRecording(row, seg);
    const segments = state.project.segment_list;
    const longest = Math.max(1, ...segments.map(segDuration));
    for (const other of segments) {
      const fill = document.querySelector(`#segment-${other.id} .seg-length-fill`);
      if (fill) fill.style.width = `${(100 * segDuration(other)) / longest}%`;
    }
  }
  updateMeta();
  updateNarrateButton();
  if (seg.id === state.selected) refreshSegmentPanel();
}

function showMissing(li, seg) {
  const missing = seg.missing.map((m) => (m === "image" ? "a picture" : "a narration"));
  $(".seg-missing", li).textContent = missing.length ? `Needs ${missing.join(" and ")}` : "";
}

function segmentRow(seg, count, longest) {
  const li = $("#segment-template").content.firstElementChild.cloneNode(true);
  li.dataset.id = seg.id;
  li.id = `segment-${seg.id}`;
  li.classList.toggle("selected", seg.id === state.selected);
  li.setAttribute("aria-label", `Segment ${seg.number}`);
  $(".seg-number", li).textContent = seg.number;
  const img = $(".seg-image img", li);
  img.loading = "lazy";  // a long project loads the thumbnails in view, then as it scrolls
  img.decoding = "async";
  if (seg.image) {
    img.src = seg.image.thumbnail_url;
    img.alt = `Segment ${seg.number} picture`;
    $(".seg-image", li).classList.add("filled");
    $(".seg-image", li).title = `${seg.image.width}×${seg.image.height} · drop or click to replace`;
  } else if (seg.video) {
    img.src = projectPath(`segments/${seg.id}/preview.png?at=start&v=${encodeURIComponent(seg.video.url)}`);
    img.alt = `Segment ${seg.number} clip`;
    $(".seg-image", li).classList.add("filled");
    $(".seg-image", li).title = `Clip ${seg.video.width}×${seg.video.height}, ${seg.video.duration.toFixed(1)} s at ${seg.video.fps} fps · drop to replace`;
  }
  if (seg.video) $(".seg-length", li).before(clipSummary(seg));
  const audio = $(".seg-audio", li);
  $(".audio-state", li).textContent = seg.audio ? `♪ ${seg.audio.duration.toFixed(1)} s` : "+ Recording";
  audio.classList.toggle("filled", Boolean(seg.audio));
  showNarration(li, seg);
  $(".seg-generate", li).addEventListener("click", (event) => { event.stopPropagation(); narrate(seg.id, li.dataset.narration); });
  const listen = $(".listen", li);
  listen.hidden = !seg.audio;
  listen.addEventListener("click", (event) => { event.stopPropagation(); playNarration(seg, listen); });
  $(".seg-length-fill", li).style.width = `${(100 * segDuration(seg)) / longest}%`;
  const text = $(".seg-text", li);
  text.value = seg.text;
  text.dataset.language = seg.language || "";
  text.lang = seg.language || textLanguage();
  text.addEventListener("input", () => fitText(text));
  text.addEventListener("paste", (event) => {
    if ((event.clipboardData?.getData("text/plain") || "").includes("\n")) setTimeout(() => offerSplit(seg.id, text));
  });
  if (!SIZED_BY_CSS) requestAnimationFrame(() => fitText(text));
  bindSegmentField(text, seg.id, "text", () => text.value);
  const chapter = $(".seg-chapter", li);
  chapter.value = seg.chapter || "";
  bindSegmentField(chapter, seg.id, "chapter", () => chapter.value.trim() || null);
  showMissing(li, seg);
  setupDrop(li, seg);
  $(".up", li).disabled = seg.number === 1;
  $(".down", li).disabled = seg.number === count;
  $(".up", li).addEventListener("click", (event) => { event.stopPropagation(); moveSegment(seg.id, -1); });
  $(".down", li).addEventListener("click", (event) => { event.stopPropagation(); moveSegment(seg.id, 1); });
  $(".remove", li).addEventListener("click", (event) => { event.stopPropagation(); removeSegment(seg); });
  li.addEventListener("click", () => select(seg.id));
  li.addEventListener("focusin", () => select(seg.id));
  li.addEventListener("keydown", (event) => {
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      moveSegment(seg.id, event.key === "ArrowUp" ? -1 : 1);
    } else if (event.target === li && (event.key === "Delete" || event.key === "Backspace")) {
      removeSegment(seg);
    }
  });
  setupReorder(li);
  return li;
}

// A segment's text shows whole: the box grows with it. Where the browser sizes a field to
// its content (CSS field-sizing), nothing is measured here: measuring forced a layout of the
// whole timeline on every keystroke, and one per row when a long project opened.
const SIZED_BY_CSS = CSS.supports("field-sizing", "content");
function fitText(text) {
  if (SIZED_BY_CSS) return;
  text.style.height = "auto";
  text.style.height = `${text.scrollHeight + 2}px`;
}

// Typing in one field, from focus until it is saved, is one step of undo.
const typingSessions = new Map();

// What a field showed when typing in it began: a save compares it with the latest version
// known, so a change made elsewhere meanwhile is never overwritten unseen.
const bases = new Map();
const asText = (value) => value ?? "";
const liveField = (segmentId, name) => document.querySelector(`#segment-${segmentId} .seg-${name}`);

function bindSegmentField(input, segmentId, name, value) {
  const key = `segment:${segmentId}:${name}`;
  const label = name === "chapter" ? "chapter" : "text";
  const run = () => serial(segmentKey(segmentId), async () => {
    const sent = value();
    const before = segmentById(segmentId)?.[name];
    const known = versions.get(segmentKey(segmentId));
    const seen = bases.has(key) ? bases.get(key) : known && known.data[name];
    const settle = (current) => settleField({
      what: `Segment ${current.number}'s ${label}`, mine: sent, theirs: current[name], seen,
      apply: (theirs) => {
        const field = liveField(segmentId, name) || input;
        field.value = asText(theirs);
        if (name === "text") fitText(field);
      },
    });
    // Already known to have changed elsewhere: ask before sending.
    let choice = known && !same(asText(known.data[name]), asText(seen)) ? await settle(known.data) : "send";
    const fresh = choice !== "send" ? null : await conditional(segmentKey(segmentId),
      (headers) => api("PATCH", projectPath(`segments/${segmentId}/`), { [name]: sent }, headers),
      (current) => settle(current).then((c) => { choice = c; return c; }));
    const shown = fresh || versions.get(segmentKey(segmentId)).data;
    const seg = segmentById(segmentId);
    if (seg) {
      Object.assign(seg, { text: shown.text, chapter: shown.chapter, narration: shown.narration,
                           missing: shown.missing, audio: shown.audio, seconds: shown.seconds });
      showSegmentFacts(seg);
    }
    if (fresh && before !== undefined && before !== shown[name]) {
      const what = name === "text" ? "text" : "chapter title";
      recordStep({ label: `the ${what} of segment ${shown.number}`, key: `${key}:${typingSessions.get(key)}`,
        undo: () => editSegment(segmentId, name, before), redo: () => editSegment(segmentId, name, shown[name]) });
    }
    // The other field shows what changed elsewhere unless it is being edited.
    const other = name === "text" ? "chapter" : "text";
    const otherField = liveField(segmentId, other);
    if (otherField && !isEditing(otherField) && otherField.value !== asText(shown[other])) {
      otherField.value = asText(shown[other]);
      if (other === "text") fitText(otherField);
    }
    const field = liveField(segmentId, name) || input;
    if (field.value === asText(shown[name])) { field.dataset.dirty = ""; bases.delete(key); }
    else bases.set(key, shown[name]);  // typed on meanwhile: what follows builds on this
    afterEdit(name === "chapter");
  });
  input.addEventListener("focus", () => { if (input.dataset.dirty !== "1") bases.set(key, input.value); });
  input.addEventListener("focus", () => { if (!state.pending.has(key)) typingSessions.set(key, (typingSessions.get(key) || 0) + 1); });
  input.addEventListener("input", () => {
    if (!bases.has(key)) bases.set(key, versions.get(segmentKey(segmentId))?.data[name]);
    input.dataset.dirty = "1";
    scrub.changed = segmentId;
    debounced(key, run);
  });
  input.addEventListener("blur", () => flush(key, run));
}

async function editSegment(segmentId, name, text) {
  const id = currentId(segmentId);
  const key = segmentKey(id);
  await save(() => serial(key, () => conditional(key,
    (headers) => api("PATCH", projectPath(`segments/${id}/`), { [name]: text }, headers),
    (current) => settleField({ what: `Segment ${current.number}'s ${name === "text" ? "text" : "chapter"}`,
      mine: text, theirs: current[name], apply: () => {} }))));
  const row = document.getElementById(`segment-${id}`);
  const field = row && $(name === "text" ? ".seg-text" : ".seg-chapter", row);
  if (field) field.dataset.dirty = "";  // what the studio now holds is shown, not older typing
  await reloadProject();
  afterEdit(name === "chapter");
}

// A story pasted into a segment can become segments, split as a text import splits it.
async function offerSplit(segmentId, field) {
  const parts = await api("POST", "/api/stories/split/", { text: field.value }).catch(() => []);
  if (parts.length < 2) return;
  const yes = await ask({ title: `Split into ${parts.length} segments?`, ok: `Split into ${parts.length}`,
    text: `The text holds ${parts.length} paragraphs. This segment can keep the first, and each of the others can become a new segment after it.` });
  if (!yes || !state.project) return;
  const key = `segment:${segmentId}:text`;
  clearTimeout(state.pending.get(key));  // the split saves the text itself
  state.pending.delete(key);
  field.dataset.dirty = "";
  try {
    await save(() => api("POST", projectPath(`segments/${segmentId}/split/`), { text: field.value }));
    await reloadProject();
    afterEdit(true);
    loadProjects().catch(() => {});
    toast(`Split into ${parts.length} segments`);
  } catch (err) {
    await reloadProject().catch(() => {});
  }
}

// A text or chapter edit changes the video to come: the notice and the frame follow.
let editTimer = null;
function afterEdit(chapters) {
  clearTimeout(editTimer);
  editTimer = setTimeout(async () => {
    if (!state.project) return;
    const fresh = await api("GET", projectPath()).catch(() => null);
    if (!fresh || fresh.id !== state.project.id) return;
    state.project.chapters = fresh.chapters;
    state.project.render = fresh.render;
    updateStatus(fresh.render);
    loadHistory();
    if (chapters) refreshSegmentPanel();
    showFrame();
  }, 400);
}

function renderOverview() {
  const strip = $("#overview");
  strip.replaceChildren();
  for (const seg of state.project.segment_list) {
    // A pointer's shortcut: on the keyboard, the timeline's rows are the way (not 100 tab stops).
    const block = el("button", { class: "ov-block", tabIndex: -1, title: `Segment ${seg.number} · ${fmtSeconds(segDuration(seg)) || "no narration yet"}`,
      onclick: () => { select(seg.id); document.getElementById(`segment-${seg.id}`)?.scrollIntoView({ block: "nearest" }); } });
    block.style.flexGrow = String(Math.max(0.6, segDuration(seg)));
    if (seg.image) block.style.backgroundImage = `url("${seg.image.thumbnail_url}")`;
    block.classList.toggle("selected", seg.id === state.selected);
    block.append(el("span", { textContent: seg.number }));
    strip.append(block);
  }
}

function select(segmentId) {
  if (state.selected === segmentId) return;
  state.selected = segmentId;
  $$(".segment").forEach((row) => row.classList.toggle("selected", Number(row.dataset.id) === segmentId));
  $$(".ov-block").forEach((block, i) => block.classList.toggle("selected", state.project.segment_list[i]?.id === segmentId));
  showStage("frame");
  hideScrubFrame();
  showFrame();
  refreshSegmentPanel();
}

let narration = null;
let narrationId = null;
function playNarration(seg, button) {
  const same = narration && narrationId === seg.id;
  if (narration) { narration.pause(); $$(".listen").forEach((b) => { b.textContent = "▶ Listen"; }); }
  narration = null;
  narrationId = null;
  if (same) return;
  narration = new Audio(seg.audio.url);
  narrationId = seg.id;
  button.textContent = "■ Stop";
  narration.addEventListener("ended", () => { button.textContent = "▶ Listen"; narration = null; narrationId = null; });
  narration.play().catch(() => { button.textContent = "▶ Listen"; });
}

// Drag a row by its handle (or anywhere) to move it; files dropped on a row are uploads.
// The order is sent when the drag ends: no drop event is to be relied on (Chromium fires none
// when the row moved under the pointer since the last dragover). Released outside the
// timeline, the saved order comes back.
let dragging = null;
let overTimeline = false;
function setupReorder(li) {
  li.addEventListener("dragstart", (event) => {
    if (event.target !== li) return;
    dragging = li;
    overTimeline = true;
    li.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", li.dataset.id);
  });
  li.addEventListener("dragend", () => {
    li.classList.remove("dragging");
    if (dragging !== li) return;
    dragging = null;
    if (!state.project) return;
    const order = $$("#timeline .segment").map((row) => Number(row.dataset.id));
    const saved = state.project.segment_list.map((s) => s.id);
    if (!overTimeline) renderTimeline();
    else if (order.join() !== saved.join()) reorder(order);
  });
  li.addEventListener("dragover", (event) => {
    if (!dragging || dragging === li) return;
    const after = event.offsetY > li.offsetHeight / 2;
    li.parentNode.insertBefore(dragging, after ? li.nextSibling : li);
  });
}

function setupTimelineDrop(list) {
  document.addEventListener("dragover", (event) => {
    if (!dragging) return;
    overTimeline = list.contains(event.target);
    if (overTimeline) event.preventDefault();
  });
  list.addEventListener("drop", (event) => { if (dragging) event.preventDefault(); });  // no text dropped into a field
}

// Resolves to whether the studio took the order; if not, the page shows the studio's order.
async function saveOrder(order) {
  const key = projectKey();
  try {
    const segments = await save(() => serial(key, () => conditional(key,
      (headers) => api("PUT", projectPath("segments/order/"), { order }, headers),
      async (current, seen) => {
        const before = seen ? seen.segment_list.map((s) => s.id) : [];
        if (same(current.segment_list.map((s) => s.id), before)) { showProjectFields(current); return "send"; }  // only its fields changed
        toast("The segments were changed in another window: here is the story as it is now. Move again if needed.", { kind: "error", seconds: 8 });
        return "theirs";
      })));
    if (segments) {
      versions.set(key, { etag: segments.etag, data: { ...state.project, segment_list: segments } });
      state.project.segment_list = segments;
      renderTimeline();
      afterEdit(true);
      return true;
    }
    await reloadProject();
    return false;
  } catch (err) {
    await reloadProject().catch(() => renderTimeline());
    return false;
  }
}

// A reorder made by the creator (not by undo): it can be undone.
async function reorder(order) {
  const before = state.project.segment_list.map((s) => s.id);
  if (await saveOrder(order)) {
    recordStep({ label: "a move", undo: must(() => saveOrder(arrange(before))), redo: must(() => saveOrder(arrange(order))) });
  }
}

function moveSegment(segmentId, step) {
  const order = state.project.segment_list.map((s) => s.id);
  const from = order.indexOf(segmentId);
  const to = from + step;
  if (to < 0 || to >= order.length) return;
  order.splice(to, 0, ...order.splice(from, 1));
  reorder(order).then(() => document.getElementById(`segment-${segmentId}`)?.focus());
}

function setupDrop(li, seg) {
  for (const zone of li.querySelectorAll(".dropzone")) {
    const input = $("input[type=file]", zone);
    zone.tabIndex = 0;
    zone.setAttribute("role", "button");
    zone.addEventListener("click", (event) => { event.stopPropagation(); input.click(); });
    zone.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
    });
    input.addEventListener("click", (event) => event.stopPropagation());
    input.addEventListener("change", () => {
      if (input.files.length) spreadUploads(seg, groupFiles(input.files, zone.dataset.kind));
      input.value = "";
    });
  }
  li.addEventListener("dragover", (event) => {
    if (dragging || !event.dataTransfer.types.includes("Files")) return;
    event.preventDefault();
    li.classList.add("drag");
  });
  li.addEventListener("dragleave", () => li.classList.remove("drag"));
  li.addEventListener("drop", (event) => {
    if (dragging || !event.dataTransfer.files.length) return;
    event.preventDefault();
    li.classList.remove("drag");
    const zone = event.target.closest(".dropzone");
    spreadUploads(seg, groupFiles(event.dataTransfer.files, zone && zone.dataset.kind));
  });
}

function groupFiles(files, fallback) {
  const groups = { image: [], audio: [], video: [] };
  for (const file of files) {
    const kind = ["image", "audio", "video"].find((k) => file.type.startsWith(`${k}/`)) || fallback || "image";
    groups[kind].push(file);
  }
  return groups;
}

// Several files dropped on one segment fill it and the segments after it, in file-name order;
// files beyond the last segment get new segments.
async function spreadUploads(seg, groups) {
  const count = Math.max(groups.image.length, groups.audio.length, groups.video.length);
  const ids = state.project.segment_list.map((s) => s.id);
  const start = ids.indexOf(seg.id);
  try {
    while (ids.length < start + count) {
      const added = await api("POST", projectPath("segments/"), { text: "" });
      ids.push(added.id);
    }
  } catch (err) {
    showError(err);
    return;
  }
  let done = 0;
  for (const kind of ["image", "video", "audio"]) {
    const files = groups[kind].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
    for (const [i, file] of files.entries()) done += (await upload(ids[start + i], kind, file)) ? 1 : 0;
  }
  await reloadProject().catch(showError);
  loadProjects().catch(() => {});
  if (done > 1) toast(`${done} files added`);
}

// A recording replaces a segment's narration (the voice's or an earlier recording) only
// once the creator said so; the studio refuses it otherwise (409).
function askReplaceNarration(seg) {
  const spoken = seg && (seg.narration === "generated" || seg.narration === "outdated");
  return ask({
    title: "Replace the narration?",
    text: `${seg ? `Segment ${seg.number}` : "This segment"} already has ${spoken ? "a narration spoken by the voice" : "a recording"}. The new recording will take its place.`,
    ok: "Replace", danger: true,
  });
}

async function upload(segmentId, kind, file) {
  const seg = segmentById(segmentId);
  let replace = false;
  if (kind === "audio" && seg && seg.audio) {
    if (!(await askReplaceNarration(seg))) return false;
    replace = true;
  }
  const zone = document.querySelector(`#segment-${segmentId} .dropzone[data-kind=${kind}]`);
  if (zone) zone.classList.add("busy");
  const form = new FormData();
  form.append("file", file);
  const progress = (done) => { if (zone) zone.dataset.progress = done < 1 ? `${Math.floor(done * 100)} %` : "Checking…"; };
  const before = state.saveError;
  const key = segmentKey(segmentId);
  const what = kind === "image" ? "picture" : kind === "video" ? "clip" : "recording";
  let declined = false;
  const send = (sure, headers) => sendForm(projectPath(`segments/${segmentId}/${kind}/${sure ? "?replace=true" : ""}`), form, progress, headers)
    .then((answer) => tagged(answer.segment, answer.etag));
  const sendOnce = (headers) => send(replace, headers).catch(async (err) => {
    // A narration arrived since the page was drawn: ask now.
    if (kind !== "audio" || replace || err.status !== 409 || !err.message.includes("confirm")) throw err;
    if (!(await askReplaceNarration(segmentById(segmentId)))) { declined = true; return null; }
    replace = true;
    return send(true, headers);
  });
  try {
    const done = await save(() => serial(key, () => conditional(key, sendOnce,
      async (current, seen) => {
        const media = (m) => m && { ...m, url: undefined, thumbnail_url: undefined };
        if (seen && same(media(current[kind]), media(seen[kind]))) return "send";  // only its text changed
        const sure = await ask({ title: `Segment ${current.number} was changed in another window`, text: `Its ${what} changed there too. Put yours in its place?`, ok: `Use my ${what}` });
        return sure ? "send" : "theirs";
      })));
    return Boolean(done) && !declined;
  } catch (err) {
    // A refused file is said in its message; nothing the creator made is left unsaved.
    state.saveError = before;
    setSaveState();
    return false;
  } finally {
    if (zone) { zone.classList.remove("busy"); delete zone.dataset.progress; }
  }
}

// A deleted segment is gone from the studio at once (the next video is what the page shows);
// what it held is kept here, so undo can put it back as a new segment in the same place.
async function removeSegment(seg) {
  const row = document.getElementById(`segment-${seg.id}`);
  const rows = $$("#timeline .segment");
  const next = rows[rows.indexOf(row) + 1] || rows[rows.indexOf(row) - 1];
  if (row) row.hidden = true;
  let kept;
  try {
    kept = await keepSegment(seg);
  } catch (err) {
    if (row) row.hidden = false;
    showError(err);
    return;
  }
  try {
    if (!(await sendDelete(seg.id))) {  // kept, as it is now in the other window
      if (row) row.hidden = false;
      await reloadProject();
      return;
    }
    if (state.selected === seg.id) state.selected = next ? Number(next.dataset.id) : null;
    recordStep({ label: `the deletion of segment ${seg.number}`, deleted: seg.number,
      undo: () => restoreSegment(kept), redo: () => deleteSegment(kept.id) });
    await reloadProject();  // the timeline shows where it was, with Undo
    (document.getElementById(next?.id) || $("#add-segment")).focus();
    afterEdit(true);
    loadProjects().catch(() => {});
  } catch (err) {
    if (row) row.hidden = false;
    await reloadProject().catch(() => {});
  }
}

// Resolves to whether the segment was deleted (not when, changed in another window, it is kept).
async function sendDelete(segmentId) {
  const key = segmentKey(segmentId);
  return Boolean(await save(() => serial(key, () => conditional(key,
    (headers) => api("DELETE", projectPath(`segments/${segmentId}/`), undefined, headers),
    async (current) => (await ask({ title: `Segment ${current.number} was changed in another window`, text: `It now reads: “${current.text.slice(0, 200)}”. Delete it anyway?`, ok: "Delete", danger: true })) ? "send" : "theirs"))));
}

// What a segment holds, its media as files (a generated narration is spoken again instead).
async function keepSegment(seg) {
  const file = async (media, name) => {
    if (!media) return null;
    const response = await fetch(media.url);
    if (!response.ok) throw new ApiError(`The ${name} of segment ${seg.number} could not be read.`, response.status);
    return new File([await response.blob()], name, { type: response.headers.get("Content-Type") || "" });
  };
  const recorded = seg.narration === "recorded";
  return { id: seg.id, number: seg.number, text: seg.text, chapter: seg.chapter, image_prompt: seg.image_prompt,
    title: seg.title ?? null, clip: seg.clip ?? null, image: await file(seg.image, "picture"),
    video: await file(seg.video, "clip"), audio: recorded ? await file(seg.audio, "recording") : null };
}

async function restoreSegment(kept) {
  const body = { text: kept.text, chapter: kept.chapter, image_prompt: kept.image_prompt, title: kept.title, position: kept.number };
  const seg = await save(() => api("POST", projectPath("segments/"), body));
  undoLog.ids.set(kept.id, seg.id);
  for (const kind of ["image", "video", "audio"]) {
    if (!kept[kind]) continue;
    const form = new FormData();
    form.append("file", kept[kind]);
    await save(() => api("POST", projectPath(`segments/${seg.id}/${kind}/`), form));
  }
  if (kept.video && kept.clip) await save(() => api("PATCH", projectPath(`segments/${seg.id}/`), { clip: kept.clip }));
  state.selected = seg.id;
  await reloadProject();
  document.getElementById(`segment-${seg.id}`)?.focus();
}

async function deleteSegment(segmentId) {
  const deleted = await sendDelete(currentId(segmentId));
  await reloadProject();
  if (!deleted) throw new ApiError("The segment was kept.", 412);
}

async function addSegment() {
  try {
    const key = projectKey();
    const seg = await save(() => serial(key, () => api("POST", projectPath("segments/"), { text: "" }, ifMatch(key))
      .catch((err) => { if (err.status !== 412) throw err; return api("POST", projectPath("segments/"), { text: "" }); })));
    state.selected = seg.id;
    await reloadProject();
    document.querySelector(`#segment-${seg.id} .seg-text`)?.focus();
  } catch (err) { /* reported by save() */ }
}

// ---------------------------------------------------------------- undo

// One history per project. Each step undoes and redoes itself with the same requests as any
// edit, so the studio always holds what the page shows. Ctrl+Z / Ctrl+Shift+Z (Cmd on macOS)
// work outside text fields; inside one, the browser's own undo applies to the typing.
const undoLog = { project: null, done: [], undone: [], ids: new Map(), queue: Promise.resolve() };

function recordStep(step) {
  if (!state.project || undoLog.project !== state.project.id) return;
  const last = undoLog.done.at(-1);
  // The same typing going on is one step, from the text before it to the last one saved.
  if (step.key && last && last.key === step.key) last.redo = step.redo;
  else undoLog.done.push(step);
  undoLog.undone = [];
  showUndo();
}

// Each project keeps its own history while the page is open.
const undoLogs = new Map();
function switchUndo(projectId) {
  if (undoLog.project !== null) undoLogs.set(undoLog.project, { done: undoLog.done, undone: undoLog.undone, ids: undoLog.ids });
  const kept = undoLogs.get(projectId) || { done: [], undone: [], ids: new Map() };
  Object.assign(undoLog, kept, { project: projectId });
  showUndo();
}

// A segment brought back by undo has a new id: steps made before still find it.
function currentId(segmentId) {
  let id = segmentId;
  for (let hops = 0; undoLog.ids.has(id) && hops < 1000; hops += 1) id = undoLog.ids.get(id);
  return id;
}

// An order saved earlier, applied to the segments there are now (others keep their place after).
function arrange(order) {
  const now = state.project.segment_list.map((s) => s.id);
  const wanted = order.map(currentId).filter((id) => now.includes(id));
  return [...wanted, ...now.filter((id) => !wanted.includes(id))];
}

// A step whose request resolves to false (refused, and reported) fails as a step.
const must = (run) => async () => {
  if (!(await run())) throw new ApiError("The change was not saved.", 0);
};

function undo() { return travel("done", "undone", "undo", "Undone"); }
function redo() { return travel("undone", "done", "redo", "Redone"); }

// Steps run one after another; the lists are looked up when a step's turn comes.
function travel(fromList, toList, direction, word) {
  const project = undoLog.project;
  undoLog.queue = undoLog.queue.then(async () => {
    if (!state.project || undoLog.project !== state.project.id || project !== undoLog.project) return;
    const step = undoLog[fromList].pop();
    if (!step) return;
    try {
      await step[direction]();
      undoLog[toList].push(step);
      toast(`${word}: ${step.label}`);
    } catch (err) {
      undoLog[fromList].push(step);  // still there to try again; the studio's refusal was shown by save()
      if (!(err instanceof ApiError)) showError(err);
      await reloadProject().catch(() => {});
    }
    showUndo();
  });
  return undoLog.queue;
}

function showUndo() {
  const last = undoLog.done.at(-1), next = undoLog.undone.at(-1);
  const mac = /Mac|iPhone|iPad/.test(navigator.platform);
  $("#undo").disabled = !last;
  $("#undo").title = last ? `Undo ${last.label} (${mac ? "⌘Z" : "Ctrl+Z"})` : "Nothing to undo";
  $("#redo").disabled = !next;
  $("#redo").title = next ? `Redo ${next.label} (${mac ? "⇧⌘Z" : "Ctrl+Shift+Z"})` : "Nothing to redo";
}

const TEXT_TYPES = new Set(["text", "search", "url", "email", "tel", "password", "number"]);
const isTextField = (node) => Boolean(node && (node.tagName === "TEXTAREA" || node.isContentEditable ||
  (node.tagName === "INPUT" && TEXT_TYPES.has(node.type))));

function undoKeys(event) {
  if (!(event.ctrlKey || event.metaKey) || event.altKey || !state.project) return;
  if (isTextField(event.target) || document.querySelector("dialog[open]")) return;
  const key = event.key.toLowerCase();
  if (key === "z" && !event.shiftKey) { event.preventDefault(); undo(); }
  else if ((key === "z" && event.shiftKey) || (key === "y" && !event.metaKey)) { event.preventDefault(); redo(); }
}

// The row of a segment just deleted: where it was, and the way to bring it back.
function deletedRow() {
  const step = undoLog.done.at(-1);
  if (!step || !step.deleted || undoLog.project !== state.project.id) return null;
  const undoButton = el("button", { class: "link", textContent: "Undo", onclick: () => undo() });
  return el("li", { class: "deleted muted small" }, el("span", { textContent: `Segment ${step.deleted} deleted.` }), undoButton);
}

// ---------------------------------------------------------------- voice and narration

function showNarration(li, seg) {
  const [words, action] = state.words.narration[seg.narration] || ["", ""];
  li.dataset.narration = seg.narration;
  const label = $(".seg-narration", li);
  label.textContent = seg.narration === "recorded" || seg.narration === "missing" ? "" : words;
  label.classList.toggle("warn", seg.narration === "outdated" || seg.narration === "changed");
  const button = $(".seg-generate", li);
  button.hidden = !action || !seg.text.trim();
  button.textContent = action;
}

function voicePanel() {
  const box = el("div", { class: "voice-box" });
  const select = el("select", { id: "voice-name" });
  const speed = schemaAt("settings.voice.speed");
  const range = el("input", { type: "range", id: "voice-speed", step: "0.05", min: speed.minimum ?? 0.5, max: speed.maximum ?? 2 });
  const shown = el("span", { class: "unit", id: "voice-speed-value" });
  const listenButton = el("button", { type: "button", class: "secondary small-button", textContent: "▶ Listen", onclick: listenVoice });
  const all = el("button", { type: "button", id: "narrate-all", class: "primary", textContent: "Generate narration", onclick: () => narrate(null, null) });
  box.append(
    fieldRow({ path: "voice", label: "Voice", help: "Who reads segments that have no recording of their own.", unit: "" }, select),
    fieldRow({ path: "speed", label: "Speed", help: "1 is the voice's natural pace.", unit: "" }, range),
    el("div", { class: "voice-actions" }, listenButton, all,
      el("p", { class: "help", textContent: "Speaks every segment whose narration is missing or out of date; your own recordings stay." })));
  range.closest(".control").append(shown);
  const fill = () => {
    const voice = (state.project.options.settings || {}).voice || {};
    const value = `${voice.engine || "hibari"}:${voice.voice || "heart"}`;
    if ([...select.options].some((o) => o.value === value)) select.value = value;
    if (!isEditing(range)) range.value = voice.speed ?? 1;
    shown.textContent = `${Number(range.value).toFixed(2)}×`;
  };
  select.fillVoice = fill;
  fillVoiceList(select);
  range.addEventListener("input", () => { range.dataset.dirty = "1"; shown.textContent = `${Number(range.value).toFixed(2)}×`; });
  range.addEventListener("change", () => { range.dataset.dirty = ""; saveVoice(); });
  select.addEventListener("change", saveVoice);
  $("#narrate-all", box)?.toggleAttribute("disabled", isBusy());
  return box;
}

// The voices that speak the project's language come first (the server says which), the
// fallback voice among them last; the others are grouped by engine.
function fillVoiceList(select) {
  const language = textLanguage();
  select.dataset.language = language;
  api("GET", `/api/voices/?${new URLSearchParams({ language })}`).then((engines) => {
    if (select.dataset.language !== language) return;  // the language changed meanwhile
    const speaking = el("optgroup", { label: `Speak the project's language (${language})` });
    const others = [];
    for (const engine of engines) {
      const rest = el("optgroup", { label: `Other languages: ${engine.name}${engine.fallback ? " (fallback voice)" : ""}` });
      for (const voice of engine.ready ? engine.voices : []) {
        if (!voice.available) continue;
        const extra = [engine.name, voice.language, voice.description].filter(Boolean).join(", ");
        (voice.speaks ? speaking : rest).append(new Option(`${voice.name} (${extra})`, `${engine.name}:${voice.name}`));
      }
      if (rest.children.length) others.push(rest);
    }
    select.replaceChildren(...(speaking.children.length ? [speaking] : []), ...others);
    select.fillVoice();
  }).catch(showError);
}

function chosenVoice() {
  const [engine, voice] = ($("#voice-name").value || "hibari:heart").split(":");
  return { engine, voice, speed: Number($("#voice-speed").value) };
}

async function saveVoice() {
  await changeOptions({ settings: { voice: chosenVoice() } });
  await reloadProject().catch(() => {});
}

function listenVoice() {
  const { engine, voice, speed } = chosenVoice();
  const player = $("#voice-sample");
  player.src = `/api/voices/sample/?${new URLSearchParams({ engine, voice, speed })}`;
  player.play().catch(() => toast("The sample could not be played.", { kind: "error" }));
}

async function narrate(segmentId, narrationState) {
  const body = segmentId ? { segment_id: segmentId } : {};
  if (narrationState === "recorded" || narrationState === "changed") {
    const sure = await ask({ title: "Replace your recording?", text: "The voice will read this segment's text instead of your uploaded recording.", ok: "Replace", danger: true });
    if (!sure) return;
    body.replace = true;
  }
  try {
    const accepted = await api("POST", projectPath("narrate/"), body);
    const kept = accepted.kept.length;
    const count = accepted.segments.length;
    toast(`Generating narration for ${count} segment${count === 1 ? "" : "s"}` +
          (kept ? `; ${kept} with your own recording left as they are` : ""));
  } catch (err) {
    showError(err);
  }
}

const isBusy = () => Boolean(state.lastStatus && (state.lastStatus.status === "queued" || state.lastStatus.status === "processing"));

// ---------------------------------------------------------------- stage: framing and video

function showStage(which) {
  selectTab($(".stage-tabs"), (tab) => tab.dataset.stage === which);
  $("#stage-frame").hidden = which !== "frame";
  $("#stage-video").hidden = which !== "video";
  if (which !== "video") $("#video").pause();
}

let frameCount = 0;
let frameKey = "";
function showFrame() {
  if (scrubFrameShown()) { refreshFrameGrid(true); return; }  // the scrubber's moment, redrawn
  refreshFrameGrid(false);
  drawFocus();
  const seg = state.selected && segmentById(state.selected);
  const start = $("#frame-start"), end = $("#frame-end");
  const ready = Boolean(seg && (seg.image || seg.video || seg.title));
  $("#frame-empty").hidden = ready;
  $("#frame-empty").textContent = seg ? `Segment ${seg.number} has no picture yet: drop one on it to see how the video will frame it.`
    : "Select a segment to see how the video will frame its picture.";
  $("#frame-caption").textContent = seg ? `Segment ${seg.number}${ready ? ": as the video frames it, with its caption" : ""}` : "";
  const platforms = ready ? chosenPlatforms() : [];
  const focusing = Boolean(state.focusView && focusSegment());  // the whole picture, one screen
  $("#frame-screen").hidden = platforms.length > 0 && !focusing;
  $("#frame-platforms").hidden = !platforms.length || focusing;
  $("#safe-toggle").hidden = !platforms.length;
  if (!ready) { start.hidden = end.hidden = true; frameKey = ""; return; }
  // Draw again only when something the frame shows has changed.
  const key = JSON.stringify([seg.id, seg.image && seg.image.url, seg.video && seg.video.url,
    seg.clip, seg.title, seg.text, seg.focus, state.project.options]);
  if (key === frameKey) return;
  frameKey = key;
  frameCount += 1;
  if (platforms.length) { showPlatformFrames(seg, platforms); return; }
  const base = projectPath(`segments/${seg.id}/preview.png?v=${frameCount}&at=`);
  start.src = `${base}start`;
  end.src = `${base}end`;
  start.hidden = state.frameEnd;
  end.hidden = !state.frameEnd;
}

// ---------------------------------------------------------------- stage: a picture's focus

// The whole picture, its focus marked; a click there sets the point every crop keeps.
function showFocus(on) {
  state.focusView = on;
  $("#show-focus").classList.toggle("active", on);
  $("#show-start").classList.toggle("active", !on && !state.frameEnd);
  $("#show-end").classList.toggle("active", !on && state.frameEnd);
  showFrame();
}

function focusSegment() {
  const seg = state.selected && segmentById(state.selected);
  return seg && (seg.image || seg.video) ? seg : null;
}

// The whole picture the focus is chosen on: the still, or the trimmed clip's first frame
// (where the render looks for one).
function focusPictureUrl(seg) {
  if (seg.image) return seg.image.url;
  const version = encodeURIComponent(JSON.stringify([seg.video.url, seg.clip?.start ?? 0]));
  return projectPath(`segments/${seg.id}/clip-frame.png?v=${version}`);
}

function drawFocus() {
  const seg = focusSegment();
  const on = Boolean(state.focusView && seg);
  $("#focus-view").hidden = $("#focus-picture").hidden = !on;  // no picture without a view
  $("#show-focus").hidden = !seg;
  $("#focus-note").hidden = $("#focus-auto").hidden = !on;
  if (!on) return;
  const picture = $("#focus-picture");
  const url = focusPictureUrl(seg);
  if (picture.dataset.url !== url) { picture.dataset.url = url; picture.src = url; }
  $("#focus-auto").hidden = !seg.focus;
  $("#focus-note").textContent = seg.focus
    ? `Focus of segment ${seg.number}: ${Math.round(seg.focus[0] * 100)} % across, ${Math.round(seg.focus[1] * 100)} % down.`
    : `Segment ${seg.number}: the focus is found by the render (faces, else what stands out, else the centre${seg.video ? ", on the clip's first frame" : ""}). Click the picture to choose it.`;
  placeFocusMarker();
}

// Where the picture is drawn inside its box (it keeps its shape: bars beside or above it).
function pictureBox(img) {
  const scale = Math.min(img.clientWidth / img.naturalWidth, img.clientHeight / img.naturalHeight);
  const width = img.naturalWidth * scale, height = img.naturalHeight * scale;
  return { left: (img.clientWidth - width) / 2, top: (img.clientHeight - height) / 2, width, height };
}

function placeFocusMarker() {
  const seg = focusSegment(), img = $("#focus-picture"), marker = $("#focus-marker");
  marker.hidden = !(seg && seg.focus && img.naturalWidth);
  if (marker.hidden) return;
  const box = pictureBox(img);
  marker.style.left = `${box.left + seg.focus[0] * box.width}px`;
  marker.style.top = `${box.top + seg.focus[1] * box.height}px`;
}

function focusClick(event) {
  const seg = focusSegment(), img = $("#focus-picture");
  if (!seg || !img.naturalWidth) return;
  const box = pictureBox(img);
  const share = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;
  const point = [share((event.offsetX - box.left) / box.width), share((event.offsetY - box.top) / box.height)];
  setSegmentValue(seg.id, "focus", point, "focus").catch(showError);
}

// The platforms a render makes a video for, each (settings.platforms), or none.
function chosenPlatforms() {
  const list = getPath(state.project.options, "settings.platforms");
  return Array.isArray(list) ? list : [];
}

// The segment's frame as each platform's video draws it, side by side at one height, each
// with its safe area (drawn on request): the engine's preview at that platform's shape.
function showPlatformFrames(seg, platforms) {
  $("#frame-platforms").replaceChildren(...platformFigures(platforms, (name, label) => {
    const base = projectPath(`segments/${seg.id}/preview.png?v=${frameCount}&platform=${encodeURIComponent(name)}&at=`);
    return ["start", "end"].map((at) => {
      const img = el("img", { src: `${base}${at}`, alt: `${at === "start" ? "First" : "Last"} frame of segment ${seg.number} on ${label}`, dataset: { at } });
      img.hidden = (at === "end") !== state.frameEnd;
      return img;
    });
  }));
}

// One figure per platform, side by side at one height, each with its safe area around the
// pictures ``pictures(name, label)`` gives.
function platformFigures(platforms, pictures) {
  const shapes = state.words.platforms || {};
  const words = state.words.choices["settings.platforms"] || {};
  const own = getPath(state.project.options, "settings.safe_area");
  const aspects = platforms.map((name) => (shapes[name] ? shapes[name].width / shapes[name].height : 1));
  const room = Math.max(120, ($("#stage-frame").clientWidth || 360) - 8 * platforms.length);
  const height = Math.floor(Math.min(window.innerHeight * 0.3, room / aspects.reduce((a, b) => a + b, 0)));
  const pct = (share) => `${(100 * share).toFixed(2)}%`;
  const figures = platforms.map((name, i) => {
    const label = words[name] || name;
    const safe = own ? [own.left, own.top, own.right, own.bottom] : (shapes[name] || {}).safe || [0, 0, 0, 0];
    const frames = pictures(name, label);
    for (const img of frames) {
      img.addEventListener("error", () => img.classList.add("broken"));
      img.addEventListener("load", () => img.classList.remove("broken"));
    }
    const area = el("div", { class: "safe-area", title: `${label}: captions and logo stay inside` });
    Object.assign(area.style, { left: pct(safe[0]), top: pct(safe[1]), right: pct(safe[2]), bottom: pct(safe[3]) });
    const shape = el("div", { class: "platform-shape" }, ...frames, area);
    const width = `${Math.floor(height * aspects[i])}px`;
    Object.assign(shape.style, { height: `${height}px`, width });
    const figure = el("figure", { class: "platform-frame", dataset: { platform: name } }, shape,
      el("figcaption", { class: "small muted", textContent: label }));
    figure.style.width = width;  // a long name wraps under its frame rather than widening it
    return figure;
  });
  return figures;
}

function setFrameEnd(end) {
  hideScrubFrame();
  if (state.focusView) showFocus(false);
  $$("#frame-platforms img").forEach((img) => { img.hidden = (img.dataset.at === "end") !== end; });
  state.frameEnd = end;
  $("#show-start").classList.toggle("active", !end);
  $("#show-end").classList.toggle("active", end);
  $("#frame-start").hidden = end;
  $("#frame-end").hidden = !end;
}

function showVideo(video) {
  const player = $("#video");
  $("#video-empty").hidden = Boolean(video);
  player.hidden = !video;
  const info = $("#video-info");
  info.replaceChildren();
  if (!video) { state.videoJob = null; player.removeAttribute("src"); return; }
  if (state.videoJob !== video.video_url) {
    state.videoJob = video.video_url;  // one render for several platforms makes several videos
    player.replaceChildren();
    player.src = video.video_url;
    if (video.poster_url) player.poster = video.poster_url;
    if (video.vtt_url) player.append(el("track", { kind: "captions", label: "Captions", srclang: "en", src: video.vtt_url }));
  }
  info.append(el("span", { class: `tag ${video.draft ? "draft" : "final"}`, textContent: video.draft ? "Draft" : "Final" }),
    video.platform ? el("span", { class: "tag platform", textContent: platformWords(video.platform) }) : "",
    el("span", { textContent: `${video.width}×${video.height} · ${fmtSeconds(video.duration)} · ${fmtSize(video.size)} · ${fmtWhen(video.finished_at)}` }));
  if (video.stale) info.append(el("span", { class: "stale", textContent: "The project changed after this video was made." }));
  const links = el("div", { class: "links" },
    el("a", { class: "button primary", href: video.download_url, textContent: "Download MP4", download: "" }));
  if (video.captions_url) links.append(el("a", { class: "button ghost", href: video.captions_url, textContent: "Captions (.srt)", download: "" }));
  if (video.chapters_url) links.append(el("a", { class: "button ghost", href: video.chapters_url, textContent: "YouTube chapters", download: "" }));
  if (video.thumbnail_url) links.append(el("a", { class: "button ghost", href: video.thumbnail_url, textContent: "Thumbnail", download: "" }));
  info.append(links);
}

// ---------------------------------------------------------------- stage: scrubber

// A slider across the whole video under the stage. The frame under it is drawn by the engine
// (frame.jpg?t=): one request at a time, and when it is back the latest position is asked
// for next, so a fast drag never queues stale frames.
const scrub = { grid: null, busy: false, wanted: null, changed: null, timer: null, project: null };

const gridFps = () => { const [n, d = "1"] = scrub.grid.fps.split("/"); return Number(n) / Number(d); };
const scrubFrameShown = () => !$("#frame-at").hidden || !$("#frame-at-platforms").hidden;

function fmtClock(seconds) {
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${(seconds - 60 * minutes).toFixed(2).padStart(5, "0")}`;
}

async function loadFrameGrid() {
  const id = state.project && state.project.id;
  if (!id) return null;
  const grid = await api("GET", projectPath("frames/")).catch(() => null);
  if (!grid || !state.project || state.project.id !== id) return null;  // another project opened meanwhile
  const slider = $("#scrub");
  if (scrub.project !== id) { slider.value = "0"; scrub.project = id; }
  scrub.grid = grid;
  updateMeta();
  $("#scrubber").hidden = !state.project.segment_list.length;
  slider.max = String(Math.max(0, grid.frames - 1));
  showScrubTime();
  return grid;
}

// The video's length changes with edits: read it again once they settle (and redraw the moment).
function refreshFrameGrid(redraw) {
  clearTimeout(scrub.timer);
  scrub.timer = setTimeout(async () => {
    await loadFrameGrid();
    if (redraw && scrubFrameShown()) scrubTo(Number($("#scrub").value));
  }, scrub.grid ? 300 : 0);
}

function showScrubTime() {
  if (!scrub.grid) return;
  const slider = $("#scrub");
  const frame = Number(slider.value);
  const text = `${fmtClock(frame / gridFps())} / ${fmtClock(scrub.grid.seconds)}`;
  $("#scrub-time").textContent = text;
  slider.setAttribute("aria-valuetext", `${text}, frame ${frame + 1} of ${scrub.grid.frames}`);
}

function scrubTo(frame) {
  if (!scrub.grid) return;
  scrub.wanted = frame;
  showScrubTime();
  showStage("frame");
  if (!scrub.busy) drawScrubFrames();
}

// Resolves to whether ``img`` loaded ``src``.
function loadInto(img, src) {
  const settled = new AbortController();
  const loaded = new Promise((done) => {
    img.addEventListener("load", () => done(true), { signal: settled.signal });
    img.addEventListener("error", () => done(false), { signal: settled.signal });
  });
  img.src = src;
  return loaded.finally(() => settled.abort());
}

// The scrubber's moment in each platform's video of a render for several: their figures,
// made again only when the platforms change.
function scrubPlatformImages(platforms) {
  const row = $("#frame-at-platforms");
  if (row.dataset.platforms !== platforms.join(",")) {
    row.replaceChildren(...platformFigures(platforms, (name, label) => [
      el("img", { alt: `The ${label} video at the scrubber's time`, dataset: { platform: name } })]));
    row.dataset.platforms = platforms.join(",");
  }
  return [...row.querySelectorAll("img")];
}

async function drawScrubFrames() {
  const project = state.project.id;
  scrub.busy = true;
  try {
    while (scrub.wanted !== null && state.project?.id === project && scrub.grid) {
      const frame = scrub.wanted;
      scrub.wanted = null;
      const t = (frame / gridFps()).toFixed(6);
      const platforms = chosenPlatforms();
      const images = platforms.length ? scrubPlatformImages(platforms) : [$("#frame-at")];
      const loads = images.map((img) => loadInto(img, projectPath(
        `frame.jpg?t=${t}${img.dataset.platform ? `&platform=${encodeURIComponent(img.dataset.platform)}` : ""}`)));
      const ok = (await Promise.all(loads)).every(Boolean);
      if (ok && state.project?.id === project) showScrubFrame(frame, t, platforms.length > 0);
    }
  } finally {
    scrub.busy = false;
  }
}

function showScrubFrame(frame, t, platforms) {
  const shown = platforms ? $("#frame-at-platforms") : $("#frame-at");
  shown.dataset.frame = String(frame);
  shown.dataset.t = t;
  $("#frame-at").hidden = platforms;
  $("#frame-at-platforms").hidden = !platforms;
  $("#frame-start").hidden = $("#frame-end").hidden = true;
  $("#frame-empty").hidden = true;
  // The moment of the video (of each platform's video), in place of the segment's frames.
  $("#frame-screen").hidden = platforms;
  $("#frame-platforms").hidden = true;
  $("#safe-toggle").hidden = !platforms;
  $("#frame-caption").textContent = platforms
    ? `Each video at ${fmtClock(Number(t))}, as the next render will draw it`
    : `The video at ${fmtClock(Number(t))}, as the next render will draw it`;
}

function hideScrubFrame() {
  if (!scrubFrameShown()) return;
  $("#frame-at").hidden = $("#frame-at-platforms").hidden = true;
  frameKey = "";  // the segment's frames are shown again
}

function setupScrubber() {
  const slider = $("#scrub");
  slider.addEventListener("input", () => scrubTo(Number(slider.value)));
  slider.addEventListener("keydown", (event) => {
    // Arrows step a frame (the slider's own step); with Shift, or Page Up/Down, a second.
    const second = Math.max(1, Math.round(scrub.grid ? gridFps() : 1));
    const page = { PageUp: 1, PageDown: -1 }[event.key];
    const arrow = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[event.key];
    const step = page ?? (event.shiftKey && arrow ? arrow : 0);
    if (!step) return;
    event.preventDefault();
    slider.value = String(Math.min(Number(slider.max), Math.max(0, Number(slider.value) + step * second)));
    scrubTo(Number(slider.value));
  });
}

// After an edit, a finished draft plays from the start of the segment that changed (where the
// draft starts it: a draft counts each segment's frames on its own).
async function playFromChange() {
  const changed = scrub.changed;
  if (changed === null) return;
  scrub.changed = null;
  const grid = await loadFrameGrid();
  const start = grid && grid.segments.find((seg) => seg.id === changed);
  if (!start) return;
  const player = $("#video");
  const play = () => { player.currentTime = start.draft_seconds; player.play().catch(() => {}); };
  if (player.readyState >= 1) play();
  else player.addEventListener("loadedmetadata", play, { once: true });
}

// ---------------------------------------------------------------- render status

function listen(projectId) {
  if (state.events) state.events.close();
  const source = new EventSource(`/api/projects/${projectId}/events/`);
  source.addEventListener("status", (event) => {
    if (!state.project || state.project.id !== projectId) return;
    const status = JSON.parse(event.data);
    const previous = state.lastStatus;
    updateStatus(status);
    if (!previous || previous.status !== status.status || previous.job_id !== status.job_id) {
      loadProjects().catch(() => {});
      loadHistory();
    }
  });
  source.addEventListener("deleted", () => { source.close(); location.hash = ""; loadProjects().catch(() => {}); });
  state.events = source;
}

function updateStatus(s) {
  const before = state.lastStatus;
  state.lastStatus = s;
  const running = s.status === "queued" || s.status === "processing";
  if (before && s.job_id && !running && (before.job_id !== s.job_id || before.status !== s.status)) {
    reloadProject().catch(() => {});  // a job ended: show the narrations it made, and their lengths
  }
  $("#narrate-all")?.toggleAttribute("disabled", running);
  $("#narrate-missing").disabled = running;
  $("#render-draft").disabled = running;
  $("#render-final").disabled = running;
  $("#cancel").hidden = !running;
  $("#cancel").disabled = s.cancelling;
  $("#progress").hidden = !running;
  const percent = Math.max(0, Math.min(100, s.percent || 0));
  $("#progress-fill").style.width = `${percent}%`;
  $(".bar").setAttribute("aria-valuenow", String(Math.round(percent)));
  $("#progress-percent").textContent = `${Math.floor(percent)} %`;
  const kind = s.kind === "narrate" ? "Narration" : (s.draft ? "Draft" : "Video");
  $("#progress-phase").textContent = `${kind}: ${s.cancelling ? stateWords("cancelling") : (s.status === "queued" ? stateWords("queued") : s.phase_words)}`;
  const parts = [];
  // What the engine says it is doing ("Encoding 1 of 7 parts (6 reused)"), as the CLI shows it.
  if (running && s.detail) parts.push(s.detail);
  if (running && s.eta != null && s.phase === "export") parts.push(`about ${fmtSeconds(s.eta)} left`);
  $("#progress-detail").textContent = parts.join(" · ");
  const badge = $(`.project-item[data-id="${s.project_id}"] .badge`);
  if (badge) { badge.className = `badge ${s.status}`; badge.textContent = badgeText(s.status, s.percent); }
  renderNote(s);
  showVideo(s.video);
  const finishedNow = s.kind !== "narrate" && before && before.job_id === s.job_id && before.status !== "completed" && s.status === "completed";
  if (finishedNow) showStage("video");
  if (finishedNow && s.draft) playFromChange();
}

function renderNote(s) {
  const box = $("#render-note");
  box.replaceChildren();
  box.className = "note";
  const bad = s.status === "failed" || s.status === "cancelled";
  box.hidden = !bad && !(s.status === "completed" && s.warnings.length);
  if (s.status === "completed") {
    box.classList.add("soft");
    box.append(el("p", { textContent: "Good to know: " + s.warnings.join("; ") }));
    return;
  }
  if (!bad) return;
  box.classList.add(s.status === "failed" ? "bad" : "soft");
  box.append(el("p", { textContent: s.message }));
  if (s.error) box.append(el("p", { class: "small", textContent: s.error }));
  if (s.problems) {
    const ul = el("ul");
    for (const p of s.problems) {
      const li = el("li", { textContent: problemText(p) });
      if (p.segment_id) {
        li.className = "jump";
        li.tabIndex = 0;
        li.addEventListener("click", () => { select(p.segment_id); document.getElementById(`segment-${p.segment_id}`)?.scrollIntoView({ behavior: "smooth", block: "center" }); });
      }
      ul.append(li);
    }
    box.append(ul);
  }
}

async function startRender(draft, segments = null) {
  try {
    $("#render-draft").disabled = $("#render-final").disabled = true;
    await Promise.allSettled([...inflight]);  // the text just typed is saved first (on blur)
    await api("POST", projectPath("render/"), segments ? { draft, segments } : { draft });
    loadProjects().catch(() => {});
  } catch (err) {
    $("#render-draft").disabled = $("#render-final").disabled = false;
    if (err.status === 400 && err.problems.length) {
      renderNote({ status: "failed", message: err.message, problems: err.problems, warnings: [] });
      const first = err.problems.find((p) => p.segment_id);
      if (first) { select(first.segment_id); document.getElementById(`segment-${first.segment_id}`)?.scrollIntoView({ behavior: "smooth", block: "center" }); }
    } else {
      showError(err);
    }
  }
}

async function cancelRender() {
  try {
    updateStatus(await api("POST", projectPath("cancel/")));
  } catch (err) {
    showError(err);
  }
}

async function loadHistory() {
  if (!state.project) return;
  const id = state.project.id;
  try {
    const history = await api("GET", projectPath("renders/"));
    if (!state.project || state.project.id !== id) return;
    state.history = history;
    if (state.panel === "videos") buildPanelBody();
    const tab = $('#panel-tabs [data-panel="videos"]');
    if (tab) tab.textContent = history.length ? `Videos (${history.length})` : "Videos";
  } catch (err) { /* the list stays as it was */ }
}

// ---------------------------------------------------------------- side panel

function buildPanel() {
  const tabs = $("#panel-tabs");
  tabs.replaceChildren();
  const names = [["segment", "Segment"], ...state.words.options.map((g) => [g.group.toLowerCase(), g.group]), ["videos", "Videos"]];
  for (const [key, label] of names) {
    const tab = el("button", { role: "tab", id: `panel-tab-${key}`, textContent: label, dataset: { panel: key },
      onclick: () => choosePanel(key) });
    tab.setAttribute("aria-controls", "panel-body");
    tabs.append(tab);
  }
  choosePanel(state.panel);
}

// The chosen tab is redrawn in place, so focus stays on it.
function choosePanel(key) {
  state.panel = key;
  selectTab($("#panel-tabs"), (tab) => tab.dataset.panel === key);
  $("#panel-body").setAttribute("aria-labelledby", `panel-tab-${key}`);
  $("#panel-body").tabIndex = 0;
  buildPanelBody();
}

// WAI-ARIA tabs: the chosen tab is aria-selected and the only one in the Tab order.
function selectTab(list, chosen) {
  for (const tab of $$("[role=tab]", list)) {
    const on = chosen(tab);
    tab.classList.toggle("active", on);
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
  }
}

// Arrow keys, Home and End move between tabs and choose the one reached.
function tabKeys(event) {
  const tabs = $$("[role=tab]", event.currentTarget);
  const at = tabs.indexOf(event.target);
  if (at < 0) return;
  const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
  if (to === undefined) return;
  event.preventDefault();
  const tab = tabs[(to + tabs.length) % tabs.length];
  tab.focus();
  tab.click();
}

function buildPanelBody() {
  const body = $("#panel-body");
  body.replaceChildren();
  if (state.panel === "segment") body.append(segmentPanel());
  else if (state.panel === "videos") body.append(historyPanel());
  else {
    const group = state.words.options.find((g) => g.group.toLowerCase() === state.panel);
    body.append(optionGroup(group));
  }
}

function refreshSegmentPanel() {
  if (state.panel === "segment") buildPanelBody();
}

function segmentPanel() {
  const box = el("div", { class: "group" });
  const seg = state.selected && segmentById(state.selected);
  if (!seg) {
    box.append(el("p", { class: "muted", textContent: "Select a segment in the timeline to see its picture, narration and framing." }));
  } else {
    box.append(el("h3", { textContent: `Segment ${seg.number}` }));
    const facts = [];
    facts.push(seg.image ? `Picture ${seg.image.width}×${seg.image.height}`
      : seg.video ? `Clip ${seg.video.width}×${seg.video.height}, ${fmtSeconds(seg.video.duration)}`
      : seg.title ? "Title card" : "No picture yet");
    facts.push(seg.audio ? `Narration ${seg.audio.duration.toFixed(1)} s` : state.words.narration[seg.narration][0]);
    box.append(el("p", { class: "muted small", textContent: facts.join(" · ") }));
    if (seg.image_prompt) box.append(el("p", { class: "small", textContent: `Picture idea: ${seg.image_prompt}` }));
    if (seg.video) box.append(clipEditor(seg));
    else if (!seg.image) box.append(cardEditor(seg));
    box.append(segmentLanguage(seg));
    box.append(el("p", { class: "help", textContent: "The stage shows this segment's first and last frame as the video will frame and move it. Change the motion under Motion." }));
  }
  const chapters = state.project.chapters;
  box.append(el("h3", { textContent: "Chapters" }),
    el("p", { class: `help ${chapters.ok ? "ok" : ""}`, textContent: chapters.note }));
  return box;
}

// A segment in another language than the project's: its captions' letters and line breaks.
function segmentLanguage(seg) {
  const choices = state.words.choices["settings.language"] || {};
  const own = textLanguage();
  const select = el("select", { id: "segment-language" });
  select.append(new Option(`The project's: ${choices[own] || own}`, ""));
  for (const [value, label] of Object.entries(choices)) select.append(new Option(label, value));
  if (seg.language && !(seg.language in choices)) select.append(new Option(seg.language, seg.language));
  select.value = seg.language || "";
  select.addEventListener("change", () => setSegmentValue(seg.id, "language", select.value || null, "language"));
  return fieldRow({ path: "segment.language", label: "Language", help: "The language of this segment's text, when it is not the project's.", unit: "" }, select);
}

// ---------------------------------------------------------------- clips and cards

// A clip's or card's settings are saved at once, with If-Match; each change is a step of undo.
async function setSegmentValue(segmentId, name, value, label, record = true, base = undefined) {
  const id = currentId(segmentId);
  const key = segmentKey(id);
  const before = base !== undefined ? base : segmentById(id)?.[name] ?? null;
  // A clip change made before this one is drawn builds on it (undo and redo included).
  if (name === "clip") clipsSent.set(id, value);
  try {
    await sendSegmentValue(id, key, name, value, label, record, before);
  } finally {
    if (name === "clip" && clipsSent.get(id) === value) clipsSent.delete(id);
  }
}

async function sendSegmentValue(id, key, name, value, label, record, before) {
  const shown = (v) => (typeof v === "string" || v == null ? v : JSON.stringify(v));
  const fresh = await save(() => serial(key, () => conditional(key,
    (headers) => api("PATCH", projectPath(`segments/${id}/`), { [name]: value }, headers),
    (current) => settleField({ what: `Segment ${current.number}'s ${label}`, mine: shown(value),
      theirs: shown(current[name]), seen: shown(before), apply: () => {} }))));
  if (fresh && record && !same(before, fresh[name])) {
    recordStep({ label: `the ${label} of segment ${fresh.number}`,
      undo: () => setSegmentValue(id, name, before, label, false),
      redo: () => setSegmentValue(id, name, value, label, false) });
  }
  // The panel is drawn again: the field tabbed to keeps the focus.
  const focused = document.activeElement && document.activeElement.id;
  await reloadProject();
  if (focused && focused.startsWith("clip-")) document.getElementById(focused)?.focus();
  afterEdit(false);
}

// The trimmed clip's length against the narration's, and what the fit does with the gap.
function clipLength(seg) {
  const clip = seg.clip || {};
  const kept = Math.max(0, Math.min(clip.end ?? seg.video.duration, seg.video.duration) - (clip.start || 0));
  const interlude = !seg.audio && !seg.text.trim();
  if (interlude) return `Clip ${fmtSeconds(kept) || "0 s"}: no narration, so the segment lasts the clip, with its own sound.`;
  const spoken = segDuration(seg);
  const head = `Clip ${fmtSeconds(kept) || "0 s"} · narration ${seg.audio ? "" : "about "}${fmtSeconds(spoken) || "0 s"}`;
  const gap = spoken - kept;
  if (gap <= 0) return `${head}: the clip is cut at the narration's end (${fmtSeconds(-gap) || "0 s"} unused).`;
  const effect = {
    freeze: `its last frame holds for ${fmtSeconds(gap)}`,
    loop: `it loops to fill ${fmtSeconds(gap)} more`,
    speed: kept / spoken >= 0.5 ? `it plays at ${(kept / spoken).toFixed(2)}× speed to fill`
      : `it plays at half speed, then its last frame holds`,
    extend: `the segment lasts the narration (the clip is shorter)`,
  }[clip.fit || "freeze"];
  return `${head}: ${effect}.`;
}

// A clip's row shows frames across its trim and its length against the narration.
function clipSummary(seg) {
  const clip = seg.clip || {};
  const version = encodeURIComponent(JSON.stringify([seg.video.url, clip.start ?? null, clip.end ?? null]));
  return el("div", { class: "seg-clip" },
    el("img", { class: "filmstrip", alt: `Frames across segment ${seg.number}'s clip`,
                src: projectPath(`segments/${seg.id}/filmstrip.png?v=${version}`) }),
    el("p", { class: "small clip-length", textContent: clipLength(seg) }));
}

function labelled(text, control) {
  const id = `clip-${text.toLowerCase().replace(/\W+/g, "-").replace(/^-|-$/g, "")}`;
  control.id = id;
  return el("div", { class: "clip-field" }, el("label", { htmlFor: id, textContent: text }), control);
}

// For each segment, the clip last sent and not yet drawn: a change made before the panel
// is drawn again builds on it, so a quick second change keeps the first.
const clipsSent = new Map();

function clipEditor(seg) {
  const words = state.words.clip;
  const clip = seg.clip || {};
  const box = el("div", { class: "clip-editor" });
  const change = (patch) => {
    const id = currentId(seg.id);
    const base = clipsSent.has(id) ? clipsSent.get(id) : segmentById(id)?.clip ?? null;
    setSegmentValue(id, "clip", { ...(base || {}), ...patch }, "clip", true, base).catch(() => {});
  };
  const number = (value, bounds, max) => el("input", { type: "number", step: "0.1", min: String(bounds.min),
    max: String(Math.min(bounds.max, max)), value: value == null ? "" : String(value) });
  const start = number(clip.start || 0, words.start, seg.video.duration);
  const end = number(clip.end, words.end, seg.video.duration);
  end.placeholder = seg.video.duration.toFixed(2);
  const seconds = (input) => (input.value.trim() === "" ? null : Number(input.value));
  start.addEventListener("change", () => { if (start.checkValidity()) change({ start: seconds(start) ?? 0 }); });
  end.addEventListener("change", () => { if (end.checkValidity()) change({ end: seconds(end) }); });
  const choice = (options, value) => el("select", {}, ...options.map(([name, text]) =>
    el("option", { value: name, textContent: text, selected: name === value })));
  const fit = choice(words.fit, clip.fit || "freeze");
  fit.addEventListener("change", () => change({ fit: fit.value }));
  const crop = choice(words.crop, clip.crop || "cover");
  crop.addEventListener("change", () => change({ crop: crop.value }));
  const heard = clip.volume != null;
  const mute = el("input", { type: "checkbox", checked: !heard });
  const volume = number(heard ? clip.volume : 0, words.volume, words.volume.max);
  volume.step = "1";
  volume.disabled = !heard;
  mute.addEventListener("change", () => change({ volume: mute.checked ? null : Number(volume.value) || 0 }));
  volume.addEventListener("change", () => { if (volume.checkValidity()) change({ volume: Number(volume.value) }); });
  box.append(labelled("Start (s)", start), labelled("End (s)", end), labelled("When shorter", fit),
    labelled("Framing", crop), labelled("Mute the clip", mute), labelled("Clip sound (dB)", volume));
  return box;
}

// A segment with neither picture nor clip renders as a card: its title, drawn large.
function cardEditor(seg) {
  const title = el("input", { type: "text", value: seg.title || "", placeholder: "A title drawn large" });
  title.addEventListener("change", () => setSegmentValue(seg.id, "title", title.value.trim() || null, "card title").catch(() => {}));
  const box = el("div", { class: "clip-editor" },
    el("p", { class: "help", textContent: "Without a picture or clip this segment renders as a card: the background colour with its title." }),
    labelled("Card title", title));
  return box;
}

const platformWords = (name) => (state.words.choices["settings.platforms"] || {})[name] || name;

function historyPanel() {
  const box = el("div", { class: "group" }, cutForm());
  if (!state.history.length) {
    box.append(el("p", { class: "muted", textContent: "Finished videos appear here, newest first: drafts and final videos alike." }));
    return box;
  }
  const list = el("ul", { class: "history" });
  for (const video of state.history) {
    const thumb = el("div", { class: "thumb" });
    const cover = video.thumbnail_url || video.poster_url;  // the cover made with it, else a frame
    if (cover) thumb.append(el("img", { src: cover, alt: video.thumbnail_url ? "Thumbnail" : "" }));
    const item = el("li", { class: "history-item", tabIndex: 0, dataset: { job: video.job_id } }, thumb,
      el("div", {},
        el("div", {}, el("span", { class: `tag ${video.draft ? "draft" : "final"}`, textContent: video.draft ? "Draft" : "Final" }),
          video.platform ? el("span", { class: "tag platform", textContent: platformWords(video.platform) }) : null,
          cutTag(video),
          el("span", { class: "small", textContent: ` ${fmtWhen(video.finished_at)}` })),
        el("div", { class: "muted small", textContent: `${fmtSeconds(video.duration)} · ${video.width}×${video.height} · ${fmtSize(video.size)}` }),
        video.stale ? el("div", { class: "stale small", textContent: "Project changed since" }) : null),
      el("a", { class: "button ghost small-button", href: video.download_url, download: "", textContent: "↓", title: "Download", onclick: (event) => event.stopPropagation() }),
      thumbnailLink(video));
    item.classList.toggle("active", video.video_url === state.videoJob);
    const play = () => { showVideo(video); showStage("video"); $("#video").play().catch(() => {}); buildPanelBody(); };
    item.addEventListener("click", play);
    item.addEventListener("keydown", (event) => { if (event.key === "Enter") play(); });
    list.append(item);
  }
  box.append(list);
  return box;
}

// A cut: some segments rendered as a video of their own (a Short out of a long story).
function cutForm() {
  const count = state.project.segment_list.length;
  const input = el("input", { id: "cut-segments", type: "text", placeholder: count > 1 ? `e.g. 2-${count}` : "1",
    autocomplete: "off", spellcheck: false });
  const go = el("button", { id: "render-cut", class: "secondary", textContent: "Make a cut",
    onclick: () => { if (input.value.trim()) startRender(false, input.value.trim()); } });
  input.addEventListener("keydown", (event) => { if (event.key === "Enter") go.click(); });
  return el("div", { class: "cut-form" },
    fieldRow({ path: "cut", label: "Segments", help: "Render only these (3, 2-5, 2- or 1,4-6), with their own timing and captions." }, input, ""),
    go);
}

function cutTag(video) {
  if (!video.cut || !video.cut.length) return null;
  const runs = [];
  for (const n of video.cut) {
    const last = runs[runs.length - 1];
    if (last && last[1] === n - 1) last[1] = n; else runs.push([n, n]);
  }
  const words = runs.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(", ");
  return el("span", { class: "tag cut", textContent: `Segments ${words}` });
}

// The cover picture made with a video, as a download from the videos list.
function thumbnailLink(video) {
  if (!video.thumbnail_url) return null;
  return el("a", { class: "button ghost small-button thumbnail-link", href: video.thumbnail_url, download: "",
    textContent: "🖼", title: "Download the thumbnail", onclick: (event) => event.stopPropagation() });
}

// -- option fields: labels, units and help from the words; bounds and defaults from the model

function resolveSchema(node) {
  const defs = state.schema.$defs || {};
  while (node && (node.$ref || (node.allOf && node.allOf.length === 1))) {
    node = node.$ref ? defs[node.$ref.split("/").pop()] : node.allOf[0];
  }
  if (node && node.anyOf) {
    const options = node.anyOf.map(resolveSchema).filter((n) => n.type !== "null");
    if (options.length === 1) return { ...options[0], nullable: true, default: node.default ?? options[0].default };
    return { ...node, anyOf: options };
  }
  return node || {};
}

function schemaAt(path) {
  let node = resolveSchema(state.schema);
  for (const key of path.split(".")) {
    node = resolveSchema((node.properties || {})[key]);
    if (!node) return {};
  }
  return node;
}

const getPath = (obj, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);

function nested(path, value) {
  const out = {};
  let cursor = out;
  const parts = path.split(".");
  parts.slice(0, -1).forEach((k) => { cursor = cursor[k] = {}; });
  cursor[parts[parts.length - 1]] = value;
  return out;
}

const ASSETS = { "settings.music": "audio", "settings.logo": "image", "settings.intro": "video", "settings.outro": "video" };
const ACCEPT = { audio: "audio/*,.wav,.mp3,.flac,.ogg,.m4a", image: "image/*", video: "video/*" };

function optionGroup(group) {
  const box = el("div", { class: "group", dataset: { group: group.group } });
  if (group.group === "Format") box.append(sizeField());
  if (group.group === "Sound") box.append(voicePanel());
  for (const field of group.fields) {
    const row = ASSETS[field.path] ? assetField(field) : optionField(field);
    if (row) box.append(row);
  }
  if (group.group === "Captions") box.append(captionPreview());
  fillOptions(box);
  return box;
}

function fieldRow(field, input, unit = field.unit) {
  const id = input.id || `opt-${field.path.replace(/\W/g, "-")}`;
  input.id = id;
  const label = el("label", { htmlFor: id, textContent: field.label });
  const control = el("div", { class: "control" }, input, unit && input.type !== "checkbox" ? el("span", { class: "unit", textContent: unit }) : null);
  const row = el("div", { class: `field ${input.type === "checkbox" ? "check" : ""}`, dataset: { field: field.path } }, label, control, el("p", { class: "help", textContent: field.help }));
  return row;
}

function optionField(field) {
  const node = schemaAt(field.path);
  const choices = state.words.choices[field.path];
  const values = node.enum || (node.anyOf || []).flatMap((n) => n.enum || (n.const !== undefined ? [n.const] : []));
  let input;
  if (field.path === "settings.thumbnail") {
    input = el("input", { type: "checkbox" });  // on: a cover with the defaults; off: none
  } else if (field.path === "fps") {
    input = el("select");
    for (const [value, label] of [["24", "24"], ["25", "25"], ["30", "30"], ["30000/1001", "29.97"], ["50", "50"], ["60", "60"]]) input.append(new Option(label, value));
  } else if (node.type === "array" && node.items && node.items.enum) {
    return choiceList(field, node.items.enum, choices || {});
  } else if (values.length) {
    input = el("select");
    if (node.nullable || field.path === "settings.platform") input.append(new Option(field.path === "settings.platform" ? "None (choose the size)" : "Default", ""));
    for (const value of values) input.append(new Option((choices && choices[value]) || value, value));
  } else if (node.type === "boolean") {
    input = el("input", { type: "checkbox" });
  } else if (node.type === "integer" || node.type === "number") {
    input = el("input", { type: "number", inputMode: "decimal" });
    const scale = field.scale;
    if (node.minimum !== undefined) input.min = +(node.minimum * scale).toPrecision(6);
    else if (node.exclusiveMinimum !== undefined) input.min = +(node.exclusiveMinimum * scale).toPrecision(6);
    if (node.maximum !== undefined) input.max = +(node.maximum * scale).toPrecision(6);
    input.step = node.type === "integer" && scale === 1 ? "1" : "any";
    if (typeof node.default === "number") input.placeholder = String(+(node.default * scale).toPrecision(6));
  } else if (node.type === "string" && /colou?r$/.test(field.path)) {
    input = el("input", { type: "color" });
  } else if (node.type === "string" && choices) {
    // Open values with named suggestions (the language); fillOptions adds a value not named.
    input = el("select");
    for (const [value, label] of Object.entries(choices)) input.append(new Option(label, value));
  } else {
    return null;
  }
  input.dataset.path = field.path;
  input.dataset.scale = field.scale;
  input.addEventListener("input", () => { input.dataset.dirty = "1"; });
  input.addEventListener("change", () => saveOption(input));
  return fieldRow(field, input);
}

// A list of choices (the platforms to render): a box each, saved as the list ticked (none: null).
function choiceList(field, values, choices) {
  const boxes = values.map((value) => {
    const box = el("input", { type: "checkbox", value, dataset: { list: field.path } });
    box.addEventListener("change", () => {
      const ticked = values.filter((v) => $(`[data-list="${field.path}"][value="${v}"]`, row).checked);
      changeOptions(nested(field.path, ticked.length ? ticked : null));
    });
    return el("label", { class: "choice" }, box, ` ${choices[value] || value}`);
  });
  const row = el("fieldset", { class: "field choices", dataset: { field: field.path } },
    el("legend", { textContent: field.label }), el("div", { class: "control" }, ...boxes),
    el("p", { class: "help", textContent: field.help }));
  return row;
}

function readInput(input) {
  if (input.type === "checkbox") return input.checked;
  if (input.type === "number") {
    if (input.value === "") return null;
    const value = Number(input.value) / Number(input.dataset.scale || 1);
    return Number.isInteger(Number(input.step)) || input.dataset.path.endsWith("_bitrate") ? Math.round(value) : +value.toPrecision(6);
  }
  return input.value === "" ? null : input.value;
}

function saveOption(input) {
  const path = input.dataset.path;
  changeOptions(nested(path, readInput(input)), input);
}

// The title and options of another window's version, in every field not being edited.
function showProjectFields(current) {
  state.project.title = current.title;
  state.project.options = current.options;
  if (!isEditing($("#title"))) $("#title").value = current.title;
  fillOptions($("#panel-body"));
}

// The leaves of a patch, as dotted paths ("settings.gap"), to compare with another version.
function leaves(patch, prefix = "") {
  return Object.entries(patch).flatMap(([key, value]) => (value && typeof value === "object" && !Array.isArray(value)
    ? leaves(value, `${prefix}${key}.`) : [`${prefix}${key}`]));
}

const valueAt = (project, path) => (path === "title" ? project.title : getPath(project.options, path));

function sendProject(patch, input = null) {
  const key = projectKey();
  return serial(key, () => conditional(key,
    (headers) => api("PATCH", projectPath(), patch, headers),
    async (current, seen) => {
      const order = (project) => project.segment_list.map((seg) => seg.id).join(",");
      if (order(current) !== order(state.project)) setTimeout(() => reloadProject().catch(() => {}));
      const paths = leaves(patch);
      const changed = paths.filter((path) => !seen || !same(valueAt(current, path), valueAt(seen, path)));
      if (!changed.length || changed.every((path) => same(valueAt(current, path), getPath(patch, path)))) return "send";
      const label = (path) => (path === "title" ? "The title" : (document.querySelector(`[data-field="${path}"] label`)?.textContent || path));
      const fmt = (value) => (typeof value === "string" ? value : JSON.stringify(value ?? null));
      const show = (read) => (changed.length === 1 ? fmt(read(changed[0]))
        : changed.map((path) => `${label(path)}: ${fmt(read(path))}`).join("\n"));
      return settleField({ what: changed.length === 1 ? label(changed[0]) : "Some options",
        mine: show((path) => getPath(patch, path)), theirs: show((path) => valueAt(current, path)),
        apply: () => {
          state.project.title = current.title;
          state.project.options = current.options;
          if (input) { input.dataset.dirty = ""; input.blur(); }
          if (!isEditing($("#title")) || patch.title !== undefined) { $("#title").value = current.title; $("#title").dataset.dirty = ""; }
          fillOptions($("#panel-body"));
        } });
    }));
}

// An option changed by the creator: it can be undone (the options it touched, as they were).
async function changeOptions(patch, input = null) {
  const before = {};
  const walk = (node, path) => {
    for (const [key, value] of Object.entries(node)) {
      const at = path ? `${path}.${key}` : key;
      if (value && typeof value === "object" && !Array.isArray(value)) walk(value, at);
      else mergeInto(before, nested(at, getPath(state.project.options, at) ?? null));
    }
  };
  walk(patch, "");
  // A platform brings its own size, rate, bitrate and caption size: undo puts them back too.
  if (patch.settings && patch.settings.platform !== undefined) {
    walk({ width: 0, height: 0, fps: 0, settings: { platforms: 0, video_bitrate: 0, subtitles: { size: 0 } } }, "");
  }
  // Several platforms replace the one: undo brings it back.
  if (patch.settings && patch.settings.platforms !== undefined) walk({ settings: { platform: 0 } }, "");
  if (!(await patchProject(patch, input))) return false;
  const apply = (change) => must(async () => {
    if (!(await patchProject(change))) return false;
    await reloadProject().catch(() => {});  // a voice's narrations go out of date with it
    return true;
  });
  recordStep({ label: optionLabel(patch), undo: apply(before), redo: apply(patch) });
  return true;
}

function mergeInto(target, source) {
  for (const [key, value] of Object.entries(source)) {
    if (value && typeof value === "object" && !Array.isArray(value)) mergeInto(target[key] ??= {}, value);
    else target[key] = value;
  }
}

function optionLabel(patch) {
  if (patch.width !== undefined) return "the size";
  if (patch.settings && patch.settings.voice) return "the voice";
  const leaf = (node, path) => {
    const [key, value] = Object.entries(node)[0];
    return value && typeof value === "object" ? leaf(value, `${path}${key}.`) : `${path}${key}`;
  };
  const path = leaf(patch, "");
  const field = state.words.options.flatMap((g) => g.fields).find((f) => f.path === path);
  return field ? `“${field.label}”` : "an option";
}

// Resolves to whether the studio took the change.
async function patchProject(patch, input = null) {
  try {
    const project = await save(() => sendProject(patch, input));
    if (input) input.dataset.dirty = "";
    if (!project) { setSaveState(); return false; }
    if (!isEditing($("#title"))) { state.project.title = project.title; $("#title").value = project.title; }
    const sizeChanged = project.options.width !== state.project.options.width || project.options.height !== state.project.options.height;
    state.project.options = project.options;
    state.project.render = project.render;
    state.project.chapters = project.chapters;
    if (patch.title !== undefined) state.project.title = project.title;
    fillOptions($("#panel-body"));
    updateMeta();
    updateStatus(project.render);
    loadHistory();
    if (sizeChanged) { applyAspect(); renderTimeline(); }
    showFrame();
    refreshCaptionPreview();
    loadProjects().catch(() => {});
    return true;
  } catch (err) {
    if (input) { input.dataset.dirty = ""; fillOptions($("#panel-body")); }
    return false;
  }
}

// Fields the creator is editing keep what they typed; every other field shows what is saved.
// The language of the narration text (the browser draws its characters in that language's forms).
const textLanguage = () => (state.project.options.settings || {}).language || "en";

function fillOptions(root) {
  const options = state.project.options;
  for (const text of $$(".seg-text")) text.lang = text.dataset.language || textLanguage();
  const voices = $("#voice-name");
  if (voices?.dataset.language && voices.dataset.language !== textLanguage()) fillVoiceList(voices);
  for (const input of $$("[data-path]", root)) {
    if (isEditing(input)) continue;
    const value = getPath(options, input.dataset.path);
    if (input.type === "checkbox") input.checked = Boolean(value);
    else if (input.type === "number") input.value = value == null ? "" : +(value * Number(input.dataset.scale || 1)).toPrecision(6);
    else if (input.dataset.path === "fps") input.value = String(value).includes("/") ? String(value) : String(Number(value));
    else {
      // A value set elsewhere (a manifest's "pt-BR") that the list does not name is shown as it is.
      if (input.tagName === "SELECT" && value != null && ![...input.options].some((o) => o.value === String(value))) input.append(new Option(String(value), String(value)));
      input.value = value == null ? "" : String(value);
    }
  }
  for (const box of $$("[data-list]", root)) {
    const chosen = getPath(options, box.dataset.list);
    box.checked = Array.isArray(chosen) && chosen.includes(box.value);
  }
  for (const row of $$(".asset", root)) fillAsset(row);
  const size = $("#opt-size", root);
  if (size && !isEditing(size)) {
    const value = `${options.width}x${options.height}`;
    const known = [...size.options].some((o) => o.value === value);
    size.value = known ? value : "custom";
    $("#custom-size", root).hidden = known;
    for (const [id, key] of [["#opt-width", "width"], ["#opt-height", "height"]]) {
      const input = $(id, root);
      if (!isEditing(input)) input.value = options[key];
    }
  }
}

const SIZES = [["1920x1080", "Landscape 1080p (1920×1080)"], ["1280x720", "Landscape 720p (1280×720)"],
  ["3840x2160", "Landscape 4K (3840×2160)"], ["1080x1920", "Portrait (1080×1920)"], ["720x1280", "Portrait 720p (720×1280)"],
  ["1080x1080", "Square (1080×1080)"], ["1080x1350", "Portrait 4:5 (1080×1350)"], ["custom", "Custom size…"]];

// Width and height are sent together, once both are typed: never one from a stale reply.
function sizeField() {
  const select = el("select", { id: "opt-size" });
  for (const [value, label] of SIZES) select.append(new Option(label, value));
  const width = el("input", { type: "number", id: "opt-width", step: "2", min: "64", max: "7680", ariaLabel: "Width in pixels" });
  const height = el("input", { type: "number", id: "opt-height", step: "2", min: "64", max: "7680", ariaLabel: "Height in pixels" });
  const apply = el("button", { type: "button", class: "secondary small-button", textContent: "Apply" });
  const custom = el("div", { id: "custom-size", class: "inline", hidden: true }, width, el("span", { textContent: "×" }), height, el("span", { class: "unit", textContent: "px" }), apply);
  for (const input of [width, height]) input.addEventListener("input", () => { input.dataset.dirty = "1"; });
  const sendCustom = () => {
    width.dataset.dirty = height.dataset.dirty = "";
    changeOptions({ width: Number(width.value), height: Number(height.value) });
  };
  apply.addEventListener("click", sendCustom);
  for (const input of [width, height]) input.addEventListener("keydown", (event) => { if (event.key === "Enter") sendCustom(); });
  select.addEventListener("change", () => {
    custom.hidden = select.value !== "custom";
    if (select.value === "custom") { width.focus(); return; }
    const [w, h] = select.value.split("x").map(Number);
    changeOptions({ width: w, height: h });
  });
  const row = fieldRow({ path: "size", label: "Size", help: "Pixels of the finished video; a platform sets its own.", unit: "" }, select);
  row.querySelector(".control").after(custom);
  return row;
}

function assetField(field) {
  const name = field.path.split(".").pop();
  const kind = ASSETS[field.path];
  const fileName = el("span", { class: "asset-name" });
  const input = el("input", { type: "file", accept: ACCEPT[kind], hidden: true });
  const choose = el("button", { type: "button", class: "secondary small-button choose", onclick: () => input.click() });
  const remove = el("button", { type: "button", class: "ghost danger small-button remove", textContent: "Remove", onclick: () => removeAsset(name, field.label) });
  input.addEventListener("change", () => { if (input.files.length) uploadAsset(name, input.files[0], field.label); input.value = ""; });
  const row = el("div", { class: "field asset", dataset: { asset: name } },
    el("label", { textContent: field.label }), el("div", { class: "control" }, fileName, choose, remove, input),
    el("p", { class: "help", textContent: field.help }));
  return row;
}

function fillAsset(row) {
  const name = row.dataset.asset;
  const value = (state.project.options.settings || {})[name];
  const attached = Boolean(value && value.path);
  // Stored as assets/<setting>-<random>-<slug of the file's name>.<ext>.
  const stored = attached ? value.path.split("/").pop() : "";
  const rest = stored.replace(/^[a-z]+-[0-9a-f]{8}-?/, "");
  const shown = attached ? (rest && !rest.startsWith(".") ? rest : stored) : "None";
  $(".asset-name", row).textContent = shown;
  $(".remove", row).hidden = !attached;
  $(".choose", row).textContent = attached ? "Replace…" : "Choose file…";
  const group = row.closest(".group");
  for (const input of $$(`[data-path^="settings.${name}."]`, group)) input.disabled = !attached;
}

async function uploadAsset(name, file, label) {
  const form = new FormData();
  form.append("file", file);
  try {
    const project = await save(() => api("POST", projectPath(`assets/${name}/`), form));
    state.project.options = project.options;
    fillOptions($("#panel-body"));
    toast(`${label}: ${file.name}`);
    refreshCaptionPreview();
  } catch (err) { /* reported by save() */ }
}

async function removeAsset(name, label) {
  const sure = await ask({ title: `Remove the ${label.toLowerCase()}?`, text: "Its file is deleted from the project.", ok: "Remove", danger: true });
  if (!sure) return;
  try {
    const project = await save(() => api("DELETE", projectPath(`assets/${name}/`)));
    state.project.options = project.options;
    fillOptions($("#panel-body"));
    refreshCaptionPreview();
  } catch (err) { /* reported by save() */ }
}

let captionCount = 0;
function captionPreview() {
  const img = el("img", { id: "caption-preview", alt: "A frame drawn by the engine with a caption in the chosen style" });
  const figure = el("figure", { class: "caption-preview" }, img,
    el("figcaption", { class: "help", textContent: "A frame as the video draws it: the caption style, size and the platform's safe area." }));
  setTimeout(refreshCaptionPreview);
  return figure;
}

function refreshCaptionPreview() {
  const img = $("#caption-preview");
  if (!img || !state.project) return;
  captionCount += 1;
  img.src = projectPath(`preview.png?v=${captionCount}`);
}

// ---------------------------------------------------------------- create, import, delete

async function newProject() {
  const title = await ask({ title: "New project", text: "What is the story called?", input: "Untitled story", ok: "Create" });
  if (title === null) return;
  try {
    const project = await api("POST", "/api/projects/", { title: title || "Untitled story", segments: [{ text: "" }] });
    location.hash = `#/project/${project.id}`;
    loadProjects().catch(() => {});
  } catch (err) {
    showError(err);
  }
}

async function trySample() {
  const button = $("#try-sample");
  button.disabled = true;
  button.textContent = "Making the sample…";
  try {
    const project = await api("POST", "/api/projects/sample/");
    location.hash = `#/project/${project.id}`;
    loadProjects().catch(() => {});
    toast("The sample project is ready: press Draft preview to see it.", { seconds: 5 });
  } catch (err) {
    showError(err);
  } finally {
    button.disabled = false;
    button.textContent = "Try the sample project";
  }
}

// The same file imported again asks first instead of making a silent duplicate.
async function importFile(file) {
  const key = `import:${file.name}:${file.size}:${file.lastModified}`;
  const earlier = Number(localStorage.getItem(key));
  if (earlier) {
    const known = await api("GET", `/api/projects/${earlier}/`).catch(() => null);
    if (known) {
      const again = await ask({ title: "Imported before", text: `“${file.name}” was imported as “${known.title}”. Import it again as a new project?`, ok: "Import again" });
      if (!again) { location.hash = `#/project/${known.id}`; return; }
    }
  }
  const form = new FormData();
  form.append("file", file);
  const close = toast(`Importing ${file.name}…`, { seconds: 60 });
  try {
    const project = await api("POST", "/api/projects/", form);
    localStorage.setItem(key, String(project.id));
    toast(`Imported “${project.title}”: ${project.segments} segments`);
    location.hash = `#/project/${project.id}`;
    loadProjects().catch(() => {});
  } catch (err) {
    showError(err);
  } finally {
    close();
  }
}

async function deleteProject() {
  if (!state.project) return;
  const sure = await ask({ title: `Delete “${state.project.title}”?`, text: "Its pictures, recordings and videos are deleted too. This cannot be undone.", ok: "Delete project", danger: true });
  if (!sure) return;
  try {
    const key = projectKey();
    const deleted = await conditional(key, (headers) => api("DELETE", projectPath(), undefined, headers),
      async (current) => ((await ask({ title: `“${current.title}” was changed in another window`, text: "Delete it anyway?", ok: "Delete project", danger: true })) ? "send" : "theirs"));
    if (!deleted) { await reloadProject(); return; }
    location.hash = "";
    loadProjects().catch(() => {});
  } catch (err) {
    showError(err);
  }
}

function setupImportDrop(zone) {
  zone.addEventListener("dragover", (event) => { if (event.dataTransfer.types.includes("Files")) { event.preventDefault(); zone.classList.add("drag"); } });
  zone.addEventListener("dragleave", () => zone.classList.remove("drag"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("drag");
    if (event.dataTransfer.files.length) importFile(event.dataTransfer.files[0]);
  });
}

async function renderAll() {
  try {
    const answer = await api("POST", "/api/renders/all/");
    const left = answer.left.map((p) => `“${p.title}”: ${p.reason}`);
    toast(`${answer.queued.length} render${answer.queued.length === 1 ? "" : "s"} queued.` +
      (left.length ? ` Not queued: ${left.join(" ")}` : ""), { seconds: left.length ? 12 : null });
    loadProjects().catch(() => {});
  } catch (err) {
    showError(err);
  }
}

// ---------------------------------------------------------------- start

function bindTitle() {
  const title = $("#title");
  const run = async () => {
    const sent = title.value.trim();
    if (!sent) return;
    const before = state.project.title;
    const project = await sendProject({ title: sent });
    if (!project) { if (title.value.trim() === state.project.title) title.dataset.dirty = ""; return; }
    showTitle(project.title);
    if (title.value.trim() === sent) title.dataset.dirty = "";
    if (before !== project.title) {
      recordStep({ label: "the title", key: `title:${typingSessions.get("title")}`,
        undo: () => retitle(before), redo: () => retitle(project.title) });
    }
  };
  title.addEventListener("focus", () => { if (!state.pending.has("title")) typingSessions.set("title", (typingSessions.get("title") || 0) + 1); });
  title.addEventListener("input", () => { title.dataset.dirty = "1"; debounced("title", run); });
  title.addEventListener("blur", () => flush("title", run));
  title.addEventListener("keydown", (event) => { if (event.key === "Enter") title.blur(); });
}

function showTitle(text) {
  state.project.title = text;
  document.title = `${text} · storyreel`;
  $("#project-heading").textContent = text;
  if (!isEditing($("#title"))) $("#title").value = text;
  loadProjects().catch(() => {});
}

async function retitle(text) {
  const project = await save(() => sendProject({ title: text }));
  if (!project) throw new ApiError("The title is kept as the other window has it.", 412);
  $("#title").dataset.dirty = "";
  showTitle(project.title);
}

async function main() {
  $("#new-project").addEventListener("click", newProject);
  $("#welcome-new").addEventListener("click", newProject);
  $("#try-sample").addEventListener("click", trySample);
  $("#render-all").addEventListener("click", renderAll);
  $("#import-file").addEventListener("change", (event) => {
    if (event.target.files.length) importFile(event.target.files[0]);
    event.target.value = "";
  });
  $("#import-drop").addEventListener("click", () => $("#import-file").click());
  setupImportDrop($("#import-drop"));
  setupImportDrop($("#sidebar"));
  setupTimelineDrop($("#timeline"));
  bindTitle();
  $("#add-segment").addEventListener("click", addSegment);
  $("#narrate-missing").addEventListener("click", () => narrate(null, null));
  $("#delete-project").addEventListener("click", deleteProject);
  $("#render-draft").addEventListener("click", () => startRender(true));
  $("#render-final").addEventListener("click", () => startRender(false));
  $("#cancel").addEventListener("click", cancelRender);
  $("#dialog-cancel").addEventListener("click", () => $("#dialog").close("cancel"));
  $("#undo").addEventListener("click", () => undo());
  $("#redo").addEventListener("click", () => redo());
  document.addEventListener("keydown", undoKeys);
  $("#show-start").addEventListener("click", () => setFrameEnd(false));
  for (const img of [$("#frame-start"), $("#frame-end")]) {
    // A preview that cannot be drawn (its segment just deleted, say) shows no broken picture.
    img.addEventListener("error", () => img.classList.add("broken"));
    img.addEventListener("load", () => img.classList.remove("broken"));
  }
  $("#show-end").addEventListener("click", () => setFrameEnd(true));
  setupScrubber();
  $("#show-focus").addEventListener("click", () => showFocus(true));
  $("#focus-picture").addEventListener("click", focusClick);
  $("#focus-picture").addEventListener("load", placeFocusMarker);
  $("#focus-auto").addEventListener("click", () => { const seg = focusSegment(); if (seg) setSegmentValue(seg.id, "focus", null, "focus").catch(showError); });
  window.addEventListener("resize", placeFocusMarker);
  $("#show-safe").addEventListener("change", () => $$("#frame-platforms, #frame-at-platforms").forEach((row) => row.classList.toggle("show-safe", $("#show-safe").checked)));
  $$(".stage-tabs button").forEach((b) => b.addEventListener("click", () => showStage(b.dataset.stage)));
  $(".stage-tabs").addEventListener("keydown", tabKeys);
  $("#panel-tabs").addEventListener("keydown", tabKeys);
  $("#toggle-projects").addEventListener("click", () => {
    const open = document.body.classList.toggle("drawer-open");
    $("#toggle-projects").setAttribute("aria-expanded", String(open));
  });
  window.addEventListener("hashchange", route);
  window.addEventListener("beforeunload", (event) => {
    if (state.pending.size || state.saving) event.preventDefault();
  });
  try {
    [state.words, state.schema] = await Promise.all([api("GET", "/api/words/"), api("GET", "/api/schema/options/")]);
  } catch (err) {
    showError(err);
    return;
  }
  loadProjects().catch(showError);
  route();
}

main();
