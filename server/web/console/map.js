// A small map: town boundaries and points as SVG vector layers drawn from
// the API's GeoJSON (readable with no base map at all, offline), over an
// optional raster tile layer. Coordinates are WGS-84; when the tiles are in
// GCJ-02 (the datum Chinese tile services use), the layers are shifted onto
// them so they sit where the tiles show them.

const SVG = 'http://www.w3.org/2000/svg';
const TILE = 256;

/// WGS-84 → GCJ-02 (the published transform; outside China it is the identity).
export function toGcj02(lon, lat) {
  if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) return [lon, lat];
  const a = 6378245.0, ee = 0.00669342162296594323;
  const x = lon - 105.0, y = lat - 35.0;
  let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  dLat += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  dLat += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  dLat += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  dLon += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  dLon += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  dLon += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  const radLat = (lat / 180.0) * Math.PI;
  let magic = Math.sin(radLat);
  magic = 1 - ee * magic * magic;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180.0) / (((a * (1 - ee)) / (magic * sqrtMagic)) * Math.PI);
  dLon = (dLon * 180.0) / ((a / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [lon + dLon, lat + dLat];
}

// Web Mercator, in world pixels at zoom 0 (0..256).
function merc(lon, lat) {
  const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
  return [((lon + 180) / 360) * TILE, (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * TILE];
}

function unmerc(x, y) {
  const lon = (x / TILE) * 360 - 180;
  const n = Math.PI - (2 * Math.PI * y) / TILE;
  return [lon, (180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)))];
}

function el(name, attrs = {}, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.append(e);
  return e;
}

function rings(geom) {
  if (!geom) return [];
  if (geom.type === 'Polygon') return geom.coordinates;
  if (geom.type === 'MultiPolygon') return geom.coordinates.flat();
  return [];
}

/// A map in `host` fitted to `bbox` ([minLon, minLat, maxLon, maxLat]).
/// opts: { tiles: {url, crs, attribution}, onPick(lon, lat) }.
export class MapView {
  constructor(host, bbox, opts = {}) {
    this.host = host;
    this.opts = opts;
    this.gcj = opts.tiles && opts.tiles.url && opts.tiles.crs === 'gcj02';
    host.classList.add('map');
    host.replaceChildren();
    this.tileLayer = document.createElement('div');
    this.tileLayer.className = 'tiles';
    host.append(this.tileLayer);
    const w = host.clientWidth || 600, h = host.clientHeight || 400;
    this.w = w; this.h = h;
    this.svg = el('svg', { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: 'img' }, host);
    this.areas = el('g', { class: 'areas' }, this.svg);
    this.marks = el('g', { class: 'marks' }, this.svg);
    const [x0, y1] = merc(bbox[0], bbox[1]);
    const [x1, y0] = merc(bbox[2], bbox[3]);
    const pad = 0.08;
    const scale = Math.min(w / ((x1 - x0) * (1 + 2 * pad) || 1e-9), h / ((y1 - y0) * (1 + 2 * pad) || 1e-9));
    this.zoom = Math.max(0, Math.min(18, Math.floor(Math.log2(scale))));
    this.k = scale;
    this.cx = (x0 + x1) / 2; this.cy = (y0 + y1) / 2;
    if (opts.onPick) {
      this.svg.classList.add('pickable');
      this.svg.addEventListener('click', (ev) => {
        const r = this.svg.getBoundingClientRect();
        const [lon, lat] = this.unproject(((ev.clientX - r.left) / r.width) * w, ((ev.clientY - r.top) / r.height) * h);
        opts.onPick(lon, lat);
      });
    }
    if (opts.tiles && opts.tiles.url) this.drawTiles();
  }

  project(lon, lat) {
    const [a, b] = this.gcj ? toGcj02(lon, lat) : [lon, lat];
    const [x, y] = merc(a, b);
    return [(x - this.cx) * this.k + this.w / 2, (y - this.cy) * this.k + this.h / 2];
  }

  unproject(px, py) {
    const [lon, lat] = unmerc((px - this.w / 2) / this.k + this.cx, (py - this.h / 2) / this.k + this.cy);
    if (!this.gcj) return [lon, lat];
    // Invert the shift by iteration (it is smooth and small).
    let [g, h] = [lon, lat];
    for (let i = 0; i < 4; i++) {
      const [a, b] = toGcj02(g, h);
      g -= a - lon; h -= b - lat;
    }
    return [g, h];
  }

  drawTiles() {
    const z = this.zoom, n = 2 ** z, size = TILE * (this.k / n);
    const left = this.cx - this.w / 2 / this.k, top = this.cy - this.h / 2 / this.k;
    const tx0 = Math.floor((left / TILE) * n), ty0 = Math.floor((top / TILE) * n);
    const tx1 = Math.floor(((left + this.w / this.k) / TILE) * n), ty1 = Math.floor(((top + this.h / this.k) / TILE) * n);
    for (let x = tx0; x <= tx1; x++) {
      for (let y = ty0; y <= ty1; y++) {
        if (y < 0 || y >= n) continue;
        const img = document.createElement('img');
        img.alt = '';
        img.src = this.opts.tiles.url.replace('{z}', z).replace('{x}', ((x % n) + n) % n).replace('{y}', y)
          .replace('{s}', String(Math.abs(x + y) % 8));
        img.width = Math.ceil(size); img.height = Math.ceil(size);
        img.style.left = `${(((x / n) * TILE - left) * this.k).toFixed(1)}px`;
        img.style.top = `${(((y / n) * TILE - top) * this.k).toFixed(1)}px`;
        this.tileLayer.append(img);
      }
    }
    if (this.opts.tiles.attribution) {
      const a = document.createElement('div');
      a.className = 'attribution';
      a.textContent = this.opts.tiles.attribution;
      this.host.append(a);
    }
  }

  /// A boundary (GeoJSON Polygon/MultiPolygon) with a label.
  area(geom, { label, cls = 'town', onClick } = {}) {
    const d = rings(geom).map((ring) => 'M' + ring.map(([lon, lat]) => this.project(lon, lat).map((v) => v.toFixed(1)).join(',')).join('L') + 'Z').join('');
    const p = el('path', { d, class: cls }, this.areas);
    if (onClick) { p.classList.add('clickable'); p.addEventListener('click', onClick); }
    if (label) {
      const all = rings(geom).flat();
      if (all.length) {
        const lon = all.reduce((s, c) => s + c[0], 0) / all.length, lat = all.reduce((s, c) => s + c[1], 0) / all.length;
        const [x, y] = this.project(lon, lat);
        const tx = el('text', { x: x.toFixed(1), y: y.toFixed(1), class: 'label' }, this.areas);
        tx.textContent = label;
      }
    }
    return p;
  }

  /// A point; `cls` styles it (status, overdue, near-boundary), `title` is its tooltip.
  point(lon, lat, { cls = '', title = '', onClick, r = 6 } = {}) {
    const [x, y] = this.project(lon, lat);
    const c = el('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r, class: `mark ${cls}` }, this.marks);
    if (title) el('title', {}, c).textContent = title;
    if (onClick) { c.classList.add('clickable'); c.addEventListener('click', (e) => { e.stopPropagation(); onClick(); }); }
    return c;
  }

  clearPoints() { this.marks.replaceChildren(); }
}
