// The console's map in real Chromium: vector layers with no base map at all, and a raster
// tile layer in GCJ-02 (the datum of Chinese tile services) on which the WGS-84 layers are
// shifted to sit where the tiles show them. The tiles here are data: URLs (the page's CSP
// allows them), so nothing leaves the machine.

const PIXEL = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='

module.exports = async function ({ browser, BASE, page, shot, assert, assertNoProblems }) {
  const p = await page(browser)
  await p.goto(`${BASE}/console/`)
  const r = await p.evaluate(async (pixel) => {
    const { MapView, toGcj02 } = await import('/console/map.js')
    const host = document.createElement('div')
    host.style.width = '600px'
    host.style.height = '400px'
    document.body.append(host)
    const bbox = [117.25, 39.70, 117.35, 39.77]
    const wgs = new MapView(host, bbox, {})
    const a = wgs.project(117.295129, 39.733503)
    const round = wgs.unproject(...a)
    const tiled = new MapView(host, bbox, { tiles: { url: `${pixel}#{z}/{x}/{y}/{s}`, crs: 'gcj02', attribution: '© test tiles' } })
    const b = tiled.project(117.295129, 39.733503)
    const back = tiled.unproject(...b)
    const imgs = [...host.querySelectorAll('.tiles img')]
    await Promise.all(imgs.map((i) => (i.complete ? null : new Promise((ok) => { i.onload = ok; i.onerror = ok }))))
    return {
      gcj: toGcj02(117.295129, 39.733503),
      outside: toGcj02(2.35, 48.85),
      a, b, round, back,
      tiles: imgs.length,
      loaded: imgs.filter((i) => i.naturalWidth === 1).length,
      zoom: tiled.zoom,
      first: imgs[0] && imgs[0].src.split('#')[1],
      attribution: host.querySelector('.attribution')?.textContent,
      metresPerPixel: (40075016.686 * Math.cos((39.73 * Math.PI) / 180)) / (256 * tiled.k),
    }
  }, PIXEL)
  // The published transform: the demo's GCJ-02 example point is this WGS-84 point.
  assert.ok(Math.abs(r.gcj[0] - 117.301546) < 2e-5 && Math.abs(r.gcj[1] - 39.734765) < 2e-5, `toGcj02: ${r.gcj}`)
  assert.deepEqual(r.outside, [2.35, 48.85], 'outside China the transform is the identity')
  // On GCJ-02 tiles the point is drawn where the tiles show it: shifted east and a little north.
  const dx = (r.b[0] - r.a[0]) * r.metresPerPixel
  const dy = (r.a[1] - r.b[1]) * r.metresPerPixel
  assert.ok(dx > 450 && dx < 650 && dy > 100 && dy < 200, `shift on GCJ-02 tiles: ${dx.toFixed(0)} m east, ${dy.toFixed(0)} m north`)
  console.log(`  GCJ-02 tiles: the point drawn ${dx.toFixed(0)} m east, ${dy.toFixed(0)} m north of its WGS-84 place (zoom ${r.zoom}, ${r.tiles} tiles)`)
  // A click is read back as the WGS-84 point (the shift inverted), on either map.
  for (const [lon, lat] of [r.round, r.back]) {
    assert.ok(Math.abs(lon - 117.295129) < 1e-6 && Math.abs(lat - 39.733503) < 1e-6, `unproject: ${lon}, ${lat}`)
  }
  assert.ok(r.tiles >= 4 && r.loaded === r.tiles, `tiles drawn and loaded: ${r.loaded}/${r.tiles}`)
  assert.match(r.first, new RegExp(`^${r.zoom}/\\d+/\\d+/[0-7]$`), `the template filled: ${r.first}`)
  assert.equal(r.attribution, '© test tiles')
  await shot(p, 'map', 'gcj02-tiles')
  assertNoProblems(p)
  await p.context().close()
}
