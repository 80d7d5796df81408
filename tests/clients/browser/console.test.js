// The console in real Chromium, as the people who use it would:
// a town officer receives a new patrol case live (no reload), opens it, sees
// its photo (with the evidence check in words) and its ledger, acknowledges
// the alert; another town's officer sees none of it; a verifier accepts a
// rectified case; the bureau downloads June 2017's progress report as CSV.

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const HAIBIN = { lon: 117.295129, lat: 39.733503 }; // 海滨街道 120115001
const PHOTO = path.join(__dirname, '../../../photo/tests/fixtures/drewnoakes__metadata-extractor-images/Apple iPhone 4.jpg');

async function signIn(pg, BASE, username, hash = '') {
  await pg.goto(`${BASE}/console/${hash}`);
  await pg.fill('input[name=username]', username);
  await pg.fill('input[name=password]', 'landpatrol-demo');
  await pg.click('.signin form button');
  await pg.waitForSelector('#nav a');
}

async function unread(pg) {
  const text = (await pg.textContent('#unread')) || '';
  return text ? Number(text) : 0;
}

module.exports = async function ({ browser, BASE, page, shot, apiLogin, apiFetch, assert, assertNoProblems }) {
  // Two town offices at their desks, each on the inbox.
  const officer = await page(browser);
  await signIn(officer, BASE, 'officer-120115001', '#/inbox');
  await officer.waitForSelector('ul.alerts li.alert');
  await officer.waitForSelector('.state.live');
  const before = await unread(officer);
  await shot(officer, 'console', '01-inbox');

  const other = await page(browser);
  await signIn(other, BASE, 'officer-120115006', '#/inbox');
  await other.waitForSelector('.state.live');

  // An inspector on patrol finds a new violation: the photo, then the case.
  const inspector = await apiLogin('inspector');
  const bytes = fs.readFileSync(PHOTO);
  const sha = crypto.createHash('sha256').update(bytes).digest('hex');
  const put = await fetch(`${BASE}/api/v1/photos/${sha}`, {
    method: 'PUT', headers: { Authorization: `Bearer ${inspector}`, 'Content-Type': 'image/jpeg' }, body: bytes,
  });
  assert.ok(put.status === 201 || put.status === 200, `photo upload: ${put.status}`);
  const created = await apiFetch('/api/v1/cases', {
    method: 'POST', token: inspector,
    body: { source: 'patrol', location: HAIBIN, description: '巡查发现：新建彩钢房约200平方米（浏览器测试）', address: '北台村东', photos: [sha] },
  });

  // It arrives in 海滨's inbox live, without a reload.
  const link = `li.alert.unread a[href="#/cases/${created.id}"]`;
  await officer.waitForSelector(link, { timeout: 15000 });
  assert.equal(await unread(officer), before + 1, 'the unread count went up by one');
  assert.match(await officer.title(), /^\(\d+\) /, 'the tab title shows the unread count');
  await shot(officer, 'console', '02-new-case-live');

  // 周良's office never sees it: not in its inbox, and the case page is not found.
  await other.waitForTimeout(1500);
  assert.equal(await other.$(`a[href="#/cases/${created.id}"]`), null, 'no alert for another town');
  await other.evaluate((id) => { location.hash = `#/cases/${id}`; }, created.id);
  await other.waitForSelector('.notice.error');
  assert.match(await other.textContent('.notice.error'), /not_found/);
  await shot(other, 'console', '03-other-town-not-found');
  // The browser logs the two expected 404s (the case and its inspections); nothing else.
  assert.ok(other.problems.every((p) => /status of 404/.test(p)), other.problems.join('\n'));
  other.problems.length = 0;

  // The officer opens it: fields, the photo with its evidence check in words, the ledger.
  await officer.click(link);
  await officer.waitForSelector('section.case h1');
  assert.match(await officer.textContent('section.case h1'), new RegExp(created.case_number));
  assert.match(await officer.textContent('dd.description'), /新建彩钢房/);
  await officer.waitForFunction(() => {
    const img = document.querySelector('figure.photo img');
    return img && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 20000 }).catch(async () => {
    // The thumbnail is made off the request path: look again after a reload of the view.
    await officer.evaluate(() => window.dispatchEvent(new HashChangeEvent('hashchange')));
    await officer.waitForFunction(() => {
      const img = document.querySelector('figure.photo img');
      return img && img.src.startsWith('blob:') && img.naturalWidth > 0;
    }, null, { timeout: 20000 });
  });
  // The rules of the next steps, in words, before trying them.
  assert.match(await officer.textContent('ul.rules'), /不予立案须在备注中写明理由/);
  const flags = await officer.textContent('figure.photo .flags');
  assert.match(flags, /照片拍摄地点距报告位置 [\d.]+ 公里/, `evidence in words: ${flags}`);
  const history = await officer.textContent('ol.history');
  assert.match(history, /登记/);
  assert.match(history, /inspector/i);
  await shot(officer, 'console', '04-case-page');
  await officer.click('figure.photo button.thumb');
  await officer.waitForFunction(() => {
    const img = document.querySelector('.overlay img');
    return img && img.naturalWidth === 1296;
  }, null, { timeout: 20000 });
  await shot(officer, 'console', '05-original-photo');
  await officer.click('.overlay');

  // Back to the inbox: acknowledge the alert.
  await officer.click('#nav a[data-view=inbox]');
  const row = `li.alert[data-id] a[href="#/cases/${created.id}"]`;
  await officer.waitForSelector(row);
  const alertId = await officer.$eval(row, (a) => a.closest('li').dataset.id);
  await officer.click(`li.alert[data-id="${alertId}"] button.ack-one`);
  await officer.waitForSelector(`li.alert.acked[data-id="${alertId}"]`);
  assert.equal(await unread(officer), before, 'the unread count is back');
  const officerToken = await apiLogin('officer-120115001');
  const acked = await apiFetch(`/api/v1/alerts/${alertId}`, { token: officerToken });
  assert.ok(acked.acked_at, 'the acknowledgement is recorded');
  await shot(officer, 'console', '06-acknowledged');

  // A field edit on the case page (the revision it was read at goes with it).
  await officer.evaluate((id) => { location.hash = `#/cases/${id}`; }, created.id);
  await officer.waitForSelector('details.edit');
  await officer.click('details.edit summary');
  await officer.fill('form.fields-edit input[name=address]', '北台村东100米，鱼塘北侧');
  await officer.selectOption('form.fields-edit select[name=land_class]', 'basic_farmland');
  await officer.click('form.fields-edit button');
  await officer.waitForFunction(() => /鱼塘北侧/.test(document.querySelector('dd.address')?.textContent || ''));
  const edited = await apiFetch(`/api/v1/cases/${created.id}`, { token: officerToken });
  assert.equal(edited.address, '北台村东100米，鱼塘北侧');
  assert.equal(edited.land_class, 'basic_farmland');
  assert.ok(edited.history.some((e) => e.action === 'updated'), 'the edit is on the ledger');

  // A public tip next to the case: the office sees it as a possible duplicate, on a map, and merges it.
  const tip = await apiFetch('/api/v1/tips', { method: 'POST', headers: { 'Idempotency-Key': crypto.randomUUID() },
    body: { location: HAIBIN, description: '村东头有人在盖彩钢房', address: '北台村' } });
  await officer.evaluate(() => { location.hash = '#/tips'; });
  const tipRow = `li.tip[data-id="${tip.id}"]`;
  await officer.waitForSelector(`${tipRow} .mapbox.mini circle`);
  assert.match(await officer.textContent(tipRow), new RegExp(created.case_number), 'the nearby case is suggested');
  await shot(officer, 'console', '06b-tip-duplicates');
  await officer.selectOption(`${tipRow} select[name=action]`, `merge:${created.id}`);
  await officer.click(`${tipRow} form button`);
  await officer.waitForSelector(tipRow, { state: 'detached' });
  const merged = await apiFetch(`/api/v1/tips/${tip.id}`, { token: officerToken });
  assert.equal(merged.status, 'merged');
  assert.equal(merged.case_id, created.id);
  assertNoProblems(officer);
  assertNoProblems(other);

  // Webhooks of the town, in the console: register (the secret shown once), pause, the log.
  await officer.evaluate(() => { location.hash = '#/webhooks'; });
  await officer.waitForSelector('section.webhooks form.new');
  await officer.fill('form.new input[name=url]', 'https://oa.haibin.example.gov.cn/landpatrol');
  await officer.fill('form.new input[name=description]', '值班系统');
  await officer.click('form.new button');
  await officer.waitForSelector('.secret:not([hidden])');
  assert.match(await officer.textContent('.secret'), /whsec_[0-9a-f]{48}/);
  await officer.click('ul.hooks li button.toggle');
  await officer.waitForSelector('ul.hooks li:has-text("已暂停")');
  await officer.click('ul.hooks li button.log');
  await officer.waitForSelector('ul.hooks li .deliveries table');
  await shot(officer, 'console', '06c-webhooks');
  const hooks = await apiFetch('/api/v1/webhooks', { token: officerToken });
  assert.ok(hooks.some((w) => w.url === 'https://oa.haibin.example.gov.cn/landpatrol' && !w.active), 'registered, then paused');
  assertNoProblems(officer);

  // A verifier accepts a rectified case on site (验收), with its photos in view.
  const rectified = (await apiFetch('/api/v1/cases?status=rectified', { token: await apiLogin('admin') })).items[0];
  const evidence = fs.readFileSync(path.join(__dirname, 'fixtures/htc-desire.jpg'));
  const evSha = crypto.createHash('sha256').update(evidence).digest('hex');
  await fetch(`${BASE}/api/v1/photos/${evSha}`, { method: 'PUT', headers: { Authorization: `Bearer ${inspector}` }, body: evidence });
  await apiFetch(`/api/v1/cases/${rectified.id}/inspections`, { method: 'POST', token: await apiLogin('admin'),
    body: { kind: 'rectification_check', result: 'passed', note: '整改后复查', photos: [evSha] } });
  const verifier = await page(browser);
  await signIn(verifier, BASE, 'verifier', '#/acceptance');
  await verifier.waitForSelector('ul.checks li[data-id] button.accept');
  await verifier.waitForFunction(() => [...document.querySelectorAll('ul.checks .strip img')].some((i) => i.src.startsWith('blob:') && i.naturalWidth > 0),
    null, { timeout: 20000 });
  await shot(verifier, 'console', '07-acceptance');
  const caseId = await verifier.$eval('ul.checks li[data-id]', (li) => li.dataset.id);
  await verifier.fill(`ul.checks li[data-id="${caseId}"] input`, '现场核查：已拆除复耕');
  await verifier.click(`ul.checks li[data-id="${caseId}"] button.accept`);
  await verifier.waitForSelector('.flash');
  const vtoken = await apiLogin('verifier');
  const accepted = await apiFetch(`/api/v1/cases/${caseId}`, { token: vtoken });
  assert.equal(accepted.status, 'accepted');
  assert.ok(accepted.history.some((e) => e.to_status === 'accepted' && e.note === '现场核查：已拆除复耕'));
  assertNoProblems(verifier);

  // The bureau reads June 2017's report and downloads it as CSV.
  const bureau = await page(browser);
  await signIn(bureau, BASE, 'admin', '#/report?as_of=2017-06-30&from=2017-06-01');
  await bureau.waitForSelector('table.progress tbody tr');
  assert.match(await bureau.textContent('table.progress'), /海滨街道/);
  // Month by month since January, against the deadlines (satellite 05-31 falls in the period).
  await bureau.waitForSelector('svg.timeline-chart polyline');
  assert.equal(await bureau.locator('svg.timeline-chart .axis').filter({ hasText: /^0[1-6]$/ }).count(), 6, 'January to June');
  assert.match(await bureau.textContent('svg.timeline-chart'), /卫片 05-31/);
  assert.match(await bureau.textContent('svg.timeline-chart'), /海滨街道 \d+\/4/);
  await shot(bureau, 'console', '08-report-june-2017');
  const [download] = await Promise.all([bureau.waitForEvent('download'), bureau.click('button.csv')]);
  assert.equal(download.suggestedFilename(), 'progress-2017-06-30.csv');
  const csv = fs.readFileSync(await download.path(), 'utf8');
  assert.ok(csv.startsWith('\ufeff'), 'UTF-8 with BOM, for Excel');
  assert.match(csv, /海滨街道/);
  const api = await (await fetch(`${BASE}/api/v1/reports/progress.csv?as_of=2017-06-30&from=2017-06-01`,
    { headers: { Authorization: `Bearer ${await apiLogin('admin')}` } })).text();
  assert.equal(csv.replace(/^\ufeff/, '').split('\n').slice(1).join('\n'), api.replace(/^\ufeff/, '').split('\n').slice(1).join('\n'),
    'the same rows as the API gives');
  await bureau.click('#nav a[data-view=map]');
  await bureau.waitForSelector('.map path.town');
  assert.ok((await bureau.$$('.map path.town')).length >= 10, 'every town boundary is drawn');
  await shot(bureau, 'console', '09-district-map');

  // Satellite patches (卫片) from a GeoJSON file: the per-row result, and no second case on a re-import.
  const patches = { type: 'FeatureCollection', features: [
    { type: 'Feature', properties: { patch_id: 'WP-BROWSER-1', description: '新增建设用地' },
      geometry: { type: 'Polygon', coordinates: [[[117.295, 39.7334], [117.2953, 39.7334], [117.2953, 39.7336], [117.295, 39.7336], [117.295, 39.7334]]] } },
    { type: 'Feature', properties: { patch_id: 'WP-BROWSER-2', description: '区界外' },
      geometry: { type: 'Polygon', coordinates: [[[116.0, 38.0], [116.001, 38.0], [116.001, 38.001], [116.0, 38.001], [116.0, 38.0]]] } }] };
  const file = { name: 'patches.geojson', mimeType: 'application/geo+json', buffer: Buffer.from(JSON.stringify(patches)) };
  await bureau.click('#nav a[data-view=import]');
  await bureau.setInputFiles('form.patches input[type=file]', file);
  await bureau.click('form.patches button');
  await bureau.waitForSelector('table.rows tr td');
  const first = await bureau.textContent('section.import');
  assert.match(first, /新建 2 个案件，0 个已导入过，1 个在镇街范围外/, first);
  assert.match(first, /WP-BROWSER-1[\s\S]*海滨街道/);
  await shot(bureau, 'console', '10-patch-import');
  await bureau.setInputFiles('form.patches input[type=file]', file);
  await bureau.click('form.patches button');
  await bureau.waitForFunction(() => /新建 0 个案件，2 个已导入过/.test(document.querySelector('form.patches .msg').textContent));

  // A new town officer account, made in the console, can sign in.
  await bureau.click('#nav a[data-view=users]');
  await bureau.waitForSelector('form.new-user');
  const username = `officer-new-${Date.now()}`;
  await bureau.fill('form.new-user input[name=username]', username);
  await bureau.fill('form.new-user input[name=password]', 'a long passphrase');
  await bureau.selectOption('form.new-user select[name=role]', 'town_officer');
  await bureau.selectOption('form.new-user select[name=town]', '120115006');
  await bureau.fill('form.new-user input[name=display_name]', '周良街道 新同事');
  await bureau.click('form.new-user button');
  await bureau.waitForSelector(`text=${username}`);
  const login = await apiFetch('/api/v1/auth/login', { method: 'POST', body: { username, password: 'a long passphrase' } });
  assert.equal(login.user.role, 'town_officer');
  await bureau.click('#nav a[data-view=campaigns]');
  await bureau.waitForSelector('section.campaigns td');
  assert.match(await bureau.textContent('section.campaigns'), /2017/);
  // A campaign for a later year, entered in the console.
  await bureau.click('section.campaigns details summary');
  const c = 'form.new-campaign'
  await bureau.fill(`${c} input[name=name]`, '2030 违法用地专项整治');
  for (const [field, day] of [['starts_on', '2030-01-01'], ['ends_on', '2030-12-31'], ['satellite_deadline', '2030-05-31'],
    ['legacy_deadline', '2030-08-15'], ['idle_land_deadline', '2030-10-31']]) {
    await bureau.fill(`${c} input[name=${field}]`, day);
  }
  await bureau.click(`${c} button`);
  await bureau.waitForSelector('section.campaigns td:has-text("2030 违法用地专项整治")');
  const campaigns = await apiFetch('/api/v1/campaigns', { token: await apiLogin('admin') });
  assert.ok(campaigns.some((x) => x.name === '2030 违法用地专项整治' && x.satellite_deadline === '2030-05-31' && x.patrol_days === 7));
  // The towns, with their boundaries.
  await bureau.click('#nav a[data-view=towns]');
  await bureau.waitForSelector('section.towns .map path.town');
  assert.equal(await bureau.locator('section.towns table tr').count(), 24, 'a header and 23 towns');
  assertNoProblems(bureau);

  // Signing out ends the session: a reload asks for the password again.
  await officer.click('#who button.out');
  await officer.waitForSelector('.signin form');
  await officer.reload();
  await officer.waitForSelector('.signin form');
};
