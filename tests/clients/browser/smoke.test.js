// Both sites answer with their page and a strict Content-Security-Policy.
'use strict'

module.exports = async function smoke({ BASE, assert }) {
  for (const path of ['/console/', '/report-a-problem/']) {
    const r = await fetch(`${BASE}${path}`)
    assert.equal(r.status, 200, `${path} answers ${r.status}`)
    assert.match(r.headers.get('content-type') || '', /^text\/html/, `${path} is HTML`)
    const csp = r.headers.get('content-security-policy') || ''
    assert.ok(csp.includes("script-src 'self'"), `${path} CSP has script-src 'self': ${csp}`)
    assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), `${path} CSP allows no inline code: ${csp}`)
  }
  // The tip page's own files are there too, as the page names them.
  for (const f of ['report.js', 'report.css', 'map.js', 'i18n.js']) {
    const r = await fetch(`${BASE}/report-a-problem/${f}`)
    assert.equal(r.status, 200, `/report-a-problem/${f} answers ${r.status}`)
  }
}
