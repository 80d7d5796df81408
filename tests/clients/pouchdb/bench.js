// Side by side: landpatrol's sync push / first-sync pull against pouchdb-server's `_bulk_docs` /
// `_changes?include_docs=true`, in memory and on LevelDB. Run by bench.sh, which starts the three
// servers; by hand:
//
//   LP_BASE_URL=http://127.0.0.1:8080 POUCH_MEMORY_URL=http://127.0.0.1:5985 \
//   POUCH_LEVELDB_URL=http://127.0.0.1:5986 node bench.js [--rounds 3] [--docs 10000] [--batch 500] [--page 500]
//     [--warmup 1000 | --no-warmup]
//
// One HTTP client for all three sides (node's http, one keep-alive socket per side), every
// request body serialised before the clock starts, every answer read whole and parsed with
// JSON.parse inside the clock. Each round pushes the same records to all three, then pulls them
// from all three; the order of the three sides rotates from round to round. An untimed warm-up
// round (1,000 records each side) comes first, so that no side pays for JIT and caches alone.
'use strict'

const http = require('http')
const crypto = require('crypto')

function arg(name, dflt) {
  const i = process.argv.indexOf(name)
  if (i < 0 || i + 1 >= process.argv.length) return dflt
  const v = Number(process.argv[i + 1])
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer`)
  return v
}

const ROUNDS = arg('--rounds', 3)
const DOCS = arg('--docs', 10000)
const BATCH = arg('--batch', 500)
const PAGE = arg('--page', 500)
const WARMUP = process.argv.includes('--no-warmup') ? 0 : arg('--warmup', 1000)
const LP = need('LP_BASE_URL')
const MEM = need('POUCH_MEMORY_URL')
const LDB = need('POUCH_LEVELDB_URL')
const PASSWORD = 'landpatrol-demo'
const BENCH_PASSWORD = 'landpatrol-bench-password'

function need(name) {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set`)
  return v.replace(/\/$/, '')
}

// ---------------------------------------------------------------------------------------------
// The one HTTP client: a keep-alive agent per side, the whole answer as a Buffer.

const agents = new Map()
function agentFor(base) {
  if (!agents.has(base)) agents.set(base, new http.Agent({ keepAlive: true, maxSockets: 1 }))
  return agents.get(base)
}

function request(base, method, path, { body, token } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(base + path)
    const headers = { Accept: 'application/json' }
    if (token) headers.Authorization = `Bearer ${token}`
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json'
      headers['Content-Length'] = body.length
    }
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent: agentFor(base) },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    if (body !== undefined) req.write(body)
    req.end()
  })
}

/** A request whose status must be `want`; the answer parsed. */
async function call(base, method, path, want, { json, token } = {}) {
  const body = json === undefined ? undefined : Buffer.from(JSON.stringify(json))
  const r = await request(base, method, path, { body, token })
  if (r.status !== want) throw new Error(`${method} ${base}${path}: ${r.status} ${r.body.toString().slice(0, 500)}`)
  return r.body.length ? JSON.parse(r.body) : null
}

// ---------------------------------------------------------------------------------------------
// Records: the ops of tests/src/bin/sync_bench.rs (`fn op`), with `photos: []`.

let lastMs = 0
let counter = 0
/** A UUIDv7 (48-bit ms time, then a 12-bit counter within the ms, then random), like Uuid::now_v7. */
function uuidv7() {
  let ms = Date.now()
  if (ms <= lastMs) {
    counter += 1
    if (counter > 0xfff) {
      lastMs += 1
      counter = 0
    }
    ms = lastMs
  } else {
    lastMs = ms
    counter = 0
  }
  const b = crypto.randomBytes(16)
  b.writeUIntBE(ms, 0, 6)
  b[6] = 0x70 | (counter >> 8)
  b[7] = counter & 0xff
  b[8] = (b[8] & 0x3f) | 0x80
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

// Rust's `{}` of an f64: the shortest representation that reads back, as JS prints numbers.
function op(seq, device, i) {
  return {
    op_id: uuidv7(),
    seq,
    hlc: `${Date.now()}-${(seq & 0xffff).toString(16).padStart(4, '0')}-${device}`,
    op: 'create',
    table: 'observations',
    id: uuidv7(),
    fields: {
      location: { lon: 117.2 + (i % 1000) * 1e-4, lat: 39.6 + (i % 700) * 1e-4, crs: 'gcj02', accuracy_m: 6.5 },
      note: '巡查发现新建彩钢房一处, 约200平方米, 已拍照取证, 现场无施工人员, 已告知村委会。',
      photos: [],
      observed_at: '2017-05-20T08:03:11+08:00',
    },
  }
}

/** The same record as a PouchDB document: the op flattened, `_id` = the record id. */
function doc(o) {
  return { _id: o.id, table: o.table, op_id: o.op_id, seq: o.seq, hlc: o.hlc, ...o.fields }
}

// ---------------------------------------------------------------------------------------------
// The sides.

/** A fresh inspector (one per round, so a first sync holds only that round's records). */
async function lpRoundUser(adminToken, round) {
  const username = `pouch-bench-${process.pid}-${round}-${crypto.randomBytes(3).toString('hex')}`
  await call(LP, 'POST', '/api/v1/users', 201, {
    token: adminToken,
    json: { username, password: BENCH_PASSWORD, role: 'inspector', display_name: `bench round ${round}` },
  })
  return username
}

/** tests/src/lib.rs `device_session`: login, register a device, login bound to it. */
async function lpDeviceSession(username, password) {
  const plain = await call(LP, 'POST', '/api/v1/auth/login', 200, { json: { username, password, device_id: null } })
  const device = uuidv7()
  await call(LP, 'POST', '/api/v1/devices', 201, {
    token: plain.access_token,
    json: { device_id: device, name: 'bench', platform: 'x', app_version: '1' },
  })
  const pair = await call(LP, 'POST', '/api/v1/auth/login', 200, { json: { username, password, device_id: device } })
  return { token: pair.access_token, device }
}

async function lpPush(bodies, token) {
  let n = 0
  for (const body of bodies) {
    const r = await request(LP, 'POST', '/api/v1/sync/push', { body, token })
    if (r.status !== 200) throw new Error(`push: ${r.status} ${r.body.toString().slice(0, 500)}`)
    const v = JSON.parse(r.body)
    if (!v.results.every((x) => x.status === 'applied')) throw new Error(`push: not all applied: ${r.body.toString().slice(0, 500)}`)
    n += v.results.length
  }
  return n
}

/** A first sync on a fresh device: every page until has_more is false (sync_bench.rs's loop). */
async function lpPull(token) {
  let cursor = null
  let records = 0
  const tables = {}
  let bytes = 0
  let pages = 0
  let parse = 0
  for (;;) {
    const body = Buffer.from(JSON.stringify({ cursor, limit: PAGE }))
    const r = await request(LP, 'POST', '/api/v1/sync/pull', { body, token })
    if (r.status !== 200) throw new Error(`pull: ${r.status} ${r.body.toString().slice(0, 500)}`)
    bytes += r.body.length
    pages += 1
    const p0 = process.hrtime.bigint()
    const page = JSON.parse(r.body)
    parse += secs(p0)
    records += page.changes.length
    for (const c of page.changes) tables[c.table] = (tables[c.table] || 0) + 1
    cursor = page.cursor
    if (!page.has_more) break
  }
  const observations = tables.observations || 0
  delete tables.observations
  return { records, observations, bytes, pages, parse, others: tables }
}

async function pouchPush(base, db, bodies) {
  let n = 0
  for (const body of bodies) {
    const r = await request(base, 'POST', `/${db}/_bulk_docs`, { body })
    if (r.status !== 201) throw new Error(`_bulk_docs: ${r.status} ${r.body.toString().slice(0, 500)}`)
    const v = JSON.parse(r.body)
    if (!v.every((x) => x.ok === true)) throw new Error(`_bulk_docs: not all ok: ${r.body.toString().slice(0, 500)}`)
    n += v.length
  }
  return n
}

/** `_changes?include_docs=true` from the start, `limit` a page, `since` the last page's
 * `last_seq`, until a page comes back shorter than the limit (as PouchDB's replicator stops). */
async function pouchPull(base, db) {
  let since = 0
  let records = 0
  let bytes = 0
  let pages = 0
  let parse = 0
  for (;;) {
    const r = await request(base, 'GET', `/${db}/_changes?include_docs=true&limit=${PAGE}&since=${encodeURIComponent(since)}`)
    if (r.status !== 200) throw new Error(`_changes: ${r.status} ${r.body.toString().slice(0, 500)}`)
    bytes += r.body.length
    pages += 1
    const p0 = process.hrtime.bigint()
    const page = JSON.parse(r.body)
    parse += secs(p0)
    for (const c of page.results) if (!c.doc || c.doc._id !== c.id) throw new Error(`_changes: no doc for ${c.id}`)
    records += page.results.length
    since = page.last_seq
    if (page.results.length < PAGE) break
  }
  return { records, observations: records, bytes, pages, parse }
}

// ---------------------------------------------------------------------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const fmt = (x) => Math.round(x).toString()
const secs = (t0) => Number(process.hrtime.bigint() - t0) / 1e9

async function main() {
  const lpHealth = await request(LP, 'GET', '/readyz')
  if (lpHealth.status !== 200) throw new Error(`landpatrol /readyz: ${lpHealth.status}`)
  const memInfo = await call(MEM, 'GET', '/', 200)
  const ldbInfo = await call(LDB, 'GET', '/', 200)
  console.log(
    `versions: node ${process.version}; pouchdb-server ${memInfo.version} (adapters: memory side ${JSON.stringify(memInfo['pouchdb-adapters'])}, ` +
      `LevelDB side ${JSON.stringify(ldbInfo['pouchdb-adapters'])}); landpatrol: ${process.env.LP_VERSION || '?'} on ${process.env.LP_DB_KIND || '?'}`,
  )
  console.log(`${ROUNDS} rounds; ${DOCS} records per round in batches of ${BATCH}; pull pages of ${PAGE} on every side; ${WARMUP ? `warm-up round of ${WARMUP} records (not counted)` : 'no warm-up'}`)

  const admin = (await call(LP, 'POST', '/api/v1/auth/login', 200, { json: { username: 'admin', password: PASSWORD } })).access_token
  const figures = { lpPush: [], memPush: [], ldbPush: [], lpPull: [], memPull: [], ldbPull: [] }
  // The pulls again without the client's JSON.parse: the server's part (and the transfer).
  const bare = { lpPull: [], memPull: [], ldbPull: [] }

  for (let round = WARMUP > 0 ? 0 : 1; round <= ROUNDS; round += 1) {
    const n = round === 0 ? WARMUP : DOCS
    const label = round === 0 ? 'warm-up (not counted)' : `round ${round}`
    // Setup, outside the clock: the round's user and its pushing device, the bodies, fresh databases.
    const username = await lpRoundUser(admin, round)
    const pusher = await lpDeviceSession(username, BENCH_PASSWORD)
    const ops = []
    for (let i = 0; i < n; i += 1) ops.push(op(i + 1, pusher.device, i))
    const lpBodies = []
    const pouchBodies = []
    for (let b = 0; b < n; b += BATCH) {
      const slice = ops.slice(b, b + BATCH)
      lpBodies.push(Buffer.from(JSON.stringify({ device_id: pusher.device, ops: slice })))
      pouchBodies.push(Buffer.from(JSON.stringify({ docs: slice.map(doc) })))
    }
    const lpBytes = lpBodies.reduce((s, x) => s + x.length, 0) / n
    const pouchBytes = pouchBodies.reduce((s, x) => s + x.length, 0) / n
    const db = `bench_${process.pid}_r${round}`
    for (const base of [MEM, LDB]) await call(base, 'PUT', `/${db}`, 201)

    const pushes = [
      ['landpatrol push', 'lpPush', () => lpPush(lpBodies, pusher.token), lpBytes],
      ['PouchDB-memory _bulk_docs', 'memPush', () => pouchPush(MEM, db, pouchBodies), pouchBytes],
      ['PouchDB-LevelDB _bulk_docs', 'ldbPush', () => pouchPush(LDB, db, pouchBodies), pouchBytes],
    ]
    const k = Math.max(round - 1, 0) % 3
    const rot = (xs) => xs.slice(k).concat(xs.slice(0, k))
    for (const [name, key, run, perDoc] of rot(pushes)) {
      const t0 = process.hrtime.bigint()
      const done = await run()
      const s = secs(t0)
      if (round > 0) figures[key].push(done / s)
      console.log(`${label}: ${name}: ${done} records (~${fmt(perDoc)} B each on the wire) in ${s.toFixed(3)} s = ${fmt(done / s)} records/s`)
    }

    // The first sync: a second, fresh device of the round's user (outside the clock: its login).
    const puller = await lpDeviceSession(username, BENCH_PASSWORD)
    const pulls = [
      ['landpatrol first-sync pull', 'lpPull', () => lpPull(puller.token)],
      ['PouchDB-memory _changes?include_docs=true', 'memPull', () => pouchPull(MEM, db)],
      ['PouchDB-LevelDB _changes?include_docs=true', 'ldbPull', () => pouchPull(LDB, db)],
    ]
    for (const [name, key, run] of rot(pulls)) {
      const t0 = process.hrtime.bigint()
      const r = await run()
      const s = secs(t0)
      if (r.observations !== n) throw new Error(`${name}: ${r.observations} of the round's ${n} records`)
      if (round > 0) figures[key].push(r.records / s)
      if (round > 0) bare[key].push(r.records / (s - r.parse))
      console.log(
        `${label}: ${name}: ${r.records} records (${r.observations} of this round's${r.others ? `; others: ${JSON.stringify(r.others)}` : ''}), ${r.pages} pages, ` +
          `${fmt(r.bytes / 1024)} KB (~${fmt(r.bytes / r.records)} B/record) in ${s.toFixed(3)} s = ${fmt(r.records / s)} records/s ` +
          `(client JSON.parse ${r.parse.toFixed(3)} s; without it ${fmt(r.records / (s - r.parse))} records/s)`,
      )
    }
    const ldb = await call(LDB, 'GET', `/${db}`, 200)
    if (ldb.adapter !== 'leveldb' || ldb.doc_count !== n) throw new Error(`LevelDB side: ${JSON.stringify(ldb)}`)
    const mem = await call(MEM, 'GET', `/${db}`, 200)
    if (mem.doc_count !== n) throw new Error(`memory side: ${JSON.stringify(mem)}`)
    // Free the memory side's round (the LevelDB side's files stay until bench.sh removes them).
    await call(MEM, 'DELETE', `/${db}`, 200)
  }

  const m = Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, median(v)]))
  const ratio = (a, b) => (a / b).toFixed(2)
  console.log(
    `medians (records/s): landpatrol push ${fmt(m.lpPush)}, PouchDB-memory _bulk_docs ${fmt(m.memPush)}, PouchDB-LevelDB _bulk_docs ${fmt(m.ldbPush)}; ` +
      `landpatrol pull ${fmt(m.lpPull)}, PouchDB-memory _changes ${fmt(m.memPull)}, PouchDB-LevelDB _changes ${fmt(m.ldbPull)}`,
  )
  const perRound = (a, b) => figures[a].map((x, i) => ratio(x, figures[b][i])).join(' / ')
  console.log(`ratio push landpatrol / PouchDB-LevelDB: ${ratio(m.lpPush, m.ldbPush)} (per round ${perRound('lpPush', 'ldbPush')}); goal >= 1.5`)
  console.log(`ratio push landpatrol / PouchDB-memory:  ${ratio(m.lpPush, m.memPush)} (per round ${perRound('lpPush', 'memPush')})`)
  console.log(`ratio pull landpatrol / PouchDB-LevelDB: ${ratio(m.lpPull, m.ldbPull)} (per round ${perRound('lpPull', 'ldbPull')}); goal >= 2`)
  console.log(`ratio pull landpatrol / PouchDB-memory:  ${ratio(m.lpPull, m.memPull)} (per round ${perRound('lpPull', 'memPull')})`)
  const b = Object.fromEntries(Object.entries(bare).map(([k, v]) => [k, median(v)]))
  console.log(
    `pulls without the client's JSON.parse (medians, records/s): landpatrol ${fmt(b.lpPull)}, PouchDB-memory ${fmt(b.memPull)}, ` +
      `PouchDB-LevelDB ${fmt(b.ldbPull)}; ratios landpatrol / PouchDB-LevelDB ${ratio(b.lpPull, b.ldbPull)}, / PouchDB-memory ${ratio(b.lpPull, b.memPull)}`,
  )
  const pushOk = m.lpPush / m.ldbPush >= 1.5
  const pullOk = m.lpPull / m.ldbPull >= 2
  console.log(`goal push >= 1.5x PouchDB-LevelDB: ${pushOk ? 'met' : 'NOT met'}; goal pull >= 2x: ${pullOk ? 'met' : 'NOT met'}`)
  for (const a of agents.values()) a.destroy()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
