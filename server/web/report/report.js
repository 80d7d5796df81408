// The public tip page (/report-a-problem/): anyone, without a login, picks a
// place, says what is happening, adds photos and an optional contact, and
// gets a receipt. Photos go up with tus 1.0.0 (resumable: a weak signal picks
// up at the last byte that arrived); the tip goes with an Idempotency-Key
// kept for the retries of this very submission, so a lost answer never makes
// two tips. The receipt (tip id and token) lives in the URL fragment only
// (#status/<id>/<token>), which browsers never send to the server.
//
// The map shows the town outlines (GET /api/v1/towns.geojson, public) and a
// coordinate grid, over the configured tiles if any.

import { MapView } from './map.js';
import { t, setLang, lang, when } from './i18n.js';

const BAODI = [117.13, 39.45, 117.70, 39.90];
const TUS = '1.0.0';
const CHUNK = 128 * 1024;
const UPLOAD_RETRIES = 6;
const SUBMIT_RETRIES = 2;
const DRAFT = 'lp-report-draft';
const PENDING = 'lp-report-pending';
const MINE = 'lp-my-reports';

const $ = (sel) => document.querySelector(sel);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const state = {
  config: { tile_url: '', tile_crs: 'wgs84', tile_attribution: '', time_zone: 'Asia/Shanghai' },
  place: null, // { lon, lat, accuracy_m?, source: 'map' | 'gps' }
  bbox: BAODI,
  outlines: [], // town outlines (GeoJSON features), drawn once they arrive
  locating: false,
  placeNote: null, // () => text, under the place (a location failure)
  photos: [],
  seq: 0,
  busy: false,
  error: null, // { title: () => text, detail?: text }
  progress: null, // () => text
  view: 'form',
  status: null, // the status view's model: { loading } | { view } | { error }
  receipt: null, // { id, token }
};

// ---------------------------------------------------------------- storage

function load(store, key, fallback) {
  try {
    const v = store.getItem(key);
    return v ? JSON.parse(v) : fallback;
  } catch {
    return fallback;
  }
}

function keep(store, key, value) {
  try {
    if (value === null) store.removeItem(key);
    else store.setItem(key, JSON.stringify(value));
  } catch {
    // Private mode or a full store: the page works without.
  }
}

function saveDraft() {
  keep(sessionStorage, DRAFT, {
    description: $('#description').value,
    address: $('#address').value,
    name: $('#contact-name').value,
    phone: $('#contact-phone').value,
    email: $('#contact-email').value,
    place: state.place,
  });
}

function restoreDraft() {
  const d = load(sessionStorage, DRAFT, null);
  if (!d) return;
  $('#description').value = d.description || '';
  $('#address').value = d.address || '';
  $('#contact-name').value = d.name || '';
  $('#contact-phone').value = d.phone || '';
  $('#contact-email').value = d.email || '';
  if (d.place && Number.isFinite(d.place.lon) && Number.isFinite(d.place.lat)) state.place = d.place;
}

function myReports() {
  const list = load(localStorage, MINE, []);
  return Array.isArray(list) ? list.filter((r) => r && r.id && r.token) : [];
}

function remember(receipt) {
  const list = myReports().filter((r) => r.id !== receipt.id);
  list.unshift({ id: receipt.id, token: receipt.receipt_token, created_at: receipt.created_at });
  keep(localStorage, MINE, list.slice(0, 20));
}

// ---------------------------------------------------------------- words

function word(key, ...args) {
  const w = t(key);
  return typeof w === 'function' ? w(...args) : w;
}

function applyWords() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  document.title = `${t('report_problem')} · ${t('title')}`;
  for (const e of document.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
  for (const e of document.querySelectorAll('[data-tp]')) e.placeholder = t(e.dataset.tp);
  for (const e of document.querySelectorAll('[data-ta]')) e.setAttribute('aria-label', t(e.dataset.ta));
  const b = $('#lang');
  b.textContent = t('language');
  b.lang = lang === 'en' ? 'zh-CN' : 'en';
  renderPlace();
  renderPhotos();
  renderError();
  renderProgress();
  renderMine();
  renderReceipt();
  renderStatus();
}

// ---------------------------------------------------------------- errors

/// An answer of the API that is not a success, or a network failure.
class Problem extends Error {
  constructor({ status = 0, code = 'network', message = '', details = null, retryAfter = null } = {}) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

async function problemOf(r) {
  let body = null;
  try {
    body = await r.json();
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  const e = (body && body.error) || {};
  const ra = Number(r.headers.get('Retry-After'));
  const retryAfter = Number.isFinite(ra) && ra > 0 ? ra : (e.details && e.details.retry_after_secs) || null;
  return new Problem({ status: r.status, code: e.code || `http_${r.status}`, message: e.message || r.statusText, details: e.details || null, retryAfter });
}

/// The words for a problem: a headline in the page's language, and the server's own message.
function describe(p, photo) {
  if (!(p instanceof Problem)) return { title: () => t('error'), detail: String(p && p.message ? p.message : p) };
  const detail = p.code === 'network' ? null : p.message;
  if (p.code === 'network') return { title: () => t('network_error') };
  if (p.code === 'rate_limited') return { title: () => word('rate_limited', p.retryAfter || 60), detail };
  if (photo && (p.code.startsWith('photo_') || p.status === 413 || p.status === 415)) {
    return { title: () => word('photo_refused', photo.file.name), detail };
  }
  if (p.status >= 500) return { title: () => t('server_error'), detail };
  return { title: () => t('error'), detail };
}

function setError(err) {
  state.error = err;
  renderError();
  if (err) $('#form-error').scrollIntoView({ block: 'center', behavior: 'smooth' });
}

function renderError() {
  const box = $('#form-error');
  box.replaceChildren();
  if (!state.error) {
    box.hidden = true;
    return;
  }
  const lines = Array.isArray(state.error) ? state.error : [state.error];
  for (const e of lines) {
    const p = document.createElement('p');
    p.className = 'error-title';
    p.textContent = e.title();
    box.append(p);
    if (e.detail) {
      const d = document.createElement('p');
      d.className = 'error-detail';
      d.textContent = e.detail;
      box.append(d);
    }
  }
  box.hidden = false;
}

function fieldError(id, key) {
  const el = $(id);
  el.textContent = key ? t(key) : '';
  el.hidden = !key;
  el.dataset.t = key || '';
  if (!key) delete el.dataset.t;
}

const FIELDS = { description: '#description', address: '#address', 'contact.name': '#contact-name', 'contact.phone': '#contact-phone', 'contact.email': '#contact-email' };

function markInvalid(field) {
  for (const sel of Object.values(FIELDS)) $(sel).removeAttribute('aria-invalid');
  $('#map').classList.remove('invalid');
  if (field === 'place') $('#map').classList.add('invalid');
  else if (FIELDS[field]) $(FIELDS[field]).setAttribute('aria-invalid', 'true');
}

function setProgress(fn) {
  state.progress = fn;
  renderProgress();
}

function renderProgress() {
  const p = $('#progress');
  p.textContent = state.progress ? state.progress() : '';
  p.hidden = !state.progress;
}

// ---------------------------------------------------------------- map

function drawMap() {
  const host = $('#map');
  const tiles = state.config.tile_url
    ? { url: state.config.tile_url, crs: state.config.tile_crs, attribution: state.config.tile_attribution }
    : null;
  const view = new MapView(host, state.bbox, { tiles, onPick: (lon, lat) => pick({ lon, lat, source: 'map' }) });
  host.mapView = view; // the tests (and a curious reader) use its projection
  if (!tiles) drawGrid(view);
  for (const f of state.outlines) view.area(f.geometry, { label: f.properties.name });
  drawMarker();
  $('#map-hint').hidden = Boolean(tiles);
}

/// The smallest round step (1, 2 or 5 × 10ⁿ degrees) at least `min` degrees long.
function niceStep(min) {
  const p = 10 ** Math.floor(Math.log10(min));
  const m = min / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/// A graticule, so a map without tiles still shows scale and direction.
function drawGrid(view) {
  const NS = 'http://www.w3.org/2000/svg';
  const g = document.createElementNS(NS, 'g');
  g.setAttribute('class', 'grid');
  view.svg.insertBefore(g, view.areas);
  const [lonW] = view.unproject(0, 0);
  const [lonE, latS] = view.unproject(view.w, view.h);
  const [, latN] = view.unproject(0, 0);
  // Labels at least ~72 px apart across, ~44 px down.
  const lonStep = niceStep((72 * (lonE - lonW)) / view.w);
  const latStep = niceStep((44 * (latN - latS)) / view.h);
  const digits = (step) => Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
  const line = (x1, y1, x2, y2) => {
    const l = document.createElementNS(NS, 'line');
    for (const [k, v] of Object.entries({ x1, y1, x2, y2 })) l.setAttribute(k, v.toFixed(1));
    g.append(l);
  };
  const label = (x, y, text, anchor) => {
    const tx = document.createElementNS(NS, 'text');
    tx.setAttribute('x', x.toFixed(1));
    tx.setAttribute('y', y.toFixed(1));
    tx.setAttribute('text-anchor', anchor);
    tx.textContent = text;
    g.append(tx);
  };
  for (let i = Math.ceil(lonW / lonStep); i * lonStep <= lonE; i++) {
    const lon = i * lonStep;
    const [x] = view.project(lon, latS);
    line(x, 0, x, view.h);
    if (x < view.w - 60) label(x + 3, view.h - 6, `${lon.toFixed(digits(lonStep))}°E`, 'start');
  }
  for (let i = Math.ceil(latS / latStep); i * latStep <= latN; i++) {
    const lat = i * latStep;
    const [, y] = view.project(lonW, lat);
    line(0, y, view.w, y);
    if (y > 14) label(4, y - 3, `${lat.toFixed(digits(latStep))}°N`, 'start');
  }
}

function drawMarker() {
  const view = $('#map').mapView;
  if (!view) return;
  view.clearPoints();
  if (state.place) view.point(state.place.lon, state.place.lat, { cls: 'picked', r: 9, title: t('place_picked') });
}

function inBaodi(p) {
  return p.lon >= BAODI[0] && p.lon <= BAODI[2] && p.lat >= BAODI[1] && p.lat <= BAODI[3];
}

function pick(place) {
  state.place = place;
  state.placeNote = null;
  fieldError('#place-error', null);
  $('#map').classList.remove('invalid');
  drawMarker();
  renderPlace();
  saveDraft();
}

function renderPlace() {
  const s = $('#place-status');
  s.replaceChildren();
  if (state.locating) {
    s.textContent = t('locating');
  } else if (state.place) {
    const p = state.place;
    const strong = document.createElement('strong');
    strong.textContent = `${t('place_picked')}: `;
    s.append(strong, `${p.lat.toFixed(5)}°N, ${p.lon.toFixed(5)}°E`);
    if (p.accuracy_m) s.append(` (±${Math.round(p.accuracy_m)} m)`);
    if (!inBaodi(p)) {
      const w = document.createElement('span');
      w.className = 'warn';
      w.textContent = ` ${t('outside_baodi')}`;
      s.append(w);
    }
  }
  if (state.placeNote) {
    const n = document.createElement('span');
    n.className = 'warn';
    n.textContent = ` ${state.placeNote()}`;
    s.append(n);
  }
}

function zoom(factor) {
  const [a, b, c, d] = state.bbox;
  const full = [(BAODI[2] - BAODI[0]) / 2, (BAODI[3] - BAODI[1]) / 2];
  let hw = ((c - a) / 2) * factor;
  let hh = ((d - b) / 2) * factor;
  if (hw >= full[0] * 0.99) {
    state.bbox = BAODI;
  } else {
    hw = Math.max(hw, 0.001);
    hh = Math.max(hh, 0.001);
    const cx = state.place && factor < 1 ? state.place.lon : (a + c) / 2;
    const cy = state.place && factor < 1 ? state.place.lat : (b + d) / 2;
    state.bbox = [cx - hw, cy - hh, cx + hw, cy + hh];
  }
  drawMap();
}

function locate() {
  if (!navigator.geolocation) {
    state.placeNote = () => t('location_failed');
    renderPlace();
    return;
  }
  state.locating = true;
  state.placeNote = null;
  renderPlace();
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      state.locating = false;
      const { longitude: lon, latitude: lat, accuracy } = pos.coords;
      const r = 0.01;
      state.bbox = [lon - r, lat - r, lon + r, lat + r];
      drawMap();
      pick({ lon, lat, accuracy_m: Number.isFinite(accuracy) ? Math.round(accuracy * 10) / 10 : undefined, source: 'gps' });
    },
    () => {
      state.locating = false;
      state.placeNote = () => t('location_failed');
      renderPlace();
    },
    { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 },
  );
}

// ---------------------------------------------------------------- photos

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

function b64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

function size(n) {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} KB`;
}

function addPhoto(file) {
  const p = { id: ++state.seq, file, url: URL.createObjectURL(file), status: 'hashing', offset: 0, upload: null, sha: null, error: null };
  p.hashed = file
    .arrayBuffer()
    .then((buf) => crypto.subtle.digest('SHA-256', buf))
    .then((d) => {
      p.sha = hex(d);
      if (state.photos.some((q) => q !== p && q.sha === p.sha)) {
        removePhoto(p); // the same photo twice
        return;
      }
      p.status = 'ready';
      renderPhotos();
    })
    .catch(() => {
      p.status = 'failed';
      p.error = () => t('photo_unreadable');
      renderPhotos();
    });
  state.photos.push(p);
  renderPhotos();
}

function removePhoto(p) {
  state.photos = state.photos.filter((q) => q !== p);
  URL.revokeObjectURL(p.url);
  if (p.upload && p.status !== 'done') {
    // Tell the server it can drop the bytes (tus termination); nothing depends on the answer.
    fetch(p.upload, { method: 'DELETE', headers: { 'Tus-Resumable': TUS }, credentials: 'omit' }).catch(() => {});
  }
  renderPhotos();
}

function photoStatus(p) {
  switch (p.status) {
    case 'hashing': return t('photo_preparing');
    case 'ready': return size(p.file.size);
    case 'uploading': return p.retrying ? t('resuming') : `${t('uploading_one')} ${Math.floor((100 * p.offset) / p.file.size)}%`;
    case 'done': return t('photo_uploaded');
    case 'failed': return p.error ? p.error() : t('error');
    default: return '';
  }
}

function renderPhotos() {
  const list = $('#photo-list');
  const items = state.photos.map((p) => {
    const li = document.createElement('li');
    li.className = `photo ${p.status}`;
    li.dataset.sha = p.sha || '';
    const img = document.createElement('img');
    img.alt = '';
    img.src = p.url;
    img.addEventListener('error', () => img.classList.add('broken'));
    const info = document.createElement('div');
    info.className = 'photo-info';
    const name = document.createElement('span');
    name.className = 'photo-name';
    name.textContent = p.file.name;
    const st = document.createElement('span');
    st.className = 'photo-status';
    st.textContent = photoStatus(p);
    info.append(name, st);
    if (p.status === 'uploading' || p.status === 'done') {
      const bar = document.createElement('progress');
      bar.max = p.file.size;
      bar.value = p.status === 'done' ? p.file.size : p.offset;
      info.append(bar);
    }
    const rm = document.createElement('button');
    rm.type = 'button';
    rm.className = 'remove';
    rm.textContent = t('remove');
    rm.setAttribute('aria-label', `${t('remove')} ${p.file.name}`);
    rm.disabled = state.busy;
    rm.addEventListener('click', () => removePhoto(p));
    li.append(img, info, rm);
    return li;
  });
  list.replaceChildren(...items);
}

const retryable = (p) => p.code === 'network' || p.status >= 500 || [408, 409, 423].includes(p.status) || p.code === 'body_incomplete' || p.code === 'checksum_mismatch';

async function tusFetch(url, method, headers = {}, body) {
  let r;
  try {
    r = await fetch(url, { method, headers: { 'Tus-Resumable': TUS, ...headers }, body, credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new Problem({ code: 'network', message: e.message });
  }
  return r;
}

/// tus creation: the upload's path (kept on this origin).
async function create(p) {
  const meta = `sha256 ${b64(p.sha)},filetype ${b64(p.file.type || 'application/octet-stream')}`;
  const r = await tusFetch('/api/v1/uploads', 'POST', { 'Upload-Length': String(p.file.size), 'Upload-Metadata': meta });
  if (r.status !== 201) throw await problemOf(r);
  const loc = r.headers.get('Location');
  if (!loc) throw new Problem({ status: r.status, code: 'no_location', message: 'the server gave no upload URL' });
  p.upload = new URL(loc, location.href).pathname;
  p.offset = 0;
}

/// tus HEAD: where the server's copy stands.
async function resume(p) {
  const r = await tusFetch(p.upload, 'HEAD');
  if (r.status === 404 || r.status === 410) {
    p.upload = null; // gone or expired: start again
    p.offset = 0;
    return;
  }
  if (r.status !== 200) {
    // A HEAD answer has no body: the status is all there is.
    throw new Problem({ status: r.status, code: r.status === 415 || r.status === 422 ? 'photo_refused' : `http_${r.status}`, message: `HTTP ${r.status}` });
  }
  p.offset = Number(r.headers.get('Upload-Offset')) || 0;
  if (r.headers.get('Landpatrol-Photo-Sha256')) p.complete = true;
}

async function patch(p) {
  const end = Math.min(p.file.size, p.offset + CHUNK);
  const r = await tusFetch(p.upload, 'PATCH', { 'Upload-Offset': String(p.offset), 'Content-Type': 'application/offset+octet-stream' }, p.file.slice(p.offset, end));
  if (r.status === 404 || r.status === 410) {
    p.upload = null;
    p.offset = 0;
    throw new Problem({ status: r.status, code: 'upload_gone', message: `HTTP ${r.status}` });
  }
  if (r.status !== 204) throw await problemOf(r);
  p.offset = Number(r.headers.get('Upload-Offset')) || end;
  if (r.headers.get('Landpatrol-Photo-Sha256')) p.complete = true;
}

/// Uploads one photo with tus, resuming after a broken connection.
async function upload(p) {
  if (p.status === 'done') return;
  p.status = 'uploading';
  p.retrying = false;
  p.error = null;
  renderPhotos();
  let failures = 0;
  let needHead = Boolean(p.upload);
  let progressed = p.offset;
  for (;;) {
    try {
      if (needHead && p.upload) await resume(p);
      needHead = false;
      if (!p.upload) await create(p);
      p.retrying = false;
      renderPhotos();
      while (!p.complete && p.offset < p.file.size) {
        await patch(p);
        if (p.offset > progressed) {
          progressed = p.offset;
          failures = 0; // a weak signal that keeps moving is not a failure
        }
        renderPhotos();
      }
      if (!p.complete) await resume(p); // every byte sent; make sure the server took it in
      if (!p.complete) throw new Problem({ status: 503, code: 'not_taken_in', message: 'the upload is not complete yet' });
      p.status = 'done';
      renderPhotos();
      return;
    } catch (e) {
      const problem = e instanceof Problem ? e : new Problem({ code: 'network', message: String(e) });
      if (!(retryable(problem) || problem.code === 'upload_gone') || ++failures > UPLOAD_RETRIES) {
        p.status = 'failed';
        p.retrying = false;
        const d = describe(problem, p);
        p.error = d.title;
        renderPhotos();
        throw problem;
      }
      p.retrying = true;
      renderPhotos();
      await sleep(Math.min(15000, 500 * 2 ** failures));
      needHead = true;
    }
  }
}

// ---------------------------------------------------------------- the tip

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return hex(crypto.getRandomValues(new Uint8Array(16)));
}

function tipBody() {
  const p = state.place;
  const location = { lon: p.lon, lat: p.lat, crs: 'wgs84' };
  if (p.accuracy_m) location.accuracy_m = p.accuracy_m;
  const body = { location, description: $('#description').value.trim() };
  const address = $('#address').value.trim();
  if (address) body.address = address;
  body.photos = state.photos.map((q) => q.sha);
  const contact = {};
  for (const [k, sel] of [['name', '#contact-name'], ['phone', '#contact-phone'], ['email', '#contact-email']]) {
    const v = $(sel).value.trim();
    if (v) contact[k] = v;
  }
  if (Object.keys(contact).length) body.contact = contact;
  return body;
}

/// POST /tips with this submission's key: the same body always goes with the
/// same key (a retry is answered with the tip made the first time); a changed
/// body is a new submission and gets a new key.
async function sendTip(body) {
  const json = JSON.stringify(body);
  let pending = load(sessionStorage, PENDING, null);
  if (!pending || pending.body !== json) {
    pending = { key: newKey(), body: json };
    keep(sessionStorage, PENDING, pending);
  }
  for (let attempt = 0; ; attempt++) {
    let r;
    try {
      r = await fetch('/api/v1/tips', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Idempotency-Key': pending.key },
        body: json,
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (e) {
      if (attempt < SUBMIT_RETRIES) {
        await sleep(1000 * (attempt + 1));
        continue;
      }
      throw new Problem({ code: 'network', message: e.message });
    }
    if (r.status === 200 || r.status === 201) return r.json();
    const problem = await problemOf(r);
    if ((r.status === 502 || r.status === 503 || r.status === 504) && attempt < SUBMIT_RETRIES) {
      await sleep(1000 * (attempt + 1));
      continue;
    }
    if (problem.code === 'idempotency_conflict') keep(sessionStorage, PENDING, null);
    throw problem;
  }
}

function validate() {
  const lines = [];
  fieldError('#place-error', null);
  fieldError('#description-error', null);
  markInvalid(null);
  if (!state.place) {
    fieldError('#place-error', 'need_place');
    lines.push({ title: () => t('need_place') });
  }
  if (!$('#description').value.trim()) {
    fieldError('#description-error', 'need_description');
    lines.push({ title: () => t('need_description') });
    $('#description').setAttribute('aria-invalid', 'true');
  }
  if (!state.place) $('#map').classList.add('invalid');
  return lines;
}

function setBusy(busy) {
  state.busy = busy;
  const b = $('#submit');
  b.disabled = busy;
  b.setAttribute('aria-busy', String(busy));
  $('#photos').disabled = busy;
  renderPhotos();
}

async function submit(ev) {
  ev.preventDefault();
  if (state.busy) return;
  setError(null);
  const lines = validate();
  if (lines.length) {
    setError(lines);
    (state.place ? $('#description') : $('#map')).scrollIntoView({ block: 'center' });
    if (state.place) $('#description').focus();
    return;
  }
  setBusy(true);
  let current = null;
  try {
    await Promise.all(state.photos.map((p) => p.hashed));
    const unreadable = state.photos.find((p) => !p.sha);
    if (unreadable) throw Object.assign(new Error('unreadable'), { photo: unreadable });
    const n = state.photos.length;
    for (const [i, p] of state.photos.entries()) {
      current = p;
      setProgress(() => `${t('uploading')} (${i + 1}/${n})`);
      await upload(p);
    }
    current = null;
    setProgress(() => t('sending'));
    const receipt = await sendTip(tipBody());
    done(receipt);
  } catch (e) {
    if (e && e.photo) setError({ title: () => t('photo_unreadable') });
    else {
      const d = describe(e, current);
      if (e instanceof Problem && e.details && e.details.field) markInvalid(e.details.field);
      setError(d);
    }
  } finally {
    setProgress(null);
    setBusy(false);
  }
}

function done(receipt) {
  remember(receipt);
  keep(sessionStorage, PENDING, null);
  keep(sessionStorage, DRAFT, null);
  for (const p of state.photos) URL.revokeObjectURL(p.url);
  state.photos = [];
  state.place = null;
  state.error = null;
  $('#tip-form').reset();
  location.hash = `#receipt/${encodeURIComponent(receipt.id)}/${encodeURIComponent(receipt.receipt_token)}`;
}

// ---------------------------------------------------------------- receipt and status

function statusUrl(id, token) {
  return `${location.origin}${location.pathname}#status/${encodeURIComponent(id)}/${encodeURIComponent(token)}`;
}

function renderReceipt() {
  const r = state.receipt;
  if (!r) return;
  $('#receipt-id').textContent = r.id;
  const mine = myReports().find((m) => m.id === r.id);
  $('#receipt-time').textContent = mine && mine.created_at ? when(mine.created_at, state.config.time_zone) : '—';
  $('#status-link').href = `#status/${encodeURIComponent(r.id)}/${encodeURIComponent(r.token)}`;
  $('#status-url').value = statusUrl(r.id, r.token);
}

function renderMine() {
  const list = myReports();
  $('#my-reports').hidden = list.length === 0;
  $('#my-reports-list').replaceChildren(
    ...list.map((r) => {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `#status/${encodeURIComponent(r.id)}/${encodeURIComponent(r.token)}`;
      a.textContent = `${r.created_at ? when(r.created_at, state.config.time_zone) : ''} · ${r.id.slice(0, 8)}`;
      li.append(a);
      return li;
    }),
  );
}

const PUBLIC = ['received', 'in_progress', 'closed'];

function renderStatus() {
  const box = $('#status-body');
  const s = state.status;
  if (!s) return;
  box.replaceChildren();
  if (s.loading) {
    box.textContent = t('loading');
    return;
  }
  if (s.error) {
    const p = document.createElement('p');
    p.className = 'notice error';
    p.textContent = s.error.title();
    box.append(p);
    if (s.error.detail) {
      const d = document.createElement('p');
      d.className = 'error-detail';
      d.textContent = s.error.detail;
      box.append(d);
    }
    return;
  }
  const v = s.view;
  const badge = document.createElement('p');
  badge.className = `badge ${v.public_status}`;
  badge.id = 'public-status';
  badge.textContent = t(`public_${v.public_status}`);
  const explain = document.createElement('p');
  explain.className = 'explain';
  explain.textContent = t(`explain_${v.public_status}`);
  const steps = document.createElement('ol');
  steps.className = 'steps';
  const at = PUBLIC.indexOf(v.public_status);
  for (const [i, k] of PUBLIC.entries()) {
    const li = document.createElement('li');
    li.className = i < at ? 'done' : i === at ? 'current' : 'todo';
    li.textContent = t(`public_${k}`);
    if (i === at) li.setAttribute('aria-current', 'step');
    steps.append(li);
  }
  const dl = document.createElement('dl');
  dl.className = 'facts';
  const fact = (key, value, cls) => {
    if (!value) return;
    const dt = document.createElement('dt');
    dt.textContent = t(key);
    const dd = document.createElement('dd');
    dd.textContent = value;
    if (cls) dd.className = cls;
    dl.append(dt, dd);
  };
  fact('received_at', when(v.created_at, state.config.time_zone));
  fact('updated_at', when(v.updated_at, state.config.time_zone));
  fact('case_number', v.case_number, 'mono');
  fact('description', v.description, 'prose');
  fact('receipt', v.id, 'mono');
  box.append(badge, steps, explain, dl);
  // The photos as anyone may see them: copies without EXIF or GPS, made by the server.
  if ((v.photos || []).length) {
    const strip = document.createElement('div');
    strip.className = 'status-photos';
    for (const url of v.photos) {
      const img = document.createElement('img');
      img.src = url;
      img.alt = t('attach_photos');
      img.loading = 'lazy';
      strip.append(img);
    }
    box.append(strip);
  }
}

async function loadStatus(id, token) {
  state.status = { loading: true };
  renderStatus();
  try {
    let r;
    try {
      r = await fetch(`/api/v1/tips/${encodeURIComponent(id)}?receipt_token=${encodeURIComponent(token)}`, { credentials: 'omit', cache: 'no-store' });
    } catch (e) {
      throw new Problem({ code: 'network', message: e.message });
    }
    if (r.status === 404 || r.status === 400) {
      state.status = { error: { title: () => t('receipt_not_found') } };
    } else if (!r.ok) {
      state.status = { error: describe(await problemOf(r)) };
    } else {
      state.status = { view: await r.json() };
    }
  } catch (e) {
    state.status = { error: describe(e) };
  }
  renderStatus();
}

// ---------------------------------------------------------------- views

function show(view) {
  state.view = view;
  for (const v of ['form', 'receipt', 'status']) $(`#${v}-view`).hidden = v !== view;
  document.body.dataset.view = view;
  window.scrollTo(0, 0);
}

function route() {
  const m = /^#(status|receipt)\/([^/]+)\/([^/]+)$/.exec(location.hash);
  if (m) {
    const id = decodeURIComponent(m[2]);
    const token = decodeURIComponent(m[3]);
    if (m[1] === 'receipt') {
      state.receipt = { id, token };
      show('receipt');
      renderReceipt();
    } else {
      show('status');
      loadStatus(id, token);
    }
    return;
  }
  state.receipt = null;
  state.status = null;
  show('form');
  renderMine();
  if (!$('#map').mapView || $('#map').mapView.w !== $('#map').clientWidth) drawMap();
  else drawMarker();
  renderPlace();
}

async function loadConfig() {
  try {
    const r = await fetch('/console/config.json', { credentials: 'omit' });
    if (r.ok) Object.assign(state.config, await r.json());
  } catch {
    // No config: a map without tiles, times in Asia/Shanghai.
  }
}

/// The town outlines, so a reader sees which town a place is in (public data).
async function loadOutlines() {
  try {
    const r = await fetch('/api/v1/towns.geojson', { credentials: 'omit' });
    if (r.ok) state.outlines = (await r.json()).features || [];
  } catch {
    // No outlines: the grid alone.
  }
}

async function main() {
  restoreDraft();
  await Promise.all([loadConfig(), loadOutlines()]);
  applyWords();
  $('#lang').addEventListener('click', () => {
    setLang(lang === 'en' ? 'zh' : 'en');
    applyWords();
  });
  $('#tip-form').addEventListener('submit', submit);
  $('#tip-form').addEventListener('input', saveDraft);
  $('#description').addEventListener('input', () => {
    if ($('#description').value.trim()) {
      fieldError('#description-error', null);
      $('#description').removeAttribute('aria-invalid');
    }
  });
  $('#photos').addEventListener('change', (ev) => {
    for (const f of ev.target.files) addPhoto(f);
    ev.target.value = '';
  });
  $('#locate').addEventListener('click', locate);
  $('#zoom-in').addEventListener('click', () => zoom(0.5));
  $('#zoom-out').addEventListener('click', () => zoom(2));
  $('#refresh').addEventListener('click', () => route());
  $('#copy-link').addEventListener('click', async () => {
    const input = $('#status-url');
    try {
      await navigator.clipboard.writeText(input.value);
      $('#copied').textContent = t('copied');
    } catch {
      input.focus();
      input.select();
    }
  });
  for (const a of document.querySelectorAll('a[data-t="new_report"]')) {
    a.addEventListener('click', (ev) => {
      ev.preventDefault();
      history.pushState(null, '', location.pathname);
      route();
    });
  }
  let width = 0;
  window.addEventListener('resize', () => {
    const w = $('#map').clientWidth;
    if (state.view === 'form' && w && w !== width) {
      width = w;
      drawMap();
    }
  });
  window.addEventListener('hashchange', route);
  route();
  document.body.dataset.ready = 'true';
}

main();
