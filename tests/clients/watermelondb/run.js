// The real @nozbe/watermelondb against a running landpatrol (LP_BASE_URL, demo data), with the
// code of mobile-api-docs/guides/watermelondb.md. Prints "N passed, M failed"; exits 1 on any
// failure or any complaint WatermelonDB logs about the sync.
'use strict'

const { pasteGuide, babel, watchWatermelonLog, watermelonComplaints, check, results, Api, Phone } = require('./lib')

const BASE = process.env.LP_BASE_URL
if (!BASE) {
  console.error('set LP_BASE_URL to a landpatrol server started with --demo')
  process.exit(2)
}
const api = new Api(BASE)
const HAIBIN = '120115001'
const BAOPING = '120115002'
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const idle = (logs) => logs.every((l) => l.remoteChangeCount === 0 && !l.localChangeCount)

async function rejectionsOf(phone, recordId) {
  return (await phone.all('sync_rejections')).filter((r) => r.recordId === recordId)
}

async function firstSyncPerRole() {
  console.log('first sync per role, counts against the REST API')
  for (const [user, tables] of [
    ['inspector', ['cases', 'towns', 'campaigns']],
    [`officer-${HAIBIN}`, ['cases', 'towns', 'campaigns', 'alerts', 'parcels', 'approvals']],
    ['admin', ['cases', 'towns', 'campaigns', 'alerts', 'parcels', 'approvals']],
  ]) {
    const phone = await Phone.open(api, user)
    const unknownColumns = []
    const columns = {}
    for (const t of phone.app.schema.tables ? Object.values(phone.app.schema.tables) : []) {
      columns[t.name] = new Set(['id', ...t.columnArray.map((c) => c.name)])
    }
    phone.fetchHook = async (realFetch, url, init) => {
      const r = await realFetch(url, init)
      if (!init || !init.method) {
        const body = await r.clone().json()
        for (const [table, ch] of Object.entries(body.changes)) {
          for (const row of ch.created.concat(ch.updated)) {
            for (const k of Object.keys(row)) if (!columns[table] || !columns[table].has(k)) unknownColumns.push(`${table}.${k}`)
          }
        }
      }
      return r
    }
    await phone.sync()
    phone.fetchHook = null
    check(`${user}: every pulled column is in the guide's schema`, unknownColumns.length === 0, [...new Set(unknownColumns)])
    const token = phone.token
    const rest = {
      cases: (await api.all('/api/v1/cases', token)).length,
      towns: (await api.call('GET', '/api/v1/towns', { token })).length,
      campaigns: (await api.call('GET', '/api/v1/campaigns', { token })).length,
    }
    if (tables.includes('alerts')) rest.alerts = (await api.alerts(token)).length
    if (tables.includes('parcels')) rest.parcels = (await api.all('/api/v1/parcels', token)).length
    if (tables.includes('approvals')) rest.approvals = (await api.all('/api/v1/approvals', token)).length
    for (const t of tables) {
      const n = (await phone.all(t)).length
      check(`${user}: ${t} on the phone (${n}) = REST (${rest[t]})`, n === rest[t] && n > 0)
    }
    check(`${user}: a second sync has nothing to do`, idle(await phone.sync()))
  }
}

async function offlineCreation() {
  console.log('a case, an inspection without GPS and an observation made on the phone, offline')
  const a = await Phone.open(api, 'inspector')
  await a.sync()
  let c
  let i
  let o
  await a.write(async () => {
    c = await a.collection('cases').create((r) => {
      r.source = 'patrol'
      r.status = 'reported'
      r.lon = 117.2953
      r.lat = 39.7336
      r.accuracyM = 6
      r.crs = 'wgs84'
      r.description = '新建彩钢房约200平方米'
      r.address = '北台村东'
      r.violationType = 'built_without_approval'
      r.discoveredAt = new Date()
    })
    i = await a.collection('inspections').create((r) => {
      r.kind = 'patrol'
      r.note = '棚内无GPS信号'
      r.inspectedAt = new Date()
    })
    o = await a.collection('observations').create((r) => {
      r.inspection.set(i)
      r.case.set(c)
      r.lon = 117.2954
      r.lat = 39.7337
      r.note = '东侧新增围墙'
      r.observedAt = new Date()
    })
  })
  check('phone-made ids are WatermelonDB ids', /^[A-Za-z0-9]{16}$/.test(c.id) && /^[A-Za-z0-9]{16}$/.test(o.id))
  const logs = await a.sync()
  const dirty = await a.unsynced()
  check('all three synced, nothing refused', Object.keys(dirty).length === 0 && (await a.all('sync_rejections')).length === 0, dirty)
  const rest = await api.call('GET', `/api/v1/cases/${c.id}`, { token: a.token, raw: true })
  check('REST finds the case by the id the phone knows', rest.status === 200 && rest.body.sync_id === c.id, rest)
  const onPhone = await a.find('cases', c.id)
  check('the phone shows the number and town the server gave', onPhone.caseNumber === rest.body.case_number && onPhone.town.id === rest.body.town.id,
    { phone: onPhone._raw, server: rest.body.case_number })
  const inspections = await api.call('GET', `/api/v1/cases/${c.id}`, { token: a.token })
  check('the case has its ledger entry', inspections.history.length >= 1)
  check('the creating sync ran a second round for the server-made fields', logs.length >= 1)
  check('then a sync has nothing to do', idle(await a.sync()))
  const b = await Phone.open(api, 'inspector')
  await b.sync()
  const ob = await b.find('observations', o.id)
  const ib = await b.find('inspections', i.id)
  check('another phone gets the observation linked by phone-made ids', ob && ob.inspection.id === i.id && ob.case.id === c.id, ob && ob._raw)
  check('and the inspection without GPS, lon/lat null', ib && ib.lon === null && ib.lat === null, ib && ib._raw)
  return { a, b, c, o }
}

async function editsAndDeletes({ a, b, c }) {
  console.log('edits and deletes')
  await a.write(() => c.update((r) => { r.address = '北台村东200米' }))
  await a.sync()
  const rest = await api.call('GET', `/api/v1/cases/${c.id}`, { token: a.token })
  check('an edit reaches the server', rest.address === '北台村东200米', rest.address)
  let gone
  let obs
  await a.write(async () => {
    gone = await a.collection('cases').create((r) => {
      r.source = 'patrol'
      r.status = 'reported'
      r.lon = 117.2961
      r.lat = 39.7341
      r.description = '误报'
      r.discoveredAt = new Date()
    })
    obs = await a.collection('observations').create((r) => {
      r.lon = 117.2955
      r.lat = 39.7338
      r.note = '待删除'
      r.observedAt = new Date()
    })
  })
  await a.sync()
  await b.sync()
  check('the other phone got both', (await b.find('cases', gone.id)) !== null && (await b.find('observations', obs.id)) !== null)
  await a.write(async () => {
    await gone.markAsDeleted()
    await obs.markAsDeleted()
  })
  await a.sync()
  const r = await api.call('GET', `/api/v1/cases/${gone.id}`, { token: a.token, raw: true })
  check('a deleted case (own, still reported) is gone from the server', r.status === 404, r.status)
  await b.sync()
  check('and from the other phone', (await b.find('cases', gone.id)) === null && (await b.find('observations', obs.id)) === null)
  check('no deletion left pending', Object.keys(await a.unsynced()).length === 0)
}

async function lostPushAnswer({ a, b, c }) {
  console.log('a push whose answer is lost, retried')
  const before = await api.call('GET', `/api/v1/cases/${c.id}/history`, { token: a.token })
  let o
  await a.write(async () => {
    await c.update((r) => { r.description = '新建彩钢房约260平方米' })
    o = await a.collection('observations').create((r) => {
      r.case.set(c)
      r.lon = 117.2953
      r.lat = 39.7336
      r.note = '复查'
      r.observedAt = new Date()
    })
  })
  a.fetchHook = async (realFetch, url, init) => {
    const r = await realFetch(url, init)
    if (init && init.method === 'POST') {
      a.fetchHook = null
      throw new TypeError('fetch failed (the answer was lost)')
    }
    return r
  }
  let failed = false
  try {
    await a.sync()
  } catch (_) {
    failed = true
  }
  check('the sync with the lost answer failed on the phone', failed)
  check('so its changes are still unsynced there', (await a.unsynced()).cases?.includes(c.id))
  await a.sync()
  const after = await api.call('GET', `/api/v1/cases/${c.id}/history`, { token: a.token })
  const edits = after.filter((e) => e.action === 'updated').length - before.filter((e) => e.action === 'updated').length
  check('the retry applied the edit once', edits === 1, { edits })
  await b.sync()
  const copies = (await b.all('observations')).filter((x) => x.id === o.id).length
  check('and the observation once', copies === 1, { copies })
  check('nothing is left unsynced', Object.keys(await a.unsynced()).length === 0)
}

async function twoPhonesOneCase() {
  console.log('two phones editing one case')
  const a = await Phone.open(api, `officer-${HAIBIN}`)
  const b = await Phone.open(api, `officer-${HAIBIN}`)
  await a.sync()
  await b.sync()
  const open = (await a.all('cases')).find((x) => !['closed', 'dismissed'].includes(x.status))
  const id = open.id
  const ca = await a.find('cases', id)
  const cb = await b.find('cases', id)
  await a.write(() => ca.update((r) => { r.address = '甲手机的地址' }))
  await b.write(() => cb.update((r) => { r.description = '乙手机的描述' }))
  await a.sync()
  await b.sync()
  await a.sync()
  const server = await api.call('GET', `/api/v1/cases/${id}`, { token: a.token })
  check('different columns: both edits kept on the server', server.address === '甲手机的地址' && server.description === '乙手机的描述', server)
  check('and on both phones', (await a.find('cases', id)).description === '乙手机的描述' && (await b.find('cases', id)).address === '甲手机的地址')

  for (const order of ['earlier phone first', 'later phone first']) {
    await a.write(() => ca.update((r) => { r.address = `甲 ${order}` }))
    await sleep(20)
    await b.write(() => cb.update((r) => { r.address = `乙 ${order}` }))
    if (order === 'earlier phone first') {
      await a.sync()
      await b.sync()
    } else {
      await b.sync()
      await a.sync()
    }
    await a.sync()
    await b.sync()
    const s = await api.call('GET', `/api/v1/cases/${id}`, { token: a.token })
    const pa = (await a.find('cases', id)).address
    const pb = (await b.find('cases', id)).address
    check(`same column, ${order}: the later edit wins everywhere`, s.address === `乙 ${order}` && pa === s.address && pb === s.address,
      { server: s.address, a: pa, b: pb })
  }
  check('both phones idle afterwards', idle(await a.sync()) && idle(await b.sync()))
}

async function refusedTransition() {
  console.log('a transition the server refuses')
  const p = await Phone.open(api, 'inspector')
  await p.sync()
  const c = (await p.all('cases')).find((x) => x.status === 'reported' && x.source === 'patrol')
  await c.moveTo('registered', '现场已核实')
  await p.sync()
  const now = await p.find('cases', c.id)
  check('the phone shows the server state again', now.status === 'reported', now.status)
  check('and holds nothing unsynced', Object.keys(await p.unsynced()).length === 0)
  const rej = await rejectionsOf(p, c.id)
  check('the refusal is in sync_rejections, with a stable code', rej.length === 1 && rej[0].code === 'transition_forbidden' && rej[0].columns.includes('status'),
    rej.map((r) => r._raw))
  const server = await api.call('GET', `/api/v1/cases/${c.id}`, { token: p.token })
  check('the server did not move the case', server.status === 'reported')
  check('a sync after that has nothing to do', idle(await p.sync()))
}

async function scopeAndEviction() {
  console.log("an officer's scope, and a case reassigned out and back")
  const o1 = await Phone.open(api, `officer-${HAIBIN}`)
  const o2 = await Phone.open(api, `officer-${BAOPING}`)
  await o1.sync()
  await o2.sync()
  const admin = await api.login('admin')
  const haibin = (await api.call('GET', '/api/v1/towns', { token: admin })).find((t) => t.code === HAIBIN)
  const towns1 = new Set((await o1.all('cases')).map((c) => c.town.id))
  check('the officer holds only cases of its town', towns1.size === 1 && towns1.has(haibin.id), [...towns1])
  const c = (await o1.all('cases')).find((x) => !['closed', 'dismissed'].includes(x.status))
  await api.call('POST', `/api/v1/cases/${c.id}/reassign`, { token: admin, body: { town: BAOPING, note: '路南属宝平' } })
  await o1.sync()
  await o2.sync()
  check('reassigned away: gone from the first town', (await o1.find('cases', c.id)) === null)
  check('and on the phone of the town it went to', (await o2.find('cases', c.id)) !== null)
  await api.call('POST', `/api/v1/cases/${c.id}/reassign`, { token: admin, body: { town: HAIBIN, note: '复核后仍属海滨' } })
  await o1.sync()
  await o2.sync()
  check('reassigned back: there again', (await o1.find('cases', c.id)) !== null && (await o2.find('cases', c.id)) === null)
}

async function officerAcknowledges() {
  console.log('a town officer acknowledges an alert on the phone')
  const p = await Phone.open(api, `officer-${HAIBIN}`)
  await p.sync()
  const alert = (await p.all('alerts')).find((a) => a.ackedAt === null)
  await alert.acknowledge()
  await p.sync()
  const rest = await api.call('GET', `/api/v1/alerts/${alert.id}`, { token: p.token })
  check('the server recorded who and when', rest.acked_at !== null && rest.acked_by !== null, rest)
  const now = await p.find('alerts', alert.id)
  check('the phone shows the server\'s acknowledgement', now.ackedBy === rest.acked_by && now.ackedAt.getTime() === Date.parse(rest.acked_at),
    now._raw)
  check('then nothing to do', idle(await p.sync()))
}

async function schemaMigration() {
  console.log('the app upgrades its schema (a migration sync)')
  const { appSchema, tableSchema } = require('@nozbe/watermelondb')
  const { schemaMigrations } = require('@nozbe/watermelondb/Schema/migrations')
  const current = require('./app/schema.js').schema
  const tables = Object.values(current.tables)
  const v1 = appSchema({
    version: 1,
    tables: tables
      .filter((t) => t.name !== 'parcels')
      .map((t) => tableSchema({ name: t.name, columns: t.columnArray.filter((col) => !(t.name === 'cases' && col.name === 'deadline')) })),
  })
  const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
  const adapterV1 = new LokiJSAdapter({ schema: v1, migrations: schemaMigrations({ migrations: [] }), useWebWorker: false, useIncrementalIndexedDB: true, dbName: 'migrating' })
  const models = require('./app/models.js')
  const phone = await Phone.open(api, `officer-${HAIBIN}`, {
    adapter: adapterV1,
    modelClasses: models.modelClasses.filter((m) => m.table !== 'parcels'),
  })
  await phone.sync()
  const v2 = appSchema({ version: 2, tables: tables.map((t) => tableSchema({ name: t.name, columns: t.columnArray })) })
  const { migrationsFromV1 } = require('./app/migrations-example.js')
  const { Database } = require('@nozbe/watermelondb')
  phone.adapter = await adapterV1.testClone({ schema: v2, migrations: migrationsFromV1 })
  phone.database = new Database({ adapter: phone.adapter, modelClasses: models.modelClasses })
  const logs = await phone.sync()
  const rest = await api.all('/api/v1/parcels', phone.token)
  const parcels = await phone.all('parcels')
  check('the new table arrives whole', parcels.length === rest.length && rest.length > 0, { phone: parcels.length, rest: rest.length })
  const withDeadline = (await api.all('/api/v1/cases', phone.token)).filter((c) => c.deadline)
  const onPhone = await Promise.all(withDeadline.map((d) => phone.find('cases', d.sync_id)))
  check('the new column gets its values', withDeadline.length > 0 && onPhone.every((c, k) => c && c.deadline === withDeadline[k].deadline),
    onPhone.map((c) => c && c.deadline))
  check('the migration sync was one sync', logs[0].migration && logs[0].migration.tables.includes('parcels'), logs[0].migration)
  check('then nothing to do', idle(await phone.sync()))
}

async function main() {
  watchWatermelonLog()
  const files = pasteGuide()
  console.log(`pasted from the guide: ${files.join(', ')}`)
  babel()
  const steps = [firstSyncPerRole, offlineCreation, editsAndDeletes, lostPushAnswer, twoPhonesOneCase, refusedTransition, scopeAndEviction, officerAcknowledges, schemaMigration]
  let shared = null
  for (const step of steps) {
    try {
      const out = await step(shared || {})
      if (out) shared = out
    } catch (e) {
      check(`${step.name} ran to its end`, false, e.stack)
    }
  }
  check('WatermelonDB logged no sync error or warning', watermelonComplaints.length === 0, watermelonComplaints)
  console.log(`${results.passed} passed, ${results.failed} failed`)
  process.exit(results.failed === 0 ? 0 : 1)
}

main()
