// Browser test plumbing: Debian's Chromium through playwright-core, pages that collect every
// console error, page error and Content-Security-Policy violation, screenshots, and the REST API
// of the server under test (LP_BASE_URL, started with --demo).
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const assert = require('node:assert/strict')
const { chromium } = require('playwright-core')

const BASE = process.env.LP_BASE_URL
const PASSWORD = 'landpatrol-demo'
const CHROMIUM = process.env.LP_CHROMIUM || '/usr/bin/chromium'
const SHOTS = path.join(__dirname, 'screenshots')
const FIXTURES = path.join(__dirname, 'fixtures')

// Playwright gives every launch a fresh temporary profile (a fresh user-data-dir).
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** One Chromium for a whole run (playwright-core can not download browsers here). */
async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })
}

/**
 * A new context and page. mobile: 375×812 at 2× with touch (a phone); else 1280×800.
 * `context` adds Playwright context options (geolocation, permissions, locale …).
 * Everything that goes wrong in the page lands in `page.problems` (strings):
 * console errors, uncaught page errors, CSP violations (the `securitypolicyviolation` event,
 * reported from the page, and console lines about "Content Security Policy").
 */
async function page(browser, { mobile = false, context: extra = {} } = {}) {
  const opts = mobile
    ? { viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
    : { viewport: { width: 1280, height: 800 } }
  const context = await browser.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', ...opts, ...extra })
  const p = await context.newPage()
  p.problems = []
  p.on('console', (m) => {
    const text = m.text()
    if (m.type() === 'error' || /Content Security Policy/i.test(text)) {
      const loc = m.location()
      p.problems.push(`console ${m.type()}: ${text}${loc && loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`)
    }
  })
  p.on('pageerror', (e) => p.problems.push(`page error: ${e.stack || e.message}`))
  await p.exposeBinding('__lpCspViolation', (_source, v) => {
    p.problems.push(`CSP violation: ${v.directive} blocked ${v.blocked || '(inline)'} in ${v.source}:${v.line}${v.sample ? ` «${v.sample}»` : ''}`)
  })
  await p.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__lpCspViolation({
        directive: e.effectiveDirective || e.violatedDirective,
        blocked: e.blockedURI,
        source: e.sourceFile,
        line: e.lineNumber,
        sample: e.sample,
      })
    })
  })
  return p
}

/**
 * Saves a full-page PNG as screenshots/<database>/<suite>/<name>.png (the database of the run,
 * LP_DB_KIND, so the two CI runs keep their own); returns its path.
 */
async function shot(p, suite, name) {
  const dir = path.join(SHOTS, process.env.LP_DB_KIND || 'any', suite)
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, `${name}.png`)
  await p.screenshot({ path: file, fullPage: true })
  return file
}

/**
 * The REST API: parsed JSON (null for an empty body). Throws on a non-2xx answer with the
 * method, path, status and body in the message (and `err.status`, `err.body`).
 */
async function apiFetch(p, { method = 'GET', token, body, headers = {} } = {}) {
  const h = { ...headers }
  if (token) h.Authorization = `Bearer ${token}`
  if (body !== undefined) h['Content-Type'] = 'application/json'
  const r = await fetch(`${BASE}${p}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await r.text()
  let json = null
  try {
    json = text ? JSON.parse(text) : null
  } catch (_) {
    json = text
  }
  if (!r.ok) {
    const err = new Error(`${method} ${p}: ${r.status} ${text}`)
    err.status = r.status
    err.body = json
    throw err
  }
  return json
}

/** An access token for a demo user (password landpatrol-demo). */
async function apiLogin(username) {
  return (await apiFetch('/api/v1/auth/login', { method: 'POST', body: { username, password: PASSWORD } })).access_token
}

/**
 * Fails when the page logged a console error, threw, or broke its CSP.
 * `allow`: regular expressions of problems a test caused on purpose (a mocked 429 …).
 */
function assertNoProblems(p, { allow = [] } = {}) {
  const left = p.problems.filter((x) => !allow.some((re) => re.test(x)))
  assert.deepEqual(left, [], `the page had problems:\n  ${left.join('\n  ')}`)
}

module.exports = { BASE, PASSWORD, CHROMIUM, ARGS, SHOTS, FIXTURES, launch, page, shot, apiFetch, apiLogin, assert, assertNoProblems }
