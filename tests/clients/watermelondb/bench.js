// One first sync of the bureau into a fresh LokiJS database with the guide's code; prints
// {"records": n, "cases": n, "seconds": s} as its last line. Run by the watermelon-bench binary.
'use strict'

const { pasteGuide, babel, Api, Phone } = require('./lib')

async function main() {
  pasteGuide()
  babel()
  const api = new Api(process.env.LP_BASE_URL)
  const phone = await Phone.open(api, 'admin')
  const started = process.hrtime.bigint()
  const logs = await phone.sync()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const cases = (await phone.all('cases')).length
  console.log(JSON.stringify({ records: logs[0].remoteChangeCount, cases, seconds }))
  // LokiJS keeps a timer for its autosave: leave without waiting for it.
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
