// The public tip page (/report-a-problem/) on a phone, as a member of the public: no login.
//   1. sending without a place or a description says so and sends nothing;
//   2. a tip with a place picked on the map, a real phone photo (tus) and a contact, the receipt,
//      its status page ("已受理"), and through the API: the tip is in 海滨街道's list with the
//      photo and the contact, and 大钟庄镇's office does not see it;
//   3. a weak signal: the phone's location, a photo upload cut off after its first chunk
//      (resumed at the server's offset), a 429 shown in words with what was typed kept, and a
//      submission whose answer is lost (retried with the same Idempotency-Key: one tip only).
'use strict'

const path = require('node:path')
const fs = require('node:fs')
const crypto = require('node:crypto')

const HAIBIN = '120115001'
const OTHER = '120115006'
const INSIDE = { lon: 117.295129, lat: 39.733503 } // inside 海滨街道
const PHOTO_NAME = 'htc-desire.jpg'
const SUITE = 'report'

module.exports = async function report(ctx) {
  const { browser, BASE, assert, page: newPage, shot, apiLogin, apiFetch, assertNoProblems, FIXTURES } = ctx
  const PHOTO = path.join(FIXTURES, PHOTO_NAME)
  const PHOTO_SHA = crypto.createHash('sha256').update(fs.readFileSync(PHOTO)).digest('hex')
  const stamp = `${Date.now().toString(36)}-${process.pid}`

  /** Every API request the page makes, as "METHOD /path". */
  function watchApi(p) {
    const seen = []
    p.on('request', (r) => {
      const u = new URL(r.url())
      // The town outlines the map draws are read, not sent: not counted.
      if (u.pathname.startsWith('/api/') && u.pathname !== '/api/v1/towns.geojson') seen.push({ line: `${r.method()} ${u.pathname}`, headers: r.headers(), url: u })
    })
    return seen
  }

  async function open(p, hash = '') {
    await p.goto(`${BASE}/report-a-problem/${hash}`)
    await p.waitForSelector('body[data-ready="true"]')
  }

  /** The viewport point of a WGS-84 position, by the page's own map projection. */
  async function mapPoint(p, { lon, lat }) {
    await p.locator('#map').scrollIntoViewIfNeeded()
    return p.evaluate(([lon, lat]) => {
      const v = document.querySelector('#map').mapView
      const [x, y] = v.project(lon, lat)
      const r = v.svg.getBoundingClientRect()
      return { x: r.left + (x * r.width) / v.w, y: r.top + (y * r.height) / v.h }
    }, [lon, lat])
  }

  async function tapMap(p, where) {
    const { x, y } = await mapPoint(p, where)
    await p.touchscreen.tap(x, y)
  }

  async function picked(p) {
    return p.evaluate(() => {
      const t = document.querySelector('#place-status').textContent
      const m = /([\d.]+)°N, ([\d.]+)°E/.exec(t)
      return m ? { lat: Number(m[1]), lon: Number(m[2]), text: t } : { text: t }
    })
  }

  async function errorText(p) {
    const box = p.locator('#form-error')
    return (await box.isVisible()) ? box.innerText() : ''
  }

  // ------------------------------------------------------------ 1. nothing is sent without a place or a description
  {
    const p = await newPage(browser, { mobile: true })
    const api = watchApi(p)
    await open(p)
    assert.equal(await p.locator('h1 [data-t="report_problem"]').innerText(), '举报违法用地')
    assert.equal(await p.evaluate(() => document.documentElement.lang), 'zh-CN')
    await shot(p, SUITE, '01-form')

    await p.tap('#submit')
    let text = await errorText(p)
    assert.match(text, /请先选择位置/, `no place: ${text}`)
    assert.match(text, /请描述情况/, `no description: ${text}`)
    assert.ok(await p.locator('#place-error').isVisible(), 'the place has its own message')
    assert.ok(await p.locator('#description-error').isVisible(), 'the description has its own message')
    await shot(p, SUITE, '02-nothing-filled')

    await p.fill('#description', '有人在基本农田上堆土')
    await p.tap('#submit')
    text = await errorText(p)
    assert.match(text, /请先选择位置/, `a description but no place: ${text}`)
    assert.doesNotMatch(text, /请描述情况/, `the description is there: ${text}`)
    await shot(p, SUITE, '03-no-place')

    await tapMap(p, INSIDE)
    await p.fill('#description', '   ')
    await p.tap('#submit')
    text = await errorText(p)
    assert.match(text, /请描述情况/, `a place but only spaces: ${text}`)
    assert.doesNotMatch(text, /请先选择位置/, `the place is picked: ${text}`)
    assert.ok(!(await p.locator('#place-error').isVisible()), 'no place message once picked')
    await shot(p, SUITE, '04-no-description')

    assert.deepEqual(api.map((r) => r.line), [], 'nothing was sent')
    assertNoProblems(p)
    await p.context().close()
  }

  // ------------------------------------------------------------ 2. a tip, its receipt, its status, seen by the right office
  const description = `村东头耕地上正在盖两层砖房，已经封顶（浏览器测试 ${stamp}）`
  const contact = { name: '张先生', phone: '13800000000', email: `zhang-${stamp}@example.com` }
  let tipId
  let statusHash
  {
    const p = await newPage(browser, { mobile: true })
    const api = watchApi(p)
    await open(p)

    // A rough tap on the whole district, two zooms (centred on it), then the exact place.
    await tapMap(p, INSIDE)
    let at = await picked(p)
    assert.ok(Math.abs(at.lon - INSIDE.lon) < 0.01 && Math.abs(at.lat - INSIDE.lat) < 0.01, `rough pick: ${at.text}`)
    await p.tap('#zoom-in')
    await p.tap('#zoom-in')
    await tapMap(p, INSIDE)
    at = await picked(p)
    assert.match(at.text, /已选位置/)
    assert.ok(Math.abs(at.lon - INSIDE.lon) < 0.0005 && Math.abs(at.lat - INSIDE.lat) < 0.0005, `exact pick: ${at.text}`)
    assert.equal(await p.locator('#map circle.picked').count(), 1, 'one marker on the map')
    await shot(p, SUITE, '05-place-picked')

    await p.fill('#description', description)
    await p.fill('#address', '海滨街道北台村东')
    await p.setInputFiles('#photos', PHOTO)
    await p.waitForSelector(`#photo-list li.photo.ready[data-sha="${PHOTO_SHA}"]`)
    await p.fill('#contact-name', contact.name)
    await p.fill('#contact-phone', contact.phone)
    await p.fill('#contact-email', contact.email)
    await shot(p, SUITE, '06-filled')

    await p.tap('#submit')
    await p.waitForSelector('#receipt-view:not([hidden])', { timeout: 30000 })
    assert.match(await p.locator('#receipt-view h2').innerText(), /举报已受理/)
    tipId = (await p.locator('#receipt-id').innerText()).trim()
    assert.match(tipId, /^[0-9a-f-]{36}$/, `the receipt names the tip: ${tipId}`)
    const statusUrl = await p.inputValue('#status-url')
    const u = new URL(statusUrl)
    assert.equal(u.pathname, '/report-a-problem/', `the status link stays on the page: ${statusUrl}`)
    assert.equal(u.search, '', 'no token in the query string')
    assert.match(u.hash, new RegExp(`^#status/${tipId}/lptr_[A-Za-z0-9_-]+$`), `id and token in the fragment: ${u.hash}`)
    statusHash = u.hash
    await shot(p, SUITE, '07-receipt')

    // tus: one creation, the photo in 128 KiB chunks, then the tip; the fragment never travels.
    const lines = api.map((r) => r.line)
    assert.equal(lines.filter((l) => l === 'POST /api/v1/uploads').length, 1, lines.join('\n'))
    const patches = api.filter((r) => r.line.startsWith('PATCH /api/v1/uploads/'))
    assert.equal(patches.length, Math.ceil(fs.statSync(PHOTO).size / (128 * 1024)), lines.join('\n'))
    assert.deepEqual(patches.map((r) => r.headers['upload-offset']), patches.map((_, i) => String(i * 128 * 1024)))
    assert.ok(patches.every((r) => r.headers['tus-resumable'] === '1.0.0'))
    const posts = api.filter((r) => r.line === 'POST /api/v1/tips')
    assert.equal(posts.length, 1, lines.join('\n'))
    assert.match(posts[0].headers['idempotency-key'] || '', /^[!-~]{1,200}$/, 'the tip carries an Idempotency-Key')

    await p.tap('#status-link')
    await p.waitForSelector('#public-status')
    assert.equal((await p.locator('#public-status').innerText()).trim(), '已受理')
    assert.match(p.url(), new RegExp(`#status/${tipId}/lptr_`))
    const facts = await p.locator('#status-body .facts').innerText()
    assert.match(facts, /受理时间/, facts)
    assert.ok(facts.includes(description), `the status shows the description: ${facts}`)
    assert.ok(!facts.includes(contact.phone), 'the public view has no contact')
    const statusGet = api.find((r) => r.line === `GET /api/v1/tips/${tipId}`)
    assert.ok(statusGet && statusGet.url.searchParams.get('receipt_token'), 'the status is read with the receipt token')
    // The photo, as the public sees it: the server's copy, without EXIF or GPS (shown once made).
    for (let i = 0; i < 40 && !(await p.$('.status-photos img')); i++) {
      await p.waitForTimeout(250)
      await p.reload()
      await p.waitForSelector('#public-status')
    }
    await p.waitForFunction(() => { const i = document.querySelector('.status-photos img'); return i && i.complete && i.naturalWidth > 0 })
    const copyUrl = await p.$eval('.status-photos img', (i) => i.src)
    assert.match(copyUrl, new RegExp(`/api/v1/tips/${tipId}/photos/[0-9a-f]{64}\\?receipt_token=lptr_`))
    const copy = Buffer.from(await (await fetch(copyUrl)).arrayBuffer())
    assert.ok(copy.length > 0 && !copy.includes(Buffer.from('Exif')) && !copy.includes(Buffer.from('GPS')), 'no EXIF, no GPS')
    await shot(p, SUITE, '08-status')

    // English on request, the same status in words.
    await p.tap('#lang')
    assert.equal((await p.locator('#public-status').innerText()).trim(), 'received')
    assert.equal(await p.evaluate(() => document.documentElement.lang), 'en')
    await shot(p, SUITE, '09-status-en')
    await p.tap('#lang')
    assert.equal((await p.locator('#public-status').innerText()).trim(), '已受理')

    // A reload of the link (a new visit) shows the same.
    await p.reload()
    await p.waitForSelector('#public-status')
    assert.equal((await p.locator('#public-status').innerText()).trim(), '已受理')

    assertNoProblems(p)
    await p.context().close()
  }

  // Through the API: 海滨街道's office has it, with the photo and the contact; 大钟庄镇's does not.
  {
    const haibin = await apiLogin(`officer-${HAIBIN}`)
    const list = await apiFetch('/api/v1/tips?limit=500', { token: haibin })
    const tip = list.items.find((t) => t.id === tipId)
    assert.ok(tip, `tip ${tipId} is in ${HAIBIN}'s list`)
    assert.equal(tip.town && tip.town.code, HAIBIN, JSON.stringify(tip.town))
    assert.equal(tip.description, description)
    assert.equal(tip.address, '海滨街道北台村东')
    assert.equal(tip.status, 'received')
    assert.equal(tip.channel, 'api')
    assert.equal(tip.input_crs, 'wgs84')
    assert.ok(Math.abs(tip.location.lon - INSIDE.lon) < 0.0005 && Math.abs(tip.location.lat - INSIDE.lat) < 0.0005, JSON.stringify(tip.location))
    assert.deepEqual(tip.photos, [PHOTO_SHA])
    assert.deepEqual(tip.contact, { name: contact.name, phone: contact.phone, email: contact.email })
    const one = await apiFetch(`/api/v1/tips/${tipId}`, { token: haibin })
    assert.deepEqual(one.contact, tip.contact)

    const other = await apiLogin(`officer-${OTHER}`)
    const theirs = await apiFetch('/api/v1/tips?limit=500', { token: other })
    assert.ok(!theirs.items.some((t) => t.id === tipId), `${OTHER} does not list ${HAIBIN}'s tip`)
    await assert.rejects(apiFetch(`/api/v1/tips/${tipId}`, { token: other }), (e) => e.status === 404)
  }

  // The same page on a desktop: the form (a mouse click on the map) and the status link.
  {
    const p = await newPage(browser)
    await open(p)
    const { x, y } = await mapPoint(p, INSIDE)
    await p.mouse.click(x, y)
    const at = await picked(p)
    assert.ok(Math.abs(at.lon - INSIDE.lon) < 0.005 && Math.abs(at.lat - INSIDE.lat) < 0.005, `desktop pick: ${at.text}`)
    await shot(p, SUITE, '13-desktop-form')
    await open(p, statusHash)
    await p.waitForSelector('#public-status')
    assert.equal((await p.locator('#public-status').innerText()).trim(), '已受理')
    await shot(p, SUITE, '14-desktop-status')
    assertNoProblems(p)
    await p.context().close()
  }

  // ------------------------------------------------------------ 3. a weak signal
  {
    const p = await newPage(browser, {
      mobile: true,
      context: { geolocation: { longitude: INSIDE.lon, latitude: INSIDE.lat, accuracy: 12 }, permissions: ['geolocation'] },
    })
    const api = watchApi(p)
    await open(p)

    await p.tap('#locate')
    await p.waitForFunction(() => /已选位置/.test(document.querySelector('#place-status').textContent))
    const at = await picked(p)
    assert.ok(Math.abs(at.lon - INSIDE.lon) < 1e-5 && Math.abs(at.lat - INSIDE.lat) < 1e-5, at.text)
    assert.match(at.text, /±12 m/)
    const weak = `路边空地上正在搭建彩钢房（信号差 ${stamp}）`
    await p.fill('#description', weak)
    await p.fill('#contact-phone', '13900000000')
    await p.setInputFiles('#photos', PHOTO)
    await p.waitForSelector('#photo-list li.photo.ready')

    // The first chunk reaches the server but its answer is lost: the page asks (HEAD) and resumes.
    let cut = 0
    await p.route('**/api/v1/uploads/*', async (route) => {
      if (route.request().method() === 'PATCH' && cut++ === 0) {
        await route.fetch()
        return route.abort('connectionreset')
      }
      return route.fallback()
    })
    // The first submission is refused as too many (a 429 made up here: the server never sees it).
    let tipPosts = 0
    await p.route('**/api/v1/tips', async (route) => {
      if (route.request().method() !== 'POST') return route.fallback()
      tipPosts++
      if (tipPosts === 1) {
        return route.fulfill({
          status: 429,
          headers: { 'Retry-After': '120', 'Content-Type': 'application/json' },
          body: JSON.stringify({ error: { code: 'rate_limited', message: 'too many tips from here; retry in 120 seconds', details: { retry_after_secs: 120 } } }),
        })
      }
      if (tipPosts === 2) {
        // The server makes the tip; the answer is lost on the way back.
        await route.fetch()
        return route.abort('connectionreset')
      }
      return route.fallback()
    })

    await p.tap('#submit')
    await p.waitForFunction(() => /后再试/.test(document.querySelector('#form-error').textContent), null, { timeout: 30000 })
    const text = await errorText(p)
    assert.match(text, /提交过于频繁，请在 2 分钟后再试/, text)
    assert.match(text, /retry in 120 seconds/, `the server's own message is shown too: ${text}`)
    assert.equal(await p.inputValue('#description'), weak, 'what was typed is kept')
    assert.equal(await p.inputValue('#contact-phone'), '13900000000')
    assert.match((await picked(p)).text, /已选位置/, 'the place is kept')
    assert.equal(await p.locator('#photo-list li.photo.done').count(), 1, 'the photo is up and stays up')
    await shot(p, SUITE, '10-rate-limited')

    await p.tap('#submit')
    await p.waitForSelector('#receipt-view:not([hidden])', { timeout: 30000 })
    const weakId = (await p.locator('#receipt-id').innerText()).trim()
    await shot(p, SUITE, '11-weak-receipt')

    const uploads = api.filter((r) => r.url.pathname.startsWith('/api/v1/uploads'))
    const seq = uploads.map((r) => `${r.line.split(' ')[0]} ${r.headers['upload-offset'] || ''}`.trim())
    assert.deepEqual(seq, ['POST', 'PATCH 0', 'HEAD', 'PATCH 131072'], `resumed at the server's offset: ${seq.join(', ')}`)
    const keys = api.filter((r) => r.line === 'POST /api/v1/tips').map((r) => r.headers['idempotency-key'])
    assert.equal(keys.length, 3, `429, lost answer, retry: ${keys}`)
    assert.ok(keys.every((k) => k && k === keys[0]), `one key for the one submission: ${keys}`)

    const haibin = await apiLogin(`officer-${HAIBIN}`)
    const list = await apiFetch('/api/v1/tips?limit=500', { token: haibin })
    const mine = list.items.filter((t) => t.description === weak)
    assert.equal(mine.length, 1, `one tip for the retried submission, not ${mine.length}`)
    assert.equal(mine[0].id, weakId)
    assert.equal(mine[0].location.accuracy_m, 12)
    assert.deepEqual(mine[0].photos, [PHOTO_SHA])
    assert.deepEqual(mine[0].contact, { name: null, phone: '13900000000', email: null })

    // A damaged link says so in words.
    await open(p, `#status/${weakId}/lptr_not-the-token`)
    await p.waitForFunction(() => /未找到/.test(document.querySelector('#status-body').textContent))
    await shot(p, SUITE, '12-bad-link')

    // The failures made on purpose are the only ones.
    assertNoProblems(p, {
      allow: [/Failed to load resource: net::ERR_(CONNECTION_RESET|FAILED)/, /status of 429/, /status of 404 .*\/api\/v1\/tips\//],
    })
    await p.context().close()
  }
}
