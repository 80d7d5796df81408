// How fast the console's first page is ready, in real Chromium, on the demo data:
// from navigation to the town office's inbox drawn (signed in by the refresh cookie,
// as on every reload), and what its files weigh. LP_BASE_URL=… node bench.js [rounds]
'use strict'

const zlib = require('node:zlib')
const lib = require('./lib')

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b)
  const q = (p) => s[Math.min(s.length - 1, Math.round((s.length - 1) * p))]
  return `median ${q(0.5).toFixed(0)} ms, p95 ${q(0.95).toFixed(0)} ms, max ${s[s.length - 1].toFixed(0)} ms (n = ${s.length})`
}

async function main() {
  const rounds = Number(process.argv[2] || 20)
  const browser = await lib.launch()
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const sign = await context.newPage()
  await sign.goto(`${lib.BASE}/console/`)
  await sign.fill('input[name=username]', 'officer-120115001')
  await sign.fill('input[name=password]', lib.PASSWORD)
  await sign.click('.signin form button')
  await sign.waitForSelector('ul.alerts li.alert')
  await sign.close()

  const files = new Map()
  const cold = []
  const warm = []
  for (let i = 0; i < rounds; i++) {
    for (const [list, fresh] of [[cold, true], [warm, false]]) {
      const p = await context.newPage()
      if (fresh) await p.route('**/*', (route) => route.continue({ headers: { ...route.request().headers(), 'cache-control': 'no-cache', 'if-none-match': '' } }))
      p.on('response', async (r) => {
        const u = new URL(r.url())
        if (u.pathname.startsWith('/console/') && r.status() === 200 && !u.pathname.includes('session') && !u.pathname.endsWith('.json')) {
          files.set(u.pathname, (await r.body()).length)
        }
      })
      const t0 = Date.now()
      await p.goto(`${lib.BASE}/console/#/inbox`)
      await p.waitForSelector('ul.alerts li.alert')
      list.push(Date.now() - t0)
      await p.close()
    }
  }
  await browser.close()
  let raw = 0
  let gz = 0
  const fs = require('node:fs')
  const path = require('node:path')
  for (const f of files.keys()) {
    const local = path.join(__dirname, '../../../server/web/console', path.basename(f === '/console/' ? 'index.html' : f))
    const bytes = fs.readFileSync(local)
    raw += bytes.length
    gz += zlib.gzipSync(bytes, { level: 9 }).length
  }
  console.log(`console first page (sign-in by cookie → inbox drawn), files fetched anew: ${stats(cold)}`)
  console.log(`console first page, files revalidated (304 by ETag):                 ${stats(warm)}`)
  console.log(`console files: ${files.size} (${[...files.keys()].join(' ')}), ${(raw / 1024).toFixed(1)} KiB, ${(gz / 1024).toFixed(1)} KiB gzip -9`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
