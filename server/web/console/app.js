// The console: one page, routed by the URL fragment (#/inbox, #/cases/<id>, …),
// every view drawn from the same HTTP API the phones use.

import { api, ApiError, download, follow, imageUrl, onSession, resume, signIn, signOut, user } from './api.js';
import { MapView } from './map.js';
import { esc, lang, name, setLang, t, when } from './i18n.js';

const view = document.getElementById('view');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
let config = { tile_url: '', tile_crs: 'wgs84', tile_attribution: '', time_zone: 'Asia/Shanghai' };
let towns = null; // summaries
const boundaries = new Map();
let stopStream = null;
const inbox = { alerts: [], unread: 0, state: '', listeners: new Set() };

const STATUSES = ['reported', 'registered', 'rectifying', 'rectified', 'accepted', 'closed', 'dismissed'];
const SOURCES = ['satellite', 'legacy', 'patrol', 'idle_land', 'tip'];
const VIOLATIONS = ['built_without_approval', 'beyond_approval', 'farmland_occupation', 'aquaculture_on_farmland', 'illegal_transfer', 'idle_land', 'other'];
const LAND_CLASSES = ['inside_plan', 'outside_plan', 'basic_farmland'];
const DISPOSITIONS = ['legalise_after_penalty', 'demolish_self', 'demolish_forced'];
const ROLES = ['town_officer', 'inspector', 'verifier', 'bureau_admin'];
const options = (list, list_name, current) => `<option value="">—</option>${list.map((v) => `<option value="${v}" ${current === v ? 'selected' : ''}>${esc(name(list_name, v))}</option>`).join('')}`;
const ROLES_NAV = {
  town_officer: ['inbox', 'cases', 'tips', 'webhooks'],
  bureau_admin: ['inbox', 'map', 'cases', 'tips', 'acceptance', 'report', 'import', 'campaigns', 'towns', 'users', 'webhooks'],
  verifier: ['map', 'cases', 'acceptance', 'report'],
  inspector: ['cases'],
};

// A template parses table rows too (a <div> would drop a <tr>).
const h = (html) => { const d = document.createElement('template'); d.innerHTML = html.trim(); return d.content.firstElementChild; };
const when2 = (iso) => when(iso, config.time_zone);
const qs = (o) => new URLSearchParams(Object.entries(o).filter(([, v]) => v !== '' && v != null)).toString();

function fail(e) {
  const msg = e instanceof ApiError ? `${e.message}${e.code ? ` (${e.code})` : ''}` : String(e);
  view.replaceChildren(h(`<div class="notice error" role="alert">${esc(t('error'))}: ${esc(msg)}</div>`));
}

function flash(text, kind = 'ok') {
  const n = h(`<div class="flash ${kind}" role="status">${esc(text)}</div>`);
  document.body.append(n);
  setTimeout(() => n.remove(), 4000);
}

async function townList() {
  if (!towns) towns = await api('/api/v1/towns');
  return towns;
}

async function boundary(id) {
  if (!boundaries.has(id)) boundaries.set(id, api(`/api/v1/towns/${id}`));
  return boundaries.get(id);
}

/// Every case matching `filter`, page by page (the API gives at most 500 at a time).
async function allCases(filter, most = 5000) {
  const items = [];
  let cursor = '';
  do {
    const page = await api(`/api/v1/cases?${qs({ ...filter, limit: 500, cursor })}`);
    items.push(...page.items);
    cursor = page.next_cursor || '';
  } while (cursor && items.length < most);
  return items;
}

function townName(ref) { return ref ? ref.name : t('unassigned'); }
function townNameByCode(code) { return ((towns || []).find((x) => x.code === code) || { name: code }).name; }

// ---- the live inbox (kept for the whole session, so the badge is always right)

function startInbox() {
  const u = user();
  if (stopStream || !u || !['town_officer', 'bureau_admin'].includes(u.role)) return;
  api('/api/v1/alerts?limit=200').then((page) => {
    inbox.alerts = page.alerts;
    recount();
  }).catch(() => {});
  stopStream = follow('/api/v1/alerts/stream', (type, alert) => {
    if (type !== 'alert') return;
    const i = inbox.alerts.findIndex((a) => a.id === alert.id);
    if (i >= 0) inbox.alerts[i] = alert; else inbox.alerts.unshift(alert);
    recount();
    if (!alert.acked_at) notify(alert);
  }, (state) => { inbox.state = state; recount(); });
}

function recount() {
  inbox.unread = inbox.alerts.filter((a) => !a.acked_at).length;
  const badge = document.getElementById('unread');
  if (badge) {
    badge.textContent = inbox.unread ? String(inbox.unread) : '';
    badge.hidden = !inbox.unread;
  }
  document.title = `${inbox.unread ? `(${inbox.unread}) ` : ''}${t('title')} · ${t('console')}`;
  for (const f of inbox.listeners) f();
}

function notify(alert) {
  try {
    const ctx = new AudioContext();
    const o = ctx.createOscillator();
    o.frequency.value = 880;
    o.connect(ctx.destination);
    o.start();
    o.stop(ctx.currentTime + 0.15);
  } catch { /* no sound where the browser refuses */ }
  if ('Notification' in window && Notification.permission === 'granted') {
    new Notification(name('kind', alert.kind), { body: alert.title, tag: alert.id });
  }
}

async function ack(ids) {
  for (const id of ids) {
    const a = await api(`/api/v1/alerts/${id}/ack`, { method: 'POST', body: {} });
    const i = inbox.alerts.findIndex((x) => x.id === id);
    if (i >= 0) inbox.alerts[i] = a;
  }
  recount();
}

// ---- views

const views = {
  async inbox() {
    const root = h(`<section class="inbox"><h1>${esc(t('inbox'))} <span class="state"></span></h1>
      <div class="bar"><button class="ack-selected">${esc(t('ack'))}</button>
      <button class="ack-all">${esc(t('ack_all'))}</button>
      <button class="allow-notify" hidden>${esc(t('notify'))}</button></div><ul class="alerts"></ul></section>`);
    view.replaceChildren(root);
    const list = root.querySelector('.alerts');
    const draw = () => {
      root.querySelector('.state').textContent = inbox.state === 'live' ? `● ${t('live')}` : inbox.state ? t('reconnecting') : '';
      root.querySelector('.state').className = `state ${inbox.state}`;
      if (!inbox.alerts.length) { list.replaceChildren(h(`<li class="empty">${esc(t('no_alerts'))}</li>`)); return; }
      list.replaceChildren(...inbox.alerts.map((a) => {
        const li = h(`<li class="alert ${a.acked_at ? 'acked' : 'unread'}" data-id="${esc(a.id)}">
          <input type="checkbox" aria-label="${esc(t('ack'))}" ${a.acked_at ? 'disabled' : ''}>
          <span class="kind k-${esc(a.kind)}">${esc(name('kind', a.kind))}</span>
          <a class="title" href="${a.case_id ? `#/cases/${esc(a.case_id)}` : a.tip_id ? '#/tips' : '#/inbox'}">${esc(a.title)}</a>
          <span class="town">${esc(townName(a.town))}</span>
          <time>${esc(when2(a.created_at))}</time>
          ${a.acked_at ? `<span class="acked-note">${esc(t('acked'))}</span>` : `<button class="ack-one">${esc(t('ack'))}</button>`}
        </li>`);
        const one = li.querySelector('.ack-one');
        if (one) one.addEventListener('click', () => ack([a.id]).catch(fail));
        return li;
      }));
    };
    root.querySelector('.ack-selected').addEventListener('click', () => {
      const ids = [...list.querySelectorAll('input:checked')].map((c) => c.closest('li').dataset.id);
      ack(ids).catch(fail);
    });
    root.querySelector('.ack-all').addEventListener('click', () => {
      ack(inbox.alerts.filter((a) => !a.acked_at).map((a) => a.id)).catch(fail);
    });
    if ('Notification' in window && Notification.permission === 'default') {
      const b = root.querySelector('.allow-notify');
      b.hidden = false;
      b.addEventListener('click', () => Notification.requestPermission().then(() => { b.hidden = true; }));
    }
    inbox.listeners.clear();
    inbox.listeners.add(draw);
    draw();
  },

  async cases(params) {
    const u = user();
    const f = { status: params.get('status') || '', source: params.get('source') || '', overdue: params.get('overdue') || '',
      town: params.get('town') || '' };
    const all = await townList();
    const root = h(`<section class="cases"><h1>${esc(t('cases'))}</h1>
      <form class="filters">
        <label>${esc(t('status'))} <select name="status"><option value="">${esc(t('all'))}</option>
          ${STATUSES.map((s) => `<option value="${s}" ${f.status === s ? 'selected' : ''}>${esc(name('status', s))}</option>`).join('')}</select></label>
        <label>${esc(t('source'))} <select name="source"><option value="">${esc(t('all'))}</option>
          ${SOURCES.map((s) => `<option value="${s}" ${f.source === s ? 'selected' : ''}>${esc(name('source', s))}</option>`).join('')}</select></label>
        ${u.role === 'town_officer' ? '' : `<label>${esc(t('town'))} <select name="town"><option value="">${esc(t('all'))}</option>
          <option value="unassigned" ${f.town === 'unassigned' ? 'selected' : ''}>${esc(t('unassigned'))}</option>
          ${all.map((x) => `<option value="${esc(x.code)}" ${f.town === x.code ? 'selected' : ''}>${esc(x.name)}</option>`).join('')}</select></label>`}
        <label><input type="checkbox" name="overdue" value="true" ${f.overdue ? 'checked' : ''}> ${esc(t('overdue'))}</label>
        <button>${esc(t('filter'))}</button></form>
      <div class="split"><div class="mapbox"></div><table class="list"><thead><tr><th>${esc(t('number'))}</th><th>${esc(t('status'))}</th>
        <th>${esc(t('source'))}</th><th>${esc(t('town'))}</th><th>${esc(t('deadline'))}</th><th>${esc(t('description'))}</th></tr></thead>
        <tbody><tr><td colspan="6">${esc(t('loading'))}</td></tr></tbody></table></div></section>`);
    view.replaceChildren(root);
    root.querySelector('.filters').addEventListener('submit', (e) => {
      e.preventDefault();
      const d = Object.fromEntries(new FormData(e.target));
      location.hash = `#/cases?${qs(d)}`;
    });
    const page = { items: await allCases(f) };
    const body = root.querySelector('tbody');
    body.replaceChildren(...page.items.map((c) => h(`<tr class="${c.overdue ? 'overdue' : ''}" data-id="${esc(c.id)}">
      <td><a href="#/cases/${esc(c.id)}">${esc(c.case_number)}</a></td><td><span class="st st-${esc(c.status)}">${esc(name('status', c.status))}</span></td>
      <td>${esc(name('source', c.source))}</td><td>${esc(townName(c.town))}${c.near_boundary ? ` <span class="nb" title="${esc(t('near_boundary'))}">⚑</span>` : ''}</td>
      <td>${esc(c.deadline || '')}${c.overdue ? ` <b class="od">${esc(t('overdue'))}</b>` : ''}</td><td>${esc(c.description)}</td></tr>`)));
    if (!page.items.length) body.replaceChildren(h(`<tr><td colspan="6">${esc(t('none'))}</td></tr>`));
    // The map: the caller's town (or the district), and the cases on it.
    const mine = u.role === 'town_officer' ? all.filter((x) => x.id === u.town_id) : f.town && f.town !== 'unassigned' ? all.filter((x) => x.code === f.town) : all;
    await drawMap(root.querySelector('.mapbox'), mine, page.items);
  },

  async case(params, id) {
    const [c, inspections] = await Promise.all([api(`/api/v1/cases/${id}`), api(`/api/v1/cases/${id}/inspections`).catch(() => [])]);
    const u = user();
    const root = h(`<section class="case"><p><a href="#/cases">← ${esc(t('back'))}</a></p>
      <h1>${esc(c.case_number)} <span class="st st-${esc(c.status)}">${esc(name('status', c.status))}</span></h1>
      <div class="split"><dl class="fields">
        <dt>${esc(t('source'))}</dt><dd>${esc(name('source', c.source))}</dd>
        <dt>${esc(t('town'))}</dt><dd>${esc(townName(c.town))}${c.near_boundary ? ` · ${esc(t('near_boundary'))}${c.neighbour_town ? ` (${esc(c.neighbour_town.name)})` : ''}` : ''}</dd>
        <dt>${esc(t('location'))}</dt><dd>${c.location.lon.toFixed(6)}, ${c.location.lat.toFixed(6)} (WGS-84)</dd>
        <dt>${esc(t('created'))}</dt><dd>${esc(when2(c.discovered_at || c.created_at))}</dd>
        <dt>${esc(t('deadline'))}</dt><dd>${esc(c.deadline || '—')}${c.overdue ? ` <b class="od">${esc(t('overdue'))}</b>` : ''}</dd>
        <dt>${esc(t('violation'))}</dt><dd>${esc(c.violation_type ? name('violation', c.violation_type) : '—')}</dd>
        <dt>${esc(t('area'))}</dt><dd>${c.area_m2 != null ? `${Math.round(c.area_m2)} m²` : '—'}</dd>
        <dt>${esc(t('address'))}</dt><dd class="address">${esc(c.address || '—')}</dd>
        <dt>${esc(t('description'))}</dt><dd class="description">${esc(c.description || '—')}</dd>
      </dl><div class="mapbox small"></div></div>
      <h2>${esc(t('transitions'))}</h2><form class="transition">
        ${c.allowed_transitions.length ? c.allowed_transitions.map((s) => `<label><input type="radio" name="to" value="${s}"> ${esc(name('status', s))}</label>`).join(' ')
          : `<span class="muted">${esc(t('none'))}</span>`}
        ${c.allowed_transitions.length ? `<input name="note" placeholder="${esc(t('note'))}" maxlength="4000"><button>${esc(t('do'))}</button>` : ''}</form>
      <ul class="rules">${ruleHints(c).map((r) => `<li>${esc(r)}</li>`).join('')}</ul>
      ${u.role === 'bureau_admin' ? `<form class="reassign"><label>${esc(t('reassign'))} ${esc(t('to_town'))}
        <select name="town"><option value="">${esc(t('unassigned'))}</option></select></label>
        <input name="note" placeholder="${esc(t('note'))}"><button>${esc(t('reassign'))}</button></form>` : ''}
      <details class="edit"><summary>${esc(t('edit'))}</summary><form class="fields-edit">
        <label>${esc(t('description'))} <textarea name="description" maxlength="4000">${esc(c.description)}</textarea></label>
        <label>${esc(t('address'))} <input name="address" maxlength="500" value="${esc(c.address)}"></label>
        <label>${esc(t('violation'))} <select name="violation_type">${options(VIOLATIONS, 'violation', c.violation_type)}</select></label>
        <label>${esc(t('land_class'))} <select name="land_class">${options(LAND_CLASSES, 'land_class', c.land_class)}</select></label>
        <label>${esc(t('disposition'))} <select name="disposition">${options(DISPOSITIONS, 'disposition', c.disposition)}</select></label>
        <label>${esc(t('notice_served'))} <input name="notice_served_at" type="date" value="${esc((c.notice_served_at || '').slice(0, 10))}"></label>
        <button>${esc(t('save'))}</button> <span class="msg" role="status"></span></form></details>
      <h2>${esc(t('photos'))}</h2><div class="photos"></div>
      <h2>${esc(t('inspections'))}</h2><ul class="inspections">${inspections.length ? inspections.map((i) => `<li>
        <time>${esc(when2(i.inspected_at || i.created_at))}</time> ${esc(i.kind || '')} ${esc(i.result || '')} ${esc(i.note || '')}</li>`).join('')
        : `<li class="muted">${esc(t('none'))}</li>`}</ul>
      <h2>${esc(t('history'))}</h2><ol class="history">${c.history.map((e) => `<li>
        <time>${esc(when2(e.at))}</time> <b>${esc(name('action', e.action))}</b>
        ${e.from_status || e.to_status ? `${esc(name('status', e.from_status || ''))} → ${esc(name('status', e.to_status || ''))}` : ''}
        <span class="actor">${esc(e.actor_name)}</span> ${e.note ? `<q>${esc(e.note)}</q>` : ''}</li>`).join('')}</ol></section>`);
    view.replaceChildren(root);
    root.querySelector('.transition').addEventListener('submit', async (e) => {
      e.preventDefault();
      const d = Object.fromEntries(new FormData(e.target));
      if (!d.to) return;
      try {
        await api(`/api/v1/cases/${id}/transitions`, { method: 'POST', body: { from: c.status, to: d.to, note: d.note || null } });
        flash(`${c.case_number}: ${name('status', d.to)}`);
        route();
      } catch (err) { flash(err.message, 'error'); }
    });
    root.querySelector('.fields-edit').addEventListener('submit', async (e) => {
      e.preventDefault();
      const d = Object.fromEntries(new FormData(e.target));
      const fields = {};
      for (const k of ['description', 'address']) if (d[k] !== (c[k] || '')) fields[k] = d[k];
      for (const k of ['violation_type', 'land_class', 'disposition']) if ((d[k] || null) !== (c[k] || null)) fields[k] = d[k] || null;
      const served = d.notice_served_at ? `${d.notice_served_at}T00:00:00+08:00` : null;
      if ((served && served.slice(0, 10)) !== ((c.notice_served_at || '').slice(0, 10) || null)) fields.notice_served_at = served;
      const msg = e.target.querySelector('.msg');
      if (!Object.keys(fields).length) { msg.textContent = t('nothing_changed'); return; }
      try {
        await api(`/api/v1/cases/${id}`, { method: 'PATCH', body: { base_rev: c.rev, fields } });
        flash(`${c.case_number}: ${t('saved')}`);
        route();
      } catch (err) {
        msg.textContent = err.code === 'stale_revision' ? t('stale') : err.message;
      }
    });
    const re = root.querySelector('.reassign');
    if (re) {
      const sel = re.querySelector('select');
      for (const x of await townList()) sel.append(h(`<option value="${esc(x.code)}">${esc(x.name)}</option>`));
      re.addEventListener('submit', async (e) => {
        e.preventDefault();
        const d = Object.fromEntries(new FormData(e.target));
        try {
          await api(`/api/v1/cases/${id}/reassign`, { method: 'POST', body: { town: d.town || null, note: d.note || '' } });
          route();
        } catch (err) { flash(err.message, 'error'); }
      });
    }
    const ph = root.querySelector('.photos');
    if (!c.photos.length) ph.append(h(`<p class="muted">${esc(t('none'))}</p>`));
    for (const p of c.photos) {
      const words = p.flags.map((fl) => (fl === 'far_from_report' && p.distance_m != null ? t('far')(p.distance_m)
        : fl === 'time_mismatch' && p.time_diff_secs != null ? t('time')(p.time_diff_secs) : name('flag', fl)));
      const fig = h(`<figure class="photo"><button class="thumb" aria-label="${esc(t('open'))}"><img alt="${esc(p.sha256.slice(0, 12))}"></button>
        <figcaption>${esc(name('action', p.record_kind))} · ${esc(when2(p.reported_at))}
        ${words.length ? `<ul class="flags">${words.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : ''}</figcaption></figure>`);
      ph.append(fig);
      if (p.thumbnail === 'ready') {
        imageUrl(`/api/v1/photos/${p.sha256}/thumb?size=256`).then((u2) => { fig.querySelector('img').src = u2; }).catch(() => {});
      } else {
        fig.querySelector('img').alt = p.thumbnail;
      }
      fig.querySelector('.thumb').addEventListener('click', async () => {
        const full = h(`<div class="overlay" role="dialog"><img alt="${esc(p.sha256)}"><button class="close">×</button></div>`);
        document.body.append(full);
        full.addEventListener('click', () => full.remove());
        full.querySelector('img').src = await imageUrl(`/api/v1/photos/${p.sha256}/original`);
      });
    }
    const t0 = c.town ? [(await townList()).find((x) => x.id === c.town.id)].filter(Boolean) : [];
    await drawMap(root.querySelector('.mapbox'), t0, [c]);
  },

  async tips(params) {
    const status = params.get('status') || 'received';
    const page = await api(`/api/v1/tips?${qs({ status, limit: 200 })}`);
    const root = h(`<section class="tips"><h1>${esc(t('tips'))}</h1><ul class="tiplist"></ul></section>`);
    view.replaceChildren(root);
    const list = root.querySelector('.tiplist');
    if (!page.items.length) list.append(h(`<li class="muted">${esc(t('none'))}</li>`));
    // Each tip's office view (with its duplicates), fetched together rather than one after another.
    const fulls = await Promise.all(page.items.map((tip) => api(`/api/v1/tips/${tip.id}`)));
    for (const [k, tip] of page.items.entries()) {
      const full = fulls[k];
      const li = h(`<li class="tip" data-id="${esc(tip.id)}"><p><b>${esc(townName(tip.town))}</b> <time>${esc(when2(tip.created_at))}</time>
        ${esc(tip.description)} <span class="muted">${esc(tip.address || '')}</span></p>
        ${(full.duplicates || []).length ? `<p>${esc(t('duplicates'))}: ${full.duplicates.map((d) => `<a href="#/cases/${esc(d.case_id || d.id)}">${esc(d.case_number)}</a> (${Math.round(d.distance_m)} m)`).join(', ')}</p>` : ''}
        <form class="triage"><select name="action"><option value="create_case">${esc(t('make_case'))}</option>
        ${(full.duplicates || []).map((d) => `<option value="merge:${esc(d.case_id || d.id)}">${esc(t('merge'))} ${esc(d.case_number)}</option>`).join('')}
        <option value="reject">${esc(t('reject'))}</option></select><input name="note" placeholder="${esc(t('note'))}"><button>${esc(t('triage'))}</button></form></li>`);
      if ((full.duplicates || []).length) {
        const box = document.createElement('div');
        box.className = 'mapbox mini';
        li.append(box);
        queueMicrotask(async () => {
          const here = full.location;
          const pts = [here, ...full.duplicates.map((d) => d.location).filter(Boolean)];
          const pad = 0.004;
          const m = new MapView(box, [Math.min(...pts.map((p) => p.lon)) - pad, Math.min(...pts.map((p) => p.lat)) - pad,
            Math.max(...pts.map((p) => p.lon)) + pad, Math.max(...pts.map((p) => p.lat)) + pad],
          { tiles: { url: config.tile_url, crs: config.tile_crs, attribution: config.tile_attribution } });
          m.point(here.lon, here.lat, { cls: 'pick', title: t('tips'), r: 7 });
          for (const d of full.duplicates) {
            if (d.location) m.point(d.location.lon, d.location.lat, { title: `${d.case_number} (${Math.round(d.distance_m)} m)`, onClick: () => { location.hash = `#/cases/${d.case_id || d.id}`; } });
          }
        });
      }
      li.querySelector('form').addEventListener('submit', async (e) => {
        e.preventDefault();
        const d = Object.fromEntries(new FormData(e.target));
        const body = d.action.startsWith('merge:') ? { action: 'merge', case_id: d.action.slice(6), note: d.note || null }
          : d.action === 'reject' ? { action: 'reject', note: d.note } : { action: 'create_case', note: d.note || null };
        try { await api(`/api/v1/tips/${tip.id}/triage`, { method: 'POST', body }); route(); } catch (err) { flash(err.message, 'error'); }
      });
      list.append(li);
    }
  },

  async webhooks() {
    const hooks = await api('/api/v1/webhooks');
    const root = h(`<section class="webhooks"><h1>${esc(t('webhooks'))}</h1>
      <form class="new"><input name="url" type="url" required placeholder="https://…" size="50"><input name="description" placeholder="${esc(t('description'))}">
      <button>${esc(t('register'))}</button></form><div class="secret" hidden></div><ul class="hooks"></ul></section>`);
    view.replaceChildren(root);
    root.querySelector('.new').addEventListener('submit', async (e) => {
      e.preventDefault();
      const d = Object.fromEntries(new FormData(e.target));
      try {
        const hook = await api('/api/v1/webhooks', { method: 'POST', body: { url: d.url, description: d.description } });
        await views.webhooks();
        const s = view.querySelector('.secret');
        s.hidden = false;
        s.textContent = `${t('secret')}: ${hook.secret}`;
      } catch (err) { flash(err.message, 'error'); }
    });
    const list = root.querySelector('.hooks');
    for (const w of hooks) {
      const li = h(`<li><code>${esc(w.url)}</code> ${esc(w.description)} <b>${esc(w.active ? t('active') : t('paused'))}</b>
        <button class="toggle">${esc(w.active ? t('pause') : t('resume'))}</button><button class="rotate">${esc(t('rotate'))}</button>
        <button class="log">${esc(t('deliveries'))}</button><button class="del">${esc(t('delete'))}</button><div class="deliveries"></div></li>`);
      li.querySelector('.toggle').addEventListener('click', () => api(`/api/v1/webhooks/${w.id}`, { method: 'PATCH', body: { active: !w.active } }).then(() => views.webhooks()).catch(fail));
      li.querySelector('.rotate').addEventListener('click', async () => {
        const bytes = crypto.getRandomValues(new Uint8Array(24));
        const secret = `whsec_${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
        await api(`/api/v1/webhooks/${w.id}`, { method: 'PATCH', body: { secret } });
        li.querySelector('.deliveries').textContent = `${t('secret')}: ${secret}`;
      });
      li.querySelector('.del').addEventListener('click', () => api(`/api/v1/webhooks/${w.id}`, { method: 'DELETE' }).then(() => views.webhooks()).catch(fail));
      li.querySelector('.log').addEventListener('click', async () => {
        const log = await api(`/api/v1/webhooks/${w.id}/deliveries?limit=50`);
        li.querySelector('.deliveries').replaceChildren(h(`<table><tr><th>${esc(t('created'))}</th><th>${esc(t('status'))}</th><th>#</th><th>HTTP</th><th></th></tr>
          ${log.map((d) => `<tr><td>${esc(when2(d.created_at))}</td><td>${esc(d.status)}</td><td>${d.attempts}</td><td>${esc(d.last_status ?? '')}</td><td>${esc(d.last_error || '')}</td></tr>`).join('')}</table>`));
      });
      list.append(li);
    }
  },

  async map() {
    const all = await townList();
    const page = { items: await allCases({}) };
    const root = h(`<section class="district"><h1>${esc(t('map'))}</h1><div class="mapbox big"></div>
      <h2>${esc(t('unassigned'))}</h2><ul class="queue"></ul></section>`);
    view.replaceChildren(root);
    await drawMap(root.querySelector('.mapbox'), all, page.items);
    const queue = page.items.filter((c) => !c.town);
    root.querySelector('.queue').replaceChildren(...(queue.length ? queue.map((c) => h(`<li><a href="#/cases/${esc(c.id)}">${esc(c.case_number)}</a> ${esc(c.description)}</li>`))
      : [h(`<li class="muted">${esc(t('none'))}</li>`)]));
  },

  async acceptance() {
    const page = { items: await allCases({ status: 'rectified' }) };
    const root = h(`<section class="acceptance"><h1>${esc(t('acceptance'))} · ${esc(t('to_check'))}</h1><ul class="checks"></ul></section>`);
    view.replaceChildren(root);
    const list = root.querySelector('.checks');
    if (!page.items.length) list.append(h(`<li class="muted">${esc(t('none'))}</li>`));
    for (const c of page.items) {
      const li = h(`<li data-id="${esc(c.id)}"><a href="#/cases/${esc(c.id)}">${esc(c.case_number)}</a> ${esc(townName(c.town))} ${esc(c.description)}
        <input name="note" placeholder="${esc(t('note'))}">
        ${c.allowed_transitions.includes('accepted') ? `<button class="accept">${esc(t('accept'))}</button>` : ''}
        ${c.allowed_transitions.includes('rectifying') ? `<button class="fail">${esc(t('fail'))}</button>` : ''}</li>`);
      // The photos to check against on site: the case's evidence, newest first.
      const strip = document.createElement('div');
      strip.className = 'strip';
      li.append(strip);
      api(`/api/v1/cases/${c.id}`).then((detail) => {
        for (const p of detail.photos.slice(-4).reverse()) {
          const img = document.createElement('img');
          img.alt = `${name('action', p.record_kind)} ${when2(p.reported_at)}`;
          img.title = img.alt;
          strip.append(img);
          if (p.thumbnail === 'ready') imageUrl(`/api/v1/photos/${p.sha256}/thumb?size=256`).then((u2) => { img.src = u2; }).catch(() => {});
        }
        if (!detail.photos.length) strip.append(h(`<span class="muted">${esc(t('photos'))}: ${esc(t('none'))}</span>`));
      }).catch(() => {});
      const go = (to) => api(`/api/v1/cases/${c.id}/transitions`, { method: 'POST', body: { from: 'rectified', to, note: li.querySelector('input').value || null } })
        .then(() => { flash(`${c.case_number}: ${name('status', to)}`); return views.acceptance(); }).catch((e) => flash(e.message, 'error'));
      li.querySelector('.accept')?.addEventListener('click', () => go('accepted'));
      li.querySelector('.fail')?.addEventListener('click', () => go('rectifying'));
      list.append(li);
    }
  },

  async report(params) {
    const asOf = params.get('as_of') || new Date().toISOString().slice(0, 10);
    const from = params.get('from') || '';
    const hide = params.get('hide') === '1';
    const r = await api(`/api/v1/reports/progress?${qs({ as_of: asOf, from })}`);
    const rows = [...r.towns, ...(r.district ? [r.district] : [])].filter((x) => !hide || x.cases_total > 0 || !x.town);
    const label = (x) => (x.town ? x.town.name : x.unassigned ? t('unassigned') : '全区 / district');
    const root = h(`<section class="report"><h1>${esc(t('report'))} · ${esc(r.campaign ? r.campaign.name : '')}</h1>
      <form class="filters"><label>${esc(t('as_of'))} <input type="date" name="as_of" value="${esc(asOf)}"></label>
        <label>from <input type="date" name="from" value="${esc(from)}"></label>
        <label><input type="checkbox" name="hide" value="1" ${hide ? 'checked' : ''}> ${esc(t('hide_empty'))}</label>
        <button>${esc(t('filter'))}</button> <button type="button" class="csv">${esc(t('download_csv'))}</button></form>
      <p class="muted">${esc(r.period_from)} – ${esc(r.period_to)} · ${esc(when2(r.generated_at))}</p>
      <table class="progress"><thead><tr><th>${esc(t('town'))}</th><th>${esc(t('r_total'))}</th><th>${esc(t('r_open'))}</th>
        <th>${esc(t('r_opened'))}</th><th>${esc(t('r_closed'))}</th><th>${esc(t('overdue'))}</th><th>${esc(t('r_rectified'))}</th>
        <th>${esc(t('r_accepted'))}</th><th>${esc(t('r_targets'))}</th></tr></thead><tbody>
        ${rows.map((x) => `<tr><td class="l">${esc(label(x))}</td><td>${x.cases_total}</td><td>${x.open}</td><td>${x.opened_in_period}</td>
          <td>${x.closed_in_period}</td><td>${esc(x.overdue.count ?? x.overdue.total ?? 0)}</td>
          <td>${x.rectified_rate == null ? 0 : (x.rectified_rate * 100).toFixed(1)}</td><td>${x.accepted_rate == null ? 0 : (x.accepted_rate * 100).toFixed(1)}</td>
          <td class="l">${x.targets.filter((g) => g.state !== 'not_applicable').map((g) => `<span class="tg ${esc(g.state)}" title="${esc(g.detail)}">${esc(g.label)}: ${esc(t(g.state))}</span>`).join(' ')}</td></tr>`).join('')}
      </tbody></table><div class="chart"></div><h2>${esc(t('over_time'))}</h2><div class="timeline"></div></section>`);
    view.replaceChildren(root);
    root.querySelector('.filters').addEventListener('submit', (e) => {
      e.preventDefault();
      location.hash = `#/report?${qs(Object.fromEntries(new FormData(e.target)))}`;
    });
    root.querySelector('.csv').addEventListener('click', () => download(`/api/v1/reports/progress.csv?${qs({ as_of: asOf, from })}`, `progress-${asOf}.csv`).catch(fail));
    chart(root.querySelector('.chart'), rows.filter((x) => x.town));
    timeline(root.querySelector('.timeline'), r, asOf).catch(() => {});
  },

  async campaigns() {
    const list = await api('/api/v1/campaigns');
    const bureau = user().role === 'bureau_admin';
    const root = h(`<section class="campaigns"><h1>${esc(t('campaigns'))}</h1>
      ${bureau ? `<details class="edit"><summary>${esc(t('new_campaign'))}</summary><form class="new-campaign">
        <label>${esc(t('display_name'))} <input name="name" required maxlength="200"></label>
        <label>${esc(t('starts'))} <input name="starts_on" type="date" required></label>
        <label>${esc(t('ends'))} <input name="ends_on" type="date" required></label>
        <label>${esc(name('source', 'satellite'))} ${esc(t('deadline'))} <input name="satellite_deadline" type="date" required></label>
        <label>${esc(name('source', 'legacy'))} ${esc(t('deadline'))} <input name="legacy_deadline" type="date" required></label>
        <label>${esc(name('source', 'idle_land'))} ${esc(t('deadline'))} <input name="idle_land_deadline" type="date" required></label>
        <label>${esc(name('source', 'patrol'))} (${esc(t('days'))}) <input name="patrol_days" type="number" min="1" value="7"></label>
        <label>${esc(name('source', 'tip'))} (${esc(t('days'))}) <input name="tip_days" type="number" min="1" value="15"></label>
        <button>${esc(t('save'))}</button> <span class="msg" role="status"></span></form></details>` : ''}
      <table><tr><th>${esc(t('display_name'))}</th>
      <th>${esc(t('period'))}</th><th>${esc(name('source', 'satellite'))}</th><th>${esc(name('source', 'legacy'))}</th>
      <th>${esc(name('source', 'idle_land'))}</th><th>${esc(name('source', 'patrol'))}</th><th>${esc(name('source', 'tip'))}</th></tr>
      ${list.map((c) => `<tr><td>${esc(c.name)}</td><td>${esc(c.starts_on)} – ${esc(c.ends_on)}</td><td>${esc(c.satellite_deadline || '')}</td>
        <td>${esc(c.legacy_deadline || '')}</td><td>${esc(c.idle_land_deadline || '')}</td><td>${esc(c.patrol_days ?? '')} ${esc(t('days'))}</td>
        <td>${esc(c.tip_days ?? '')} ${esc(t('days'))}</td></tr>`).join('')}</table></section>`);
    view.replaceChildren(root);
    root.querySelector('.new-campaign')?.addEventListener('submit', async (e) => {
      e.preventDefault();
      const d = Object.fromEntries(new FormData(e.target));
      const body = { ...d, patrol_days: d.patrol_days ? Number(d.patrol_days) : null, tip_days: d.tip_days ? Number(d.tip_days) : null };
      try {
        await api('/api/v1/campaigns', { method: 'POST', body });
        flash(`${d.name}: ${t('saved')}`);
        views.campaigns();
      } catch (err) { e.target.querySelector('.msg').textContent = err.message; }
    });
  },

  async towns() {
    towns = null;
    boundaries.clear();
    const all = await townList();
    const root = h(`<section class="towns"><h1>${esc(t('towns'))}</h1>
      <p class="muted">${esc(t('towns_hint'))}</p>
      <form class="town-import"><input type="file" name="file" accept=".geojson,.json,application/geo+json,application/json" required>
        <button>${esc(t('upload'))}</button> <span class="msg" role="status"></span></form>
      <div class="split"><div class="mapbox"></div><table><tr><th>${esc(t('code'))}</th><th>${esc(t('town'))}</th><th>${esc(t('area'))}</th></tr>
      ${all.map((x) => `<tr><td>${esc(x.code)}</td><td>${esc(x.name)}</td><td>${(x.area_m2 / 1e6).toFixed(1)} km²</td></tr>`).join('')}</table></div></section>`);
    view.replaceChildren(root);
    root.querySelector('.town-import').addEventListener('submit', async (e) => {
      e.preventDefault();
      const msg = e.target.querySelector('.msg');
      const file = e.target.file.files[0];
      let body;
      try { body = JSON.parse(await file.text()); } catch { msg.textContent = t('not_geojson'); return; }
      try {
        const r = await api('/api/v1/towns/import', { method: 'POST', body });
        msg.textContent = t('towns_imported')(r.created, r.updated, r.unchanged);
      } catch (err) { msg.textContent = err.message; }
    });
    await drawMap(root.querySelector('.mapbox'), all, []);
  },

  async import() {
    await townList();
    const root = h(`<section class="import"><h1>${esc(t('import_patches'))}</h1>
      <p class="muted">${esc(t('import_hint'))}</p>
      <form class="patches"><input type="file" name="file" accept=".geojson,.json,.zip,application/geo+json,application/json,application/zip" required>
        <button>${esc(t('upload'))}</button> <span class="msg" role="status"></span></form><div class="result"></div></section>`);
    view.replaceChildren(root);
    root.querySelector('.patches').addEventListener('submit', async (e) => {
      e.preventDefault();
      const msg = e.target.querySelector('.msg');
      const file = e.target.file.files[0];
      if (!file) return;
      msg.textContent = `${t('uploading_file')} ${file.name} (${Math.round(file.size / 1024)} KiB)…`;
      // A zipped shapefile goes as it is (the server reads its .prj and GBK text); GeoJSON as JSON.
      const zip = /\.zip$/i.test(file.name);
      let body;
      if (zip) body = new Blob([file], { type: 'application/zip' });
      else try { body = JSON.parse(await file.text()); } catch { msg.textContent = t('not_geojson'); return; }
      try {
        const r = await api('/api/v1/cases/import', { method: 'POST', body, headers: zip ? { 'Content-Type': 'application/zip' } : {} });
        msg.textContent = t('imported')(r.created, r.existing, r.unassigned);
        root.querySelector('.result').replaceChildren(h(`<table class="rows"><tr><th>${esc(t('patch'))}</th><th>${esc(t('number'))}</th>
          <th>${esc(t('town'))}</th><th></th></tr>${r.cases.map((x) => `<tr><td>${esc(x.external_ref)}</td>
          <td><a href="#/cases/${esc(x.case_id)}">${esc(x.case_number)}</a></td><td>${esc(x.town_code ? (townNameByCode(x.town_code)) : t('unassigned'))}</td>
          <td>${esc(x.created ? t('new') : t('already'))}</td></tr>`).join('')}</table>`));
      } catch (err) {
        const d = err.details || {};
        const at = d.row != null ? ` (row ${d.row})` : d.feature != null ? ` (#${d.feature})` : '';
        msg.textContent = `${err.message}${at}`;
      }
    });
  },

  async users() {
    const list = await api('/api/v1/users');
    const all = await townList();
    const tn = (id) => (all.find((x) => x.id === id) || {}).name || '';
    const root = h(`<section class="users"><h1>${esc(t('users'))}</h1>
      <form class="new-user"><input name="username" required placeholder="${esc(t('username'))}" pattern="[A-Za-z0-9._\\-]{1,64}">
        <input name="password" type="password" required minlength="8" placeholder="${esc(t('password'))}" autocomplete="new-password">
        <select name="role">${ROLES.map((r) => `<option value="${r}">${esc(name('role', r))}</option>`).join('')}</select>
        <select name="town"><option value="">—</option>${all.map((x) => `<option value="${esc(x.code)}">${esc(x.name)}</option>`).join('')}</select>
        <input name="display_name" placeholder="${esc(t('display_name'))}"><button>${esc(t('new_user'))}</button>
        <span class="msg" role="status"></span></form><table><tr><th>${esc(t('username'))}</th><th>${esc(t('display_name'))}</th>
      <th>${esc(t('role'))}</th><th>${esc(t('town'))}</th><th></th></tr>
      ${list.map((u) => `<tr data-id="${esc(u.id)}"><td>${esc(u.username)}</td><td>${esc(u.display_name || '')}</td><td>${esc(name('role', u.role))}</td>
      <td>${esc(tn(u.town_id))}</td><td><button class="toggle">${esc(u.active ? t('disable') : t('enable'))}</button></td></tr>`).join('')}</table></section>`);
    view.replaceChildren(root);
    root.querySelector('.new-user').addEventListener('submit', async (e) => {
      e.preventDefault();
      const d = Object.fromEntries(new FormData(e.target));
      try {
        await api('/api/v1/users', { method: 'POST', body: { username: d.username, password: d.password, role: d.role,
          town: d.town || null, display_name: d.display_name || null } });
        flash(`${d.username}: ${t('saved')}`);
        views.users();
      } catch (err) { e.target.querySelector('.msg').textContent = err.message; }
    });
    root.querySelectorAll('.toggle').forEach((b) => b.addEventListener('click', async () => {
      const id = b.closest('tr').dataset.id;
      const u = list.find((x) => x.id === id);
      try { await api(`/api/v1/users/${id}`, { method: 'PATCH', body: { active: !u.active } }); views.users(); } catch (e) { flash(e.message, 'error'); }
    }));
  },
};

/// The lifecycle's rules that bear on this case's next steps, in words, before the user tries
/// (the server checks them again: site_check_required, forced_demolition_unprepared, reason_required).
function ruleHints(c) {
  const next = c.allowed_transitions;
  const hints = [];
  if (next.includes('registered') && c.source === 'satellite') hints.push(t('rule_site_check'));
  if (next.includes('rectified') && c.disposition === 'demolish_forced') {
    const missing = [!c.notice_served_at && t('notice_served'), !c.leadership_reported_at && t('leadership_reported')].filter(Boolean);
    hints.push(missing.length ? t('rule_forced_missing')(missing.join('、')) : t('rule_forced_ok'));
  }
  if (next.includes('dismissed')) hints.push(t('rule_dismiss'));
  return hints;
}

/// Towns' boundaries and the cases on a map (vector only unless tiles are configured).
async function drawMap(host, townsToDraw, cases) {
  const bbox = townsToDraw.length ? townsToDraw.reduce((b, x) => [Math.min(b[0], x.bbox[0]), Math.min(b[1], x.bbox[1]), Math.max(b[2], x.bbox[2]), Math.max(b[3], x.bbox[3])], [180, 90, -180, -90])
    : cases.length ? [Math.min(...cases.map((c) => c.location.lon)) - 0.01, Math.min(...cases.map((c) => c.location.lat)) - 0.01,
      Math.max(...cases.map((c) => c.location.lon)) + 0.01, Math.max(...cases.map((c) => c.location.lat)) + 0.01] : [117.13, 39.45, 117.7, 39.9];
  const m = new MapView(host, bbox, { tiles: { url: config.tile_url, crs: config.tile_crs, attribution: config.tile_attribution } });
  host.mapView = m;
  const details = await Promise.all(townsToDraw.map((x) => boundary(x.id).catch(() => null)));
  details.forEach((d) => d && m.area(d.boundary, { label: d.name }));
  for (const c of cases) {
    m.point(c.location.lon, c.location.lat, { cls: `st-${c.status} ${c.overdue ? 'overdue' : ''} ${c.near_boundary ? 'near' : ''}`,
      title: `${c.case_number} ${name('status', c.status)}`, onClick: () => { location.hash = `#/cases/${c.id}`; } });
  }
}

/// Bars per town: closed (eliminated) against all cases, and overdue, in SVG.
function chart(host, rows) {
  if (!rows.length) return;
  const max = Math.max(1, ...rows.map((x) => x.cases_total));
  const w = 720, bh = 18, gap = 6, left = 150;
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${rows.length * (bh + gap) + 10}`);
  svg.setAttribute('class', 'bars');
  rows.forEach((x, i) => {
    const y = i * (bh + gap) + 5;
    const add = (tag, attrs, text) => {
      const e = document.createElementNS(svgNs, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text != null) e.textContent = text;
      svg.append(e);
    };
    const done = x.cases_total - x.open;
    add('text', { x: left - 6, y: y + bh - 4, 'text-anchor': 'end', class: 'lbl' }, x.town.name);
    add('rect', { x: left, y, width: ((w - left - 60) * x.cases_total) / max, height: bh, class: 'all' });
    add('rect', { x: left, y, width: ((w - left - 60) * done) / max, height: bh, class: 'done' });
    add('text', { x: left + ((w - left - 60) * x.cases_total) / max + 4, y: y + bh - 4, class: 'num' }, `${done}/${x.cases_total}`);
  });
  host.replaceChildren(svg);
}

/// Cases dealt with (rectified or further) month by month, per town, against the campaign's
/// deadlines: one report per month end, drawn as lines.
async function timeline(host, r, asOf) {
  if (!r.campaign) return;
  const campaigns = await api('/api/v1/campaigns');
  const c = campaigns.find((x) => x.id === r.campaign.id) || r.campaign;
  const days = [];
  for (let d = new Date(`${c.starts_on}T00:00:00Z`); ; d.setUTCMonth(d.getUTCMonth() + 1)) {
    const end = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).toISOString().slice(0, 10);
    const day = end < asOf ? end : asOf;
    days.push(day);
    if (day >= asOf || end >= c.ends_on) break;
  }
  const reports = await Promise.all(days.map((day) => api(`/api/v1/reports/progress?${qs({ campaign: c.id, as_of: day })}`)));
  const towns = reports[reports.length - 1].towns.filter((x) => x.town && x.cases_total > 0);
  if (!towns.length) return;
  const series = towns.map((x) => ({ name: x.town.name, code: x.town.code,
    values: reports.map((rep) => { const y = rep.towns.find((z) => z.town && z.town.code === x.town.code); return y ? y.cases_total - y.open : 0; }),
    total: x.cases_total }));
  const max = Math.max(1, ...series.map((x) => x.total));
  const W = 760, H = 260, L = 40, R = 150, T = 10, B = 30;
  const X = (i) => L + ((W - L - R) * i) / Math.max(1, days.length - 1);
  const Y = (v) => T + (H - T - B) * (1 - v / max);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'timeline-chart');
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    svg.append(e);
    return e;
  };
  for (let v = 0; v <= max; v += Math.max(1, Math.ceil(max / 5))) {
    add('line', { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: 'grid' });
    add('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'axis' }, String(v));
  }
  days.forEach((d, i) => add('text', { x: X(i), y: H - 10, 'text-anchor': 'middle', class: 'axis' }, d.slice(5, 7)));
  const first = new Date(`${days[0]}T00:00:00Z`).getTime(), last = new Date(`${days[days.length - 1]}T00:00:00Z`).getTime();
  for (const [key, label] of [['satellite_deadline', name('source', 'satellite')], ['legacy_deadline', name('source', 'legacy')], ['idle_land_deadline', name('source', 'idle_land')]]) {
    const d = c[key];
    if (!d) continue;
    const at = new Date(`${d}T00:00:00Z`).getTime();
    if (at < first || at > last || last === first) continue;
    const x = L + ((W - L - R) * (at - first)) / (last - first);
    add('line', { x1: x, x2: x, y1: T, y2: H - B, class: 'deadline' });
    add('text', { x: x + 3, y: T + 10, class: 'deadline-label' }, `${label} ${d.slice(5)}`);
  }
  series.forEach((sr, k) => {
    add('polyline', { points: sr.values.map((v, i) => `${X(i).toFixed(1)},${Y(v).toFixed(1)}`).join(' '), class: `line c${k % 8}` });
    add('text', { x: W - R + 8, y: T + 14 + k * 16, class: `legend c${k % 8}` }, `${sr.name} ${sr.values[sr.values.length - 1]}/${sr.total}`);
  });
  host.replaceChildren(svg);
}

// ---- sign-in, navigation, routing

function signInView() {
  nav.replaceChildren();
  who.replaceChildren();
  const root = h(`<section class="signin"><h1>${esc(t('title'))}</h1><form>
    <label>${esc(t('username'))} <input name="username" autocomplete="username" required></label>
    <label>${esc(t('password'))} <input name="password" type="password" autocomplete="current-password" required></label>
    <button>${esc(t('sign_in'))}</button><p class="msg" role="alert"></p></form></section>`);
  view.replaceChildren(root);
  root.querySelector('form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const d = Object.fromEntries(new FormData(e.target));
    const msg = root.querySelector('.msg');
    msg.textContent = t('signing_in');
    try {
      await signIn(d.username, d.password);
      if (!location.hash || location.hash === '#/signin') location.hash = defaultHash();
      route();
    } catch (err) {
      msg.textContent = err.status === 429 ? t('locked') : err.status === 401 ? t('bad_login') : err.message;
    }
  });
}

function defaultHash() {
  const u = user();
  return `#/${(ROLES_NAV[u.role] || ['cases'])[0]}`;
}

function drawNav() {
  const u = user();
  nav.replaceChildren(...(ROLES_NAV[u.role] || []).map((v) => h(`<a href="#/${v}" data-view="${v}">${esc(t(v))}${v === 'inbox' ? ' <span id="unread" class="badge" hidden></span>' : ''}</a>`)));
  who.replaceChildren(h(`<span><span class="me">${esc(u.display_name || u.username)}</span> · ${esc(name('role', u.role))}
    <button class="lang">${esc(t('language'))}</button> <button class="out">${esc(t('sign_out'))}</button></span>`));
  who.querySelector('.out').addEventListener('click', async () => {
    if (stopStream) { stopStream(); stopStream = null; }
    await signOut();
    location.hash = '#/signin';
  });
  who.querySelector('.lang').addEventListener('click', () => { setLang(lang === 'zh' ? 'en' : 'zh'); drawNav(); route(); });
  recount();
}

async function route() {
  if (!user()) {
    await resume();
    if (!user()) { signInView(); return; }
  }
  if (!nav.childElementCount) drawNav();
  startInbox();
  const [path, query] = (location.hash.slice(1) || defaultHash().slice(1)).split('?');
  const parts = path.split('/').filter(Boolean);
  const params = new URLSearchParams(query || '');
  let key = parts[0] || 'inbox';
  if (key === 'signin') { location.hash = defaultHash(); return; }
  if (key === 'cases' && parts[1]) key = 'case';
  nav.querySelectorAll('a').forEach((a) => a.classList.toggle('here', a.dataset.view === parts[0]));
  const v = views[key];
  if (!v) { view.replaceChildren(h(`<p>${esc(t('not_found'))}</p>`)); return; }
  if (key !== 'inbox') inbox.listeners.clear();
  try {
    await v(params, parts[1]);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { signInView(); return; }
    fail(e);
  }
}

onSession((u) => { if (!u) { nav.replaceChildren(); } });
window.addEventListener('hashchange', route);
setLang(lang);
fetch('/console/config.json').then((r) => r.json()).then((c) => { config = c; }).catch(() => {}).finally(route);
