// storyreel studio page: plain JavaScript over the JSON API (no build step).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);

const PHASES = {
  starting: "Starting", narrate: "Generating narration", analyse: "Checking media",
  export: "Encoding video",
  verify: "Verifying the file", done: "Done", "": "Waiting",
};
const STATUS_WORDS = {
  draft: "Draft", queued: "Queued", processing: "Rendering", completed: "Ready",
  failed: "Failed", cancelled: "Cancelled",
};
const LABELS = {
  preset: "Encoding speed", video_bitrate: "Video bitrate", audio_bitrate: "Audio bitrate",
  gap: "Pause between segments (s)", ken_burns: "Ken Burns motion", zoom: "Zoom",
  music: "Background music", logo: "Logo", intro: "Intro clip", outro: "Outro clip",
  direction: "Direction", pan: "Pan while zooming", easing: "Easing",
  platform: "Platform", subtitles: "Captions", style: "Caption style",
  highlight_color: "Highlight colour", highlight_box: "Box behind the spoken word",
  uppercase: "Capitals", words_json: "Word timings file (JSON)",
};
const PRESET_WORDS = {
  ultrafast: "ultrafast (draft)", medium: "medium (balanced)", veryslow: "veryslow (smallest file)",
};

const state = { project: null, schema: null, events: null, videoJob: null, saving: 0 };

// ---------------------------------------------------------------- API helpers

class ApiError extends Error {
  constructor(message, status, problems) {
    super(message);
    this.status = status;
    this.problems = problems || [];
  }
}

async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError("The studio cannot be reached. Is `storyreel serve` still running?", 0);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (err) { data = null; }
  if (!response.ok) {
    const detail = (data && data.detail) || `The studio answered ${response.status}.`;
    throw new ApiError(typeof detail === "string" ? detail : JSON.stringify(detail),
      response.status, data && data.problems);
  }
  return data;
}

// A form upload with progress (fetch cannot report how much of the body was sent).
function sendForm(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new ApiError("The upload failed: the studio cannot be reached.", 0));
    xhr.onload = () => {
      let data = null;
      try { data = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch (err) { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError((data && data.detail) || `The studio answered ${xhr.status}.`, xhr.status, data && data.problems));
    };
    xhr.send(form);
  });
}

function toast(message, kind = "info") {
  const box = $("#toast");
  box.textContent = message;
  box.className = `toast ${kind}`;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 8000 : 2500);
}

function problemText(problem) {
  const where = problem.segment ? `Segment ${problem.segment}` : "Project";
  const field = problem.field && !problem.segment ? ` (${problem.field})` : "";
  return `${where}${field}: ${problem.message}`;
}

function showError(err) {
  const extra = err.problems && err.problems.length ? " " + err.problems.map(problemText).join("; ") : "";
  toast(err.message + extra, "error");
}

function fmtSeconds(total) {
  if (total == null || !isFinite(total)) return "";
  if (total > 0 && total < 10) return `${total.toFixed(1)} s`;
  total = Math.max(0, Math.round(total));
  const m = Math.floor(total / 60), s = total % 60;
  return m ? `${m} min ${String(s).padStart(2, "0")} s` : `${s} s`;
}

function fmtSize(bytes) {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

// ---------------------------------------------------------------- project list & gallery

async function loadProjects() {
  const projects = await api("GET", "/api/projects/");
  const list = $("#project-list");
  list.replaceChildren();
  $("#no-projects").hidden = projects.length > 0;
  for (const p of projects) {
    const li = document.createElement("li");
    li.className = "project-item" + (state.project && state.project.id === p.id ? " active" : "");
    li.dataset.id = p.id;
    const thumb = document.createElement("div");
    thumb.className = "thumb";
    if (p.thumbnail_url) {
      const img = document.createElement("img");
      img.src = p.thumbnail_url;
      img.alt = "";
      thumb.append(img);
    }
    const text = document.createElement("div");
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = p.title;
    const meta = document.createElement("div");
    meta.className = "muted small";
    const pct = p.status === "processing" ? ` ${Math.floor(p.percent)} %` : "";
    meta.textContent = `${p.segments} segment${p.segments === 1 ? "" : "s"} · ${fmtSeconds(p.duration) || "0 s"}`;
    const badge = document.createElement("span");
    badge.className = `badge ${p.status}`;
    badge.textContent = STATUS_WORDS[p.status] + pct;
    text.append(name, meta, badge);
    li.append(thumb, text);
    li.addEventListener("click", () => { location.hash = `#/project/${p.id}`; });
    list.append(li);
  }
}

async function loadGallery() {
  const items = await api("GET", "/api/renders/");
  const list = $("#gallery");
  list.replaceChildren();
  for (const item of items.slice(0, 20)) {
    const li = document.createElement("li");
    const link = document.createElement("a");
    link.href = item.download_url;
    link.textContent = item.title;
    link.setAttribute("download", "");
    const meta = document.createElement("span");
    meta.className = "muted small";
    meta.textContent = ` ${fmtSeconds(item.duration)} · ${fmtSize(item.size)}`;
    li.append(link, meta);
    list.append(li);
  }
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "muted small";
    li.textContent = "Rendered videos appear here.";
    list.append(li);
  }
}

function refreshLists() {
  loadProjects().catch(showError);
  loadGallery().catch(showError);
}

// ---------------------------------------------------------------- opening a project

async function openProject(id) {
  let project;
  try {
    project = await api("GET", `/api/projects/${id}/`);
  } catch (err) {
    if (err.status === 404) { location.hash = ""; }
    showError(err);
    return;
  }
  state.project = project;
  $("#welcome").hidden = true;
  $("#editor").hidden = false;
  $("#title").value = project.title;
  fillOptions(project.options);
  fillVoice(project.options);
  renderTimeline(project.segment_list);
  updateMeta(project);
  state.narratedJob = project.render.kind === "narrate" ? project.render.job_id : null;
  updateStatus(project.render);
  listen(project.id);
  document.querySelectorAll(".project-item").forEach((el) => {
    el.classList.toggle("active", Number(el.dataset.id) === project.id);
  });
}

function closeProject() {
  state.project = null;
  if (state.events) { state.events.close(); state.events = null; }
  $("#editor").hidden = true;
  $("#welcome").hidden = false;
}

async function reloadProject() {
  if (!state.project) return;
  const project = await api("GET", `/api/projects/${state.project.id}/`);
  state.project = project;
  renderTimeline(project.segment_list);
  updateMeta(project);
}

function updateMeta(project) {
  const { width, height, fps } = project.options;
  $("#project-meta").textContent =
    `${project.segments} segment${project.segments === 1 ? "" : "s"} · ${fmtSeconds(project.duration) || "0 s"} of narration · ${width}×${height} @ ${fps} fps`;
}

function route() {
  const match = location.hash.match(/^#\/project\/(\d+)/);
  if (match) openProject(Number(match[1]));
  else closeProject();
}

// ---------------------------------------------------------------- render options

async function loadSchema() {
  if (!state.schema) state.schema = await api("GET", "/api/schema/options/");
  return state.schema;
}

function resolve(node, defs) {
  if (node && node.$ref) return resolve(defs[node.$ref.split("/").pop()], defs);
  if (node && node.allOf && node.allOf.length === 1) return resolve(node.allOf[0], defs);
  return node || {};
}

function plainType(node, defs) {
  node = resolve(node, defs);
  if (node.anyOf) {
    const options = node.anyOf.map((n) => resolve(n, defs)).filter((n) => n.type !== "null");
    if (options.length === 1) return { ...options[0], nullable: true, title: node.title, default: node.default };
  }
  return node;
}

// Settings shown at once; every other setting the engine offers goes under "More options".
// Settings with a panel of their own (not built from the schema's fields).
const OWN_PANEL_SETTINGS = new Set(["voice"]);
const MAIN_SETTINGS = new Set(["platform", "preset", "gap", "ken_burns", "subtitles",
  "transitions", "music"]);

function buildSettingsFields(schema) {
  const defs = schema.$defs || {};
  const root = $("#settings-fields");
  root.replaceChildren();
  const settings = resolve(schema.properties.settings, defs);
  const more = document.createElement("details");
  more.className = "more-options";
  const summary = document.createElement("summary");
  summary.textContent = "More options";
  const moreBody = document.createElement("div");
  moreBody.className = "more-body";
  more.append(summary, moreBody);
  addFields(root, settings, defs, ["settings"], (name) => (MAIN_SETTINGS.has(name) ? root : moreBody));
  if (moreBody.children.length) root.append(more);
}

// "Attributes:" sections of the engine's docstrings become the fields' help texts.
function fieldHelp(description) {
  const help = {};
  const lines = (description || "").split("\n");
  let current = null;
  for (const line of lines) {
    const match = line.match(/^\s{4}(\w+): (.*)$/);
    if (match) { current = match[1]; help[current] = match[2]; }
    else if (current && /^\s{8}\S/.test(line)) help[current] += " " + line.trim();
    else current = null;
  }
  return help;
}

function needsFile(node, defs) {
  return (node.required || []).some((key) => {
    const field = plainType(node.properties[key], defs);
    return field.format === "path";
  });
}

function addFields(root, objectSchema, defs, path, placeFor = () => root) {
  const help = fieldHelp(objectSchema.description);
  for (const [name, raw] of Object.entries(objectSchema.properties || {})) {
    if (path.length === 1 && OWN_PANEL_SETTINGS.has(name)) continue;
    const node = plainType(raw, defs);
    const here = [...path, name];
    const target = placeFor(name);
    if (raw["x-storyreel-asset"] && node.properties) {
      target.append(assetFieldset(name, raw["x-storyreel-asset"], node, defs, here));
      continue;
    }
    if (node.type === "object" && node.properties) {
      if (needsFile(node, defs)) continue; // a file setting the studio does not know
      const set = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = LABELS[name] || node.title || name;
      if (help[name]) set.title = help[name];
      set.append(legend);
      addFields(set, node, defs, here);
      target.append(set);
      continue;
    }
    const input = makeInput(name, node);
    if (!input) continue;
    input.dataset.path = here.join(".");
    input.addEventListener("change", () => saveOption(input));
    const label = document.createElement("label");
    if (input.type === "checkbox") label.className = "check";
    label.append(document.createTextNode((LABELS[name] || node.title || name) + unitOf(name)));
    if (input.type === "checkbox") label.prepend(input); else label.append(input);
    if (help[name]) label.title = help[name];
    target.append(label);
  }
}

const ACCEPT = { audio: "audio/*,.wav,.mp3,.flac,.ogg,.m4a", image: "image/*", video: "video/*" };

// A file setting (music, logo, intro...): choose or remove its file, then tune its fields.
function assetFieldset(name, kind, node, defs, path) {
  const set = document.createElement("fieldset");
  set.className = "asset";
  set.dataset.asset = name;
  const legend = document.createElement("legend");
  legend.textContent = LABELS[name] || node.title || name;
  const row = document.createElement("div");
  row.className = "asset-row";
  const label = document.createElement("a");
  label.className = "asset-file muted small";
  label.target = "_blank";
  const input = document.createElement("input");
  input.type = "file";
  input.hidden = true;
  input.accept = ACCEPT[kind] || "";
  const choose = document.createElement("button");
  choose.type = "button";
  choose.className = "choose";
  choose.textContent = "Choose file…";
  choose.addEventListener("click", () => input.click());
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "ghost danger remove-asset";
  remove.textContent = "Remove";
  remove.addEventListener("click", () => removeAsset(name));
  input.addEventListener("change", () => {
    if (input.files.length) uploadAsset(name, input.files[0], set);
    input.value = "";
  });
  row.append(label, choose, remove, input);
  set.append(legend, row);
  const fields = { ...node, properties: { ...node.properties } };
  delete fields.properties.path;
  addFields(set, fields, defs, path);
  const help = fieldHelp(node.description);
  if (help.path) set.title = help.path;
  return set;
}

async function uploadAsset(name, file, set) {
  const form = new FormData();
  form.append("file", file);
  set.classList.add("busy");
  try {
    const project = await api("POST", `/api/projects/${state.project.id}/assets/${name}/`, form);
    state.project = project;
    fillOptions(project.options);
    toast(`${LABELS[name] || name} added`);
  } catch (err) {
    showError(err);
  } finally {
    set.classList.remove("busy");
  }
}

async function removeAsset(name) {
  try {
    const project = await api("DELETE", `/api/projects/${state.project.id}/assets/${name}/`);
    state.project = project;
    fillOptions(project.options);
    toast(`${LABELS[name] || name} removed`);
  } catch (err) {
    showError(err);
  }
}

function fillAssets(options) {
  for (const set of document.querySelectorAll("fieldset.asset")) {
    const name = set.dataset.asset;
    const value = (options.settings || {})[name];
    const attached = Boolean(value && value.path);
    const label = $(".asset-file", set);
    label.textContent = attached ? "File attached (open)" : "No file";
    if (attached && state.project) label.href = `/api/projects/${state.project.id}/assets/${name}/`;
    else label.removeAttribute("href");
    $(".remove-asset", set).hidden = !attached;
    $(".choose", set).textContent = attached ? "Replace…" : "Choose file…";
    for (const input of set.querySelectorAll("[data-path]")) input.disabled = !attached;
  }
}

function unitOf(name) {
  return name.endsWith("_bitrate") ? " (kbit/s)" : "";
}

function makeInput(name, node) {
  const choices = node.enum || (node.anyOf || []).map((n) => n.const).filter((v) => v !== undefined);
  if (choices.length) {
    const select = document.createElement("select");
    if (node.nullable) select.append(new Option("(default)", ""));
    for (const value of choices) select.append(new Option(PRESET_WORDS[value] || value, value));
    return select;
  }
  if (node.type === "boolean") {
    const box = document.createElement("input");
    box.type = "checkbox";
    return box;
  }
  if (node.type === "integer" || node.type === "number") {
    const input = document.createElement("input");
    input.type = "number";
    const scale = name.endsWith("_bitrate") ? 1000 : 1;
    if (node.minimum !== undefined) input.min = node.minimum / scale;
    if (node.maximum !== undefined) input.max = node.maximum / scale;
    input.step = node.type === "integer" && scale === 1 ? "1" : (name.endsWith("_bitrate") ? "1" : "0.05");
    input.dataset.scale = scale;
    if (typeof node.default === "number") input.placeholder = String(node.default / scale);
    return input;
  }
  if (node.type === "string" && !node.format) {
    const input = document.createElement("input");
    input.type = /colou?r$/.test(name) && /^#[0-9a-f]{6}$/i.test(node.default || "") ? "color" : "text";
    if (node.maxLength) input.maxLength = node.maxLength;
    return input;
  }
  return null; // files and structured values are not edited here
}

function getPath(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function fillOptions(options) {
  const size = `${options.width}x${options.height}`;
  const sizeSelect = $("#opt-size");
  const known = [...sizeSelect.options].some((o) => o.value === size);
  sizeSelect.value = known ? size : "custom";
  $("#custom-size").hidden = known;
  $("#opt-width").value = options.width;
  $("#opt-height").value = options.height;
  const fps = String(options.fps);
  const fpsSelect = $("#opt-fps");
  if (![...fpsSelect.options].some((o) => o.value === fps)) fpsSelect.append(new Option(`${fps} fps`, fps));
  fpsSelect.value = fps;
  fillAssets(options);
  for (const input of document.querySelectorAll("#settings-fields [data-path]")) {
    const value = getPath(options, input.dataset.path);
    if (input.type === "checkbox") input.checked = Boolean(value);
    else if (input.type === "number") input.value = value == null ? "" : value / Number(input.dataset.scale || 1);
    else input.value = value == null ? "" : value;
  }
  refreshPreview();
}

// The preview is a frame the engine draws with the saved options (not an imitation).
let previewCount = 0;
function refreshPreview() {
  if (!state.project) return;
  previewCount += 1;
  $("#caption-preview").src = `/api/projects/${state.project.id}/preview.png?v=${previewCount}`;
}

function nested(path, value) {
  const out = {};
  let cursor = out;
  const parts = path.split(".");
  parts.slice(0, -1).forEach((k) => { cursor = cursor[k] = {}; });
  cursor[parts[parts.length - 1]] = value;
  return out;
}

async function patchProject(patch) {
  if (!state.project) return;
  try {
    const project = await api("PATCH", `/api/projects/${state.project.id}/`, patch);
    state.project = project;
    fillOptions(project.options);
    updateMeta(project);
    toast("Saved");
    loadProjects().catch(() => {});
  } catch (err) {
    showError(err);
    fillOptions(state.project.options);
  }
}

function saveOption(input) {
  let value;
  if (input.type === "checkbox") value = input.checked;
  else if (input.type === "number") value = input.value === "" ? null : Number(input.value) * Number(input.dataset.scale || 1);
  else value = input.value === "" ? null : input.value;
  if (input.type === "number" && Number(input.dataset.scale) > 1 && value !== null) value = Math.round(value);
  patchProject(nested(input.dataset.path, value));
}

function saveSize() {
  const choice = $("#opt-size").value;
  $("#custom-size").hidden = choice !== "custom";
  if (choice === "custom") return;
  const [width, height] = choice.split("x").map(Number);
  patchProject({ width, height });
}

// ---------------------------------------------------------------- timeline

function renderTimeline(segments) {
  const list = $("#timeline");
  list.replaceChildren();
  const template = $("#segment-template");
  for (const seg of segments) {
    const li = template.content.firstElementChild.cloneNode(true);
    li.dataset.id = seg.id;
    li.id = `segment-${seg.id}`;
    $(".seg-number", li).textContent = seg.number;
    const img = $(".seg-image img", li);
    if (seg.image) {
      img.src = seg.image.thumbnail_url;
      img.alt = `Segment ${seg.number} picture`;
      img.title = `${seg.image.width}×${seg.image.height}`;
      $(".seg-image", li).classList.add("filled");
    }
    const audio = $(".seg-audio audio", li);
    if (seg.audio) {
      audio.src = seg.audio.url;
      $(".seg-audio", li).classList.add("filled");
      $(".duration", li).textContent = `${seg.audio.duration.toFixed(1)} s`;
    }
    const chapter = $(".seg-chapter", li);
    chapter.value = seg.chapter || "";
    chapter.addEventListener("change", () => editSegment(seg.id, { chapter: chapter.value || null }));
    const text = $(".seg-text", li);
    text.value = seg.text;
    text.addEventListener("change", () => editSegment(seg.id, { text: text.value }));
    $(".seg-prompt", li).textContent = seg.image_prompt ? `Picture idea: ${seg.image_prompt}` : "";
    showNarration(li, seg);
    $(".seg-generate", li).addEventListener("click", () => narrate(seg.id, li.dataset.narration));
    const missing = $(".seg-missing", li);
    missing.textContent = seg.missing.length ? `Needs ${seg.missing.map((m) => (m === "image" ? "a picture" : "a narration")).join(" and ")}` : "";
    setupDrop(li, seg);
    $(".up", li).disabled = seg.number === 1;
    $(".down", li).disabled = seg.number === segments.length;
    $(".up", li).addEventListener("click", () => moveSegment(seg.id, seg.number - 1));
    $(".down", li).addEventListener("click", () => moveSegment(seg.id, seg.number + 1));
    $(".remove", li).addEventListener("click", () => removeSegment(seg));
    list.append(li);
  }
  if (!segments.length) {
    const li = document.createElement("li");
    li.className = "empty muted";
    li.textContent = "No segments yet: press “+ Add segment”.";
    list.append(li);
  }
}

function setupDrop(li, seg) {
  for (const zone of li.querySelectorAll(".dropzone")) {
    const input = $("input[type=file]", zone);
    zone.tabIndex = 0;
    zone.setAttribute("role", "button");
    zone.addEventListener("click", (event) => {
      if (event.target.tagName !== "AUDIO") input.click();
    });
    zone.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
    });
    input.addEventListener("change", () => {
      if (input.files.length) upload(seg.id, zone.dataset.kind, input.files[0]);
    });
  }
  li.addEventListener("dragover", (event) => { event.preventDefault(); li.classList.add("drag"); });
  li.addEventListener("dragleave", () => li.classList.remove("drag"));
  li.addEventListener("drop", (event) => {
    event.preventDefault();
    li.classList.remove("drag");
    const zone = event.target.closest(".dropzone");
    const groups = { image: [], audio: [] };
    for (const file of event.dataTransfer.files) {
      let kind = file.type.startsWith("image/") ? "image" : file.type.startsWith("audio/") ? "audio" : null;
      kind = kind || (zone && zone.dataset.kind) || "image";
      groups[kind].push(file);
    }
    spreadUploads(seg, groups);
  });
}

// Several files dropped on one segment fill it and the segments after it, in file-name
// order; files beyond the last segment get new segments.
async function spreadUploads(seg, groups) {
  const count = Math.max(groups.image.length, groups.audio.length);
  const ids = state.project.segment_list.map((s) => s.id);
  const start = ids.indexOf(seg.id);
  try {
    while (ids.length < start + count) {
      const added = await api("POST", `/api/projects/${state.project.id}/segments/`, { text: "" });
      ids.push(added.id);
    }
  } catch (err) {
    showError(err);
    return;
  }
  for (const kind of ["image", "audio"]) {
    const files = groups[kind].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
    for (const [i, file] of files.entries()) await upload(ids[start + i], kind, file);
  }
  if (count > 1) toast(`${count} segments filled`);
}

async function upload(segmentId, kind, file) {
  const li = document.getElementById(`segment-${segmentId}`);
  const zone = li && li.querySelector(`.dropzone[data-kind=${kind}]`);
  if (zone) zone.classList.add("busy");
  const form = new FormData();
  form.append("file", file);
  const progress = (done) => {
    if (zone) zone.dataset.progress = done < 1 ? `Uploading ${Math.floor(done * 100)} %` : "Checking…";
  };
  try {
    const result = await sendForm(`/api/projects/${state.project.id}/segments/${segmentId}/${kind}/`, form, progress);
    toast(kind === "image" ? `Picture added (${result.width}×${result.height})` : `Narration added (${result.duration.toFixed(1)} s)`);
    await reloadProject();
    loadProjects().catch(() => {});
  } catch (err) {
    showError(err);
  } finally {
    if (zone) { zone.classList.remove("busy"); delete zone.dataset.progress; }
  }
}

async function editSegment(segmentId, fields) {
  try {
    const seg = await api("PATCH", `/api/projects/${state.project.id}/segments/${segmentId}/`, fields);
    const li = document.getElementById(`segment-${segmentId}`);
    if (li && seg) showNarration(li, seg);
    toast("Saved");
  } catch (err) {
    showError(err);
  }
}

async function moveSegment(segmentId, position) {
  try {
    await api("PATCH", `/api/projects/${state.project.id}/segments/${segmentId}/`, { position });
    await reloadProject();
  } catch (err) {
    showError(err);
  }
}

async function removeSegment(seg) {
  if (!confirm(`Delete segment ${seg.number} and its media?`)) return;
  try {
    await api("DELETE", `/api/projects/${state.project.id}/segments/${seg.id}/`);
    await reloadProject();
    loadProjects().catch(() => {});
  } catch (err) {
    showError(err);
  }
}

async function addSegment() {
  try {
    const seg = await api("POST", `/api/projects/${state.project.id}/segments/`, { text: "" });
    await reloadProject();
    const text = document.querySelector(`#segment-${seg.id} .seg-text`);
    if (text) text.focus();
  } catch (err) {
    showError(err);
  }
}

// ---------------------------------------------------------------- rendering

function listen(projectId) {
  if (state.events) state.events.close();
  const source = new EventSource(`/api/projects/${projectId}/events/`);
  source.addEventListener("status", (event) => {
    if (!state.project || state.project.id !== projectId) return;
    const status = JSON.parse(event.data);
    const previous = state.lastStatus;
    updateStatus(status);
    if (previous && previous.status !== status.status) refreshLists();
  });
  source.addEventListener("deleted", () => { source.close(); location.hash = ""; refreshLists(); });
  state.events = source;
}

function updateStatus(s) {
  state.lastStatus = s;
  if (s.kind === "narrate" && s.status === "completed" && state.narratedJob !== s.job_id) {
    state.narratedJob = s.job_id;  // new narrations: show them on the timeline
    reloadProject().catch(() => {});
  }
  $("#narrate-all").disabled = s.status === "queued" || s.status === "processing";
  const running = s.status === "queued" || s.status === "processing";
  $("#render").disabled = running;
  $("#render").textContent = s.status === "completed" ? "Render again" : "Render";
  $("#cancel").hidden = !running;
  $("#progress").hidden = !(running || s.status === "completed");
  const percent = Math.max(0, Math.min(100, s.percent || 0));
  $("#progress-fill").style.width = `${percent}%`;
  $(".bar").setAttribute("aria-valuenow", String(Math.round(percent)));
  $("#progress-percent").textContent = `${Math.floor(percent)} %`;
  $("#progress-phase").textContent = s.status === "queued" ? "Queued" : (PHASES[s.phase] || s.phase);
  const parts = [];
  if (s.message) parts.push(s.message);
  if (s.phase === "export" && s.frames_total) parts.push(`frame ${s.frames_done} of ${s.frames_total}`);
  if (running && s.rate) parts.push(`${s.rate.toFixed(0)} frames/s`);
  if (running && s.eta != null && s.phase === "export") parts.push(`about ${fmtSeconds(s.eta)} left`);
  if (s.status === "completed" && s.warnings && s.warnings.length) parts.push(`Note: ${s.warnings.join("; ")}`);
  $("#progress-detail").textContent = parts.join(" · ");

  const errorBox = $("#render-error");
  errorBox.replaceChildren();
  errorBox.hidden = !(s.status === "failed" || s.status === "cancelled");
  if (s.status === "failed") {
    const head = document.createElement("p");
    head.textContent = s.error || "The render failed.";
    errorBox.append(head);
    if (s.problems) {
      const ul = document.createElement("ul");
      for (const p of s.problems) {
        const li = document.createElement("li");
        li.textContent = problemText(p);
        if (p.segment_id) {
          li.dataset.segment = p.segment_id;
          li.title = "Show this segment";
          li.addEventListener("click", () => document.getElementById(`segment-${p.segment_id}`)
            ?.scrollIntoView({ behavior: "smooth", block: "center" }));
        }
        ul.append(li);
      }
      errorBox.append(ul);
    }
  } else if (s.status === "cancelled") {
    errorBox.textContent = s.kind === "narrate" ? "Generating narration was cancelled." : "The render was cancelled. Nothing was saved.";
    errorBox.classList.add("soft");
  }
  if (s.status !== "cancelled") errorBox.classList.remove("soft");

  const result = $("#result");
  if (s.status === "completed" && s.video_url) {
    result.hidden = false;
    if (state.videoJob !== s.job_id) {
      state.videoJob = s.job_id;
      const video = $("#video");
      video.replaceChildren();
      video.src = s.video_url;
      if (s.captions_url) {
        const track = document.createElement("track");
        track.kind = "captions";
        track.label = "Captions";
        track.srclang = "en";
        track.src = s.captions_url.replace(/\.srt$/, ".vtt");
        video.append(track);
      }
    }
    $("#download").href = s.download_url;
    $("#captions").hidden = !s.captions_url;
    if (s.captions_url) $("#captions").href = s.captions_url;
    $("#chapters").hidden = !s.chapters_url;
    if (s.chapters_url) $("#chapters").href = s.chapters_url;
  } else if (!running) {
    result.hidden = true;
  }
}

// ---------------------------------------------------------------- voice and narration

const NARRATION_WORDS = {
  recorded: ["Recorded narration", null],
  generated: ["Generated narration", "Regenerate"],
  outdated: ["Out of date: the text or voice changed since it was generated", "Regenerate"],
  pending: ["Spoken from the text when the video renders", "Generate now"],
  missing: ["", null],
};

function showNarration(li, seg) {
  const [words, action] = NARRATION_WORDS[seg.narration] || ["", null];
  li.dataset.narration = seg.narration;
  const label = $(".seg-narration", li);
  label.textContent = words;
  label.classList.toggle("warn", seg.narration === "outdated");
  const button = $(".seg-generate", li);
  button.hidden = !seg.text.trim();
  button.textContent = action || "Replace with a generated narration";
}

async function setupVoicePanel(schema) {
  const speed = ((schema.$defs || {}).Voice || {}).properties?.speed || {};
  const range = $("#voice-speed");
  range.min = speed.minimum ?? 0.5;
  range.max = speed.maximum ?? 2;
  const select = $("#voice-name");
  select.replaceChildren();
  for (const engine of await api("GET", "/api/voices/")) {
    for (const voice of engine.ready ? engine.voices : []) {
      if (!voice.available) continue;
      const option = document.createElement("option");
      option.value = `${engine.name}:${voice.name}`;
      option.textContent = `${voice.name} (${engine.name}, ${voice.language}${voice.description ? ", " + voice.description : ""})`;
      select.append(option);
    }
  }
  range.addEventListener("input", () => { $("#voice-speed-value").textContent = `${Number(range.value).toFixed(2)}×`; });
  range.addEventListener("change", saveVoice);
  select.addEventListener("change", saveVoice);
  $("#voice-listen").addEventListener("click", listenVoice);
  $("#narrate-all").addEventListener("click", () => narrate(null, null));
  if (state.project) fillVoice(state.project.options);
}

function chosenVoice() {
  const [engine, voice] = ($("#voice-name").value || "hibari:heart").split(":");
  return { engine, voice, speed: Number($("#voice-speed").value) };
}

function fillVoice(options) {
  const voice = (options.settings || {}).voice || {};
  const value = `${voice.engine || "hibari"}:${voice.voice || "heart"}`;
  if ([...$("#voice-name").options].some((o) => o.value === value)) $("#voice-name").value = value;
  $("#voice-speed").value = voice.speed ?? 1;
  $("#voice-speed-value").textContent = `${Number($("#voice-speed").value).toFixed(2)}×`;
}

async function saveVoice() {
  await patchProject({ settings: { voice: chosenVoice() } });
  await reloadProject();
}

function listenVoice() {
  const { engine, voice, speed } = chosenVoice();
  const player = $("#voice-sample");
  player.src = `/api/voices/sample/?${new URLSearchParams({ engine, voice, speed })}`;
  player.play().catch((err) => showError(err));
}

async function narrate(segmentId, narrationState) {
  const body = segmentId ? { segment_id: segmentId } : {};
  if (narrationState === "recorded") {
    if (!confirm("Replace the uploaded recording with a generated narration?")) return;
    body.replace = true;
  }
  try {
    const accepted = await api("POST", `/api/projects/${state.project.id}/narrate/`, body);
    const kept = accepted.kept.length;
    toast(`Generating narration for ${accepted.segments.length} segment(s)` +
          (kept ? `; ${kept} with an uploaded recording left as they are` : ""));
    updateStatus({ ...state.lastStatus, kind: "narrate", status: "queued", phase: "", percent: 0, message: "Waiting…", error: null, problems: null });
  } catch (err) {
    showError(err);
  }
}

async function startRender() {
  try {
    $("#render").disabled = true;
    await api("POST", `/api/projects/${state.project.id}/render/`);
    updateStatus({ ...state.lastStatus, status: "queued", phase: "", percent: 0, message: "Waiting for a free render slot…", error: null, problems: null });
    loadProjects().catch(() => {});
  } catch (err) {
    $("#render").disabled = false;
    if (err.status === 400 && err.problems.length) {
      updateStatus({ ...state.lastStatus, status: "failed", error: err.message, problems: err.problems });
      const first = err.problems.find((p) => p.segment_id);
      if (first) document.getElementById(`segment-${first.segment_id}`)?.scrollIntoView({ behavior: "smooth", block: "center" });
    } else {
      showError(err);
    }
  }
}

async function cancelRender() {
  try {
    await api("POST", `/api/projects/${state.project.id}/cancel/`);
    toast("Cancelling the render…");
  } catch (err) {
    showError(err);
  }
}

// ---------------------------------------------------------------- create, import, delete

async function newProject() {
  const title = prompt("Title of the new story:", "Untitled story");
  if (title === null) return;
  try {
    const project = await api("POST", "/api/projects/", { title: title || "Untitled story", segments: [{ text: "" }] });
    location.hash = `#/project/${project.id}`;
    refreshLists();
  } catch (err) {
    showError(err);
  }
}

async function importFile(file) {
  const form = new FormData();
  form.append("file", file);
  try {
    toast(`Importing ${file.name}…`);
    const project = await api("POST", "/api/projects/", form);
    toast(`Imported “${project.title}” with ${project.segments} segments`);
    location.hash = `#/project/${project.id}`;
    refreshLists();
  } catch (err) {
    showError(err);
  }
}

async function deleteProject() {
  if (!state.project || !confirm(`Delete “${state.project.title}” with all its media and videos?`)) return;
  try {
    await api("DELETE", `/api/projects/${state.project.id}/`);
    location.hash = "";
    refreshLists();
  } catch (err) {
    showError(err);
  }
}

function setupImportDrop(zone) {
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("drag"); });
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
    const waiting = Object.keys(answer.skipped).length;
    toast(`${answer.queued.length} render${answer.queued.length === 1 ? "" : "s"} queued` +
      (waiting ? `; ${waiting} project${waiting === 1 ? " is" : "s are"} not ready or already rendering` : ""));
    refreshLists();
  } catch (err) {
    showError(err);
  }
}

// ---------------------------------------------------------------- start

async function main() {
  $("#new-project").addEventListener("click", newProject);
  $("#render-all").addEventListener("click", renderAll);
  $("#import-file").addEventListener("change", (event) => {
    if (event.target.files.length) importFile(event.target.files[0]);
    event.target.value = "";
  });
  setupImportDrop($("#import-drop"));
  setupImportDrop($(".sidebar"));
  $("#title").addEventListener("change", () => patchProject({ title: $("#title").value }));
  $("#opt-size").addEventListener("change", saveSize);
  for (const id of ["#opt-width", "#opt-height"]) {
    $(id).addEventListener("change", () => patchProject({ width: Number($("#opt-width").value), height: Number($("#opt-height").value) }));
  }
  $("#opt-fps").addEventListener("change", () => patchProject({ fps: $("#opt-fps").value }));
  $("#add-segment").addEventListener("click", addSegment);
  $("#render").addEventListener("click", startRender);
  $("#cancel").addEventListener("click", cancelRender);
  $("#delete-project").addEventListener("click", deleteProject);
  $("#refresh-preview").addEventListener("click", refreshPreview);
  window.addEventListener("hashchange", route);
  try {
    const schema = await loadSchema();
    buildSettingsFields(schema);
    await setupVoicePanel(schema);
  } catch (err) {
    showError(err);
  }
  refreshLists();
  route();
}

main();
