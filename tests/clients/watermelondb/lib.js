// Test plumbing: the guide's code pasted into app/, phones (a LokiJS database each, with the
// guide's sync()), the REST API, a check counter, and a watch on WatermelonDB's own log lines.
'use strict'

const fs = require('fs')
const path = require('path')

const GUIDE = path.join(__dirname, '..', '..', '..', 'mobile-api-docs', 'guides', 'watermelondb.md')
const APP = path.join(__dirname, 'app')

/** Writes every block of the guide marked `<!-- file: NAME -->` to app/NAME; returns the names. */
function pasteGuide() {
  const text = fs.readFileSync(GUIDE, 'utf8')
  const re = /<!-- file: ([\w.-]+)[^>]*-->\n```js\n([\s\S]*?)```/g
  fs.rmSync(APP, { recursive: true, force: true })
  fs.mkdirSync(APP, { recursive: true })
  const names = []
  for (const m of text.matchAll(re)) {
    fs.writeFileSync(path.join(APP, m[1]), m[2])
    names.push(m[1])
  }
  return names
}

function babel() {
  require('@babel/register')({
    babelrc: false,
    configFile: false,
    only: [APP],
    cwd: __dirname,
    plugins: [
      [require.resolve('@babel/plugin-proposal-decorators'), { legacy: true }],
      [require.resolve('@babel/plugin-transform-class-properties'), { loose: true }],
      require.resolve('@babel/plugin-transform-modules-commonjs'),
    ],
  })
}

// WatermelonDB reports sync trouble ("serious bug", "Server wants client to create record …")
// through its logger, which writes to console.error / console.warn.
const watermelonComplaints = []
function watchWatermelonLog() {
  // LokiJS's setup chatter ("[🍉] [Loki] Database loaded") is not about sync: kept out of the output.
  const log = console.log.bind(console)
  console.log = (...args) => {
    if (!String(args[0]).includes('[Loki]')) log(...args)
  }
  for (const level of ['error', 'warn']) {
    const original = console[level].bind(console)
    console[level] = (...args) => {
      const line = args.map((a) => (a instanceof Error ? a.stack : String(a))).join(' ')
      watermelonComplaints.push(`${level}: ${line}`)
      original(...args)
    }
  }
}

const results = { passed: 0, failed: 0, failures: [] }
function check(name, ok, detail) {
  if (ok) {
    results.passed += 1
    console.log(`  ok   ${name}`)
  } else {
    results.failed += 1
    results.failures.push(name)
    console.log(`  FAIL ${name}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`)
  }
  return ok
}

class Api {
  constructor(base) {
    this.base = base
  }

  async call(method, p, { token, body, raw } = {}) {
    const headers = {}
    if (token) headers.Authorization = `Bearer ${token}`
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    const r = await fetch(`${this.base}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await r.text()
    let json = null
    try {
      json = text ? JSON.parse(text) : null
    } catch (_) {
      json = text
    }
    if (raw) return { status: r.status, body: json }
    if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`)
    return json
  }

  /** Every alert the token may read (the inbox pages by `before`). */
  async alerts(token) {
    const items = []
    let before = null
    do {
      const page = await this.call('GET', `/api/v1/alerts?limit=500${before ? `&before=${before}` : ''}`, { token })
      items.push(...page.alerts)
      before = page.next_before
    } while (before)
    return items
  }

  async login(username, deviceId) {
    const body = { username, password: 'landpatrol-demo' }
    if (deviceId) body.device_id = deviceId
    return (await this.call('POST', '/api/v1/auth/login', { body })).access_token
  }

  /** Every item of a paged REST list. */
  async all(p, token) {
    const items = []
    let cursor = null
    do {
      const sep = p.includes('?') ? '&' : '?'
      const page = await this.call('GET', `${p}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token })
      items.push(...page.items)
      cursor = page.next_cursor
    } while (cursor)
    return items
  }
}

let phoneCount = 0

/** A phone: its own LokiJS database, device registration and session, and the guide's sync(). */
class Phone {
  static async open(api, username, { schema, migrations, adapter, modelClasses } = {}) {
    const { Database } = require('@nozbe/watermelondb')
    const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
    const app = {
      schema: require(path.join(APP, 'schema.js')).schema,
      migrations: require(path.join(APP, 'migrations.js')).migrations,
      models: require(path.join(APP, 'models.js')),
      sync: require(path.join(APP, 'sync.js')).sync,
    }
    phoneCount += 1
    const phone = new Phone()
    phone.api = api
    phone.username = username
    phone.app = app
    phone.adapter =
      adapter ||
      new LokiJSAdapter({
        schema: schema || app.schema,
        migrations: migrations || app.migrations,
        useWebWorker: false,
        useIncrementalIndexedDB: true,
        dbName: `phone-${phoneCount}`,
      })
    phone.modelClasses = modelClasses || app.models.modelClasses
    phone.database = new Database({ adapter: phone.adapter, modelClasses: phone.modelClasses })
    const admin = await api.login(username)
    phone.deviceId = require('crypto').randomUUID()
    await api.call('POST', '/api/v1/devices', {
      token: admin,
      body: { device_id: phone.deviceId, name: `phone ${phoneCount}`, platform: 'android', app_version: '1.0.0' },
    })
    phone.token = await api.login(username, phone.deviceId)
    phone.fetchHook = null
    return phone
  }

  /** The guide's sync(); returns WatermelonDB's sync logs of its rounds. */
  async sync() {
    const logs = []
    const realFetch = global.fetch
    const hook = this.fetchHook
    if (hook) global.fetch = (url, init) => hook(realFetch, url, init)
    try {
      const log = {}
      logs.push(log)
      await this.app.sync({
        database: this.database,
        baseUrl: this.api.base,
        getAccessToken: async () => this.token,
        log,
      })
    } finally {
      global.fetch = realFetch
    }
    return logs
  }

  collection(table) {
    return this.database.get(table)
  }

  async all(table) {
    return this.collection(table).query().fetch()
  }

  async find(table, id) {
    try {
      return await this.collection(table).find(id)
    } catch (_) {
      return null
    }
  }

  async write(fn) {
    return this.database.write(fn)
  }

  /** Records with unsynced changes, by table. */
  async unsynced() {
    const out = {}
    for (const t of Object.keys(this.database.collections.map)) {
      const rows = await this.collection(t).query().fetch()
      const dirty = rows.filter((r) => r._raw._status !== 'synced').map((r) => r.id)
      if (dirty.length) out[t] = dirty
    }
    return out
  }
}

module.exports = { pasteGuide, babel, watchWatermelonLog, watermelonComplaints, check, results, Api, Phone }
