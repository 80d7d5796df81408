// On a machine with no Chinese font at all (a Chromium whose fontconfig sees only a Latin
// font), the console, the tip page and the printable progress report still read in Chinese:
// their own words and the town names come with the pages (cjk.woff2, "LP CJK"); with the
// machine's Chinese fonts the pages use those and never fetch it.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { chromium } = require('playwright-core')

/** A fontconfig that knows one Latin font folder only. */
function latinOnly() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-fonts-'))
  const latin = ['/usr/share/fonts/truetype/dejavu', '/usr/share/fonts/truetype/liberation'].filter((d) => fs.existsSync(d))
  fs.writeFileSync(path.join(dir, 'fonts.conf'), `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>${latin.map((d) => `<dir>${d}</dir>`).join('')}<cachedir>${dir}/cache</cachedir></fontconfig>`)
  return dir
}

async function lpCjk(p) {
  await p.evaluate(() => document.fonts.ready)
  return p.evaluate(() => [...document.fonts].filter((f) => f.family.replace(/"/g, '') === 'LP CJK').map((f) => f.status))
}

module.exports = async function ({ browser, BASE, CHROMIUM, ARGS, page, shot, apiLogin, assert, assertNoProblems }) {
  // With the machine's fonts (WenQuanYi here): the pages' own font is never fetched.
  const normal = await page(browser)
  await normal.goto(`${BASE}/report-a-problem/`)
  await normal.waitForSelector('body[data-ready="true"]')
  assert.deepEqual(await lpCjk(normal), ['unloaded'], 'a machine with Chinese fonts uses them')
  await normal.context().close()

  const dir = latinOnly()
  const bare = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true,
    env: { ...process.env, FONTCONFIG_FILE: path.join(dir, 'fonts.conf') } })
  try {
    const p = await page(bare)
    await p.goto(`${BASE}/report-a-problem/`)
    await p.waitForSelector('body[data-ready="true"]')
    assert.deepEqual(await lpCjk(p), ['loaded'], 'no Chinese font on the machine: the page brings its own')
    await shot(p, 'fonts', 'tip-page-without-chinese-fonts')
    assertNoProblems(p)

    const c = await page(bare)
    await c.goto(`${BASE}/console/`)
    await c.fill('input[name=username]', 'admin')
    await c.fill('input[name=password]', 'landpatrol-demo')
    await c.click('.signin form button')
    await c.evaluate(() => { location.hash = '#/report?as_of=2017-06-30&from=2017-06-01&hide=1' })
    await c.waitForSelector('svg.timeline-chart polyline')
    assert.deepEqual(await lpCjk(c), ['loaded'])
    await shot(c, 'fonts', 'console-report-without-chinese-fonts')
    assertNoProblems(c)

    // The printable page the bureau prints for the meeting.
    const token = await apiLogin('admin')
    const r = await page(bare)
    await r.setExtraHTTPHeaders({ Authorization: `Bearer ${token}` })
    await r.goto(`${BASE}/api/v1/reports/progress.html?as_of=2017-06-30&from=2017-06-01&hide_empty=true`)
    assert.deepEqual(await lpCjk(r), ['loaded'])
    assert.match(await r.textContent('body'), /海滨街道/)
    await shot(r, 'fonts', 'printable-report-without-chinese-fonts')
    assertNoProblems(r)
  } finally {
    await bare.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
