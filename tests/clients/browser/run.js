// Runs every *.test.js of this folder in alphabetical order against LP_BASE_URL, in one Chromium.
// Each file exports `async function (ctx)`, ctx = { browser, BASE, ...lib }. Prints PASS/FAIL per
// file and a summary; exits 1 when any failed.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const lib = require('./lib')

async function main() {
  if (!lib.BASE) {
    console.error('set LP_BASE_URL to a landpatrol server started with --demo (run.sh does)')
    process.exit(2)
  }
  const only = process.argv.slice(2)
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
    .sort()
  const browser = await lib.launch()
  console.log(`chromium ${browser.version()}, playwright-core ${require('playwright-core/package.json').version}, ${lib.BASE}`)
  let passed = 0
  let failed = 0
  try {
    for (const f of files) {
      const name = f.replace(/\.test\.js$/, '')
      const started = Date.now()
      try {
        const test = require(path.join(__dirname, f))
        await test({ browser, ...lib })
        passed++
        console.log(`PASS ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
      } catch (e) {
        failed++
        console.log(`FAIL ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
        console.log(e && e.stack ? e.stack : String(e))
      }
    }
  } finally {
    await browser.close()
  }
  console.log(`browser tests: ${passed} passed, ${failed} failed`)
  process.exit(failed ? 1 : 0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
