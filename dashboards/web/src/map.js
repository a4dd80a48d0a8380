// The live map: a base layer from shipped data (wards, water), segments coloured by congestion
// level (now, or forecast some minutes ahead), incident markers. No tiles, no glyphs: everything
// is drawn from GeoJSON.
import maplibregl from "maplibre-gl";
import { fmtNum, fmtTime, kindName, t } from "./i18n.js";

/** The five standard congestion colours (level 0…4) and the no-data grey. */
export const LEVEL_COLORS = ["#2e9e44", "#c6d32b", "#f39c12", "#e53935", "#7b0d0d"];
export const NO_DATA_COLOR = "#6b7785";
const OSM_CREDIT = "Wards © OpenStreetMap contributors, ODbL 1.0";

export function levelColor(level) {
  return level === null || level === undefined ? NO_DATA_COLOR : LEVEL_COLORS[level];
}

/** Line colour by a level property: `congestion_level` (now) or `forecast_level` (ahead). */
function colorExpression(property = "congestion_level") {
  return [
    "match",
    ["coalesce", ["get", property], -1],
    0, LEVEL_COLORS[0],
    1, LEVEL_COLORS[1],
    2, LEVEL_COLORS[2],
    3, LEVEL_COLORS[3],
    4, LEVEL_COLORS[4],
    NO_DATA_COLOR,
  ];
}

const WIDTH_BY_CLASS = [
  "match", ["get", "road_class"],
  ["motorway", "trunk"], 1.6,
  ["primary"], 1.3,
  ["secondary"], 1.0,
  0.8,
];

export class LiveMap {
  constructor(container, { onSegment, onIncident, onPlace }) {
    this.onSegment = onSegment;
    this.onIncident = onIncident;
    this.onPlace = onPlace;
    this.segments = { type: "FeatureCollection", features: [] };
    this.byId = new Map();
    this.incidents = { type: "FeatureCollection", features: [] };
    this.placing = false;
    this.pending = false;
    this.horizon = null; // null: coloured by the current level; else minutes ahead (forecast)
    this.map = new maplibregl.Map({
      container,
      style: {
        version: 8,
        sources: {},
        layers: [{ id: "water", type: "background", paint: { "background-color": "#0f2233" } }],
      },
      center: [106.69, 20.85],
      zoom: 11.5,
      attributionControl: false,
      fadeDuration: 0,
    });
    this.map.addControl(
      new maplibregl.AttributionControl({ compact: false, customAttribution: OSM_CREDIT }),
    );
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
    this.popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, offset: 8 });
    this.ready = new Promise((resolve) => this.map.on("load", resolve)).then(() => this._layers());
  }

  _layers() {
    const m = this.map;
    m.addSource("wards", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    m.addSource("segments", { type: "geojson", data: this.segments, promoteId: "segment_id" });
    m.addSource("incidents", { type: "geojson", data: this.incidents });
    m.addLayer({
      id: "land",
      type: "fill",
      source: "wards",
      paint: { "fill-color": "#1b2632", "fill-opacity": 1 },
    });
    m.addLayer({
      id: "ward-lines",
      type: "line",
      source: "wards",
      paint: { "line-color": "#34475a", "line-width": 0.7 },
    });
    m.addLayer({
      id: "segments",
      type: "line",
      source: "segments",
      layout: { "line-cap": "round", "line-join": "round" },
      paint: {
        "line-color": colorExpression(this.horizon ? "forecast_level" : "congestion_level"),
        "line-width": ["interpolate", ["linear"], ["zoom"],
          10, ["*", 1.5, WIDTH_BY_CLASS], 14, ["*", 4, WIDTH_BY_CLASS],
          17, ["*", 9, WIDTH_BY_CLASS]],
        // two directions of a road side by side (right-hand traffic)
        "line-offset": ["interpolate", ["linear"], ["zoom"], 10, 0.8, 14, 2.5, 17, 6],
        "line-opacity": ["case", ["==", ["get", "source"], "profile"], 0.55, 1],
      },
    });
    m.addLayer({
      id: "segment-hover",
      type: "line",
      source: "segments",
      filter: ["==", ["get", "segment_id"], ""],
      paint: { "line-color": "#ffffff", "line-width": 3, "line-gap-width": 4, "line-opacity": 0.8 },
    });
    m.addLayer({
      id: "segment-selected",
      type: "line",
      source: "segments",
      filter: ["==", ["get", "segment_id"], ""],
      paint: { "line-color": "#4fc3f7", "line-width": 3, "line-gap-width": 6 },
    });
    m.addLayer({
      id: "incidents",
      type: "circle",
      source: "incidents",
      paint: {
        "circle-radius": ["interpolate", ["linear"], ["get", "severity"], 1, 6, 5, 11],
        "circle-color": ["match", ["get", "status"], "suspected", "#ffb300", "confirmed",
          "#ff1744", "#90a4ae"],
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": ["case", ["boolean", ["get", "selected"], false], 4, 2],
      },
    });
    this._events();
    fetch("/data/hai-phong-wards.geojson")
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => data && m.getSource("wards").setData(data))
      .catch(() => {});
  }

  _events() {
    const m = this.map;
    m.on("mousemove", "segments", (e) => {
      if (this.placing) return;
      const p = e.features[0].properties;
      m.getCanvas().style.cursor = "pointer";
      m.setFilter("segment-hover", ["==", ["get", "segment_id"], p.segment_id]);
      this.popup.setLngLat(e.lngLat)
        .setHTML(segmentTip(this.byId.get(p.segment_id), this.horizon)).addTo(m);
    });
    m.on("mouseleave", "segments", () => {
      m.getCanvas().style.cursor = this.placing ? "crosshair" : "";
      m.setFilter("segment-hover", ["==", ["get", "segment_id"], ""]);
      this.popup.remove();
    });
    m.on("mousemove", "incidents", (e) => {
      const p = e.features[0].properties;
      m.getCanvas().style.cursor = "pointer";
      this.popup.setLngLat(e.lngLat).setHTML(incidentTip(p)).addTo(m);
    });
    m.on("mouseleave", "incidents", () => {
      m.getCanvas().style.cursor = this.placing ? "crosshair" : "";
      this.popup.remove();
    });
    m.on("click", (e) => {
      if (this.placing) {
        const seg = this.nearest(e.point, 12);
        this.setPlacing(false);
        this.onPlace(e.lngLat, seg ? seg.properties : null);
        return;
      }
      const inc = m.queryRenderedFeatures(e.point, { layers: ["incidents"] });
      if (inc.length) {
        this.onIncident(inc[0].properties.incident_id);
        return;
      }
      const seg = m.queryRenderedFeatures(
        [[e.point.x - 4, e.point.y - 4], [e.point.x + 4, e.point.y + 4]],
        { layers: ["segments"] },
      );
      if (seg.length) this.onSegment(seg[0].properties.segment_id);
    });
  }

  /** The segment drawn nearest to a screen point (within `radius` px), or null. */
  nearest(point, radius) {
    const m = this.map;
    const near = m.queryRenderedFeatures(
      [[point.x - radius, point.y - radius], [point.x + radius, point.y + radius]],
      { layers: ["segments"] },
    );
    let best = null;
    let bestD = Infinity;
    for (const f of near) {
      const seg = this.byId.get(f.properties.segment_id);
      if (!seg) continue;
      const pts = seg.geometry.coordinates.map((c) => m.project(c));
      for (let i = 1; i < pts.length; i++) {
        const d = distToSegment(point, pts[i - 1], pts[i]);
        if (d < bestD) {
          bestD = d;
          best = seg;
        }
      }
    }
    return best;
  }

  /** Outline the segment shown in the segment view (null: none). */
  select(segmentId) {
    this.ready.then(() => {
      this.map.setFilter("segment-selected", ["==", ["get", "segment_id"], segmentId || ""]);
    });
  }

  setPlacing(on) {
    this.placing = on;
    this.map.getCanvas().style.cursor = on ? "crosshair" : "";
  }

  /** Load the whole network with its current status (paged GeoJSON). */
  async loadSegments() {
    const features = await segmentPages();
    this.segments.features = features;
    this.byId = new Map(features.map((f) => [f.properties.segment_id, f]));
    await this.ready;
    this.map.getSource("segments").setData(this.segments);
    this.fit();
    if (this.horizon) this.loadForecast().catch(() => {}); // chosen before the network came
  }

  fit() {
    let b = null;
    for (const f of this.segments.features) {
      for (const [x, y] of f.geometry.coordinates) {
        if (!b) b = [x, y, x, y];
        else b = [Math.min(b[0], x), Math.min(b[1], y), Math.max(b[2], x), Math.max(b[3], y)];
      }
    }
    if (b) this.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 30, duration: 0 });
  }

  /**
   * Colour by the current level (`minutes` null) or by the forecast that many minutes ahead
   * (loaded first from `/v1/segments?horizon=`; segments without one in the no-data grey).
   */
  async setHorizon(minutes) {
    this.horizon = minutes || null;
    if (this.horizon) await this.loadForecast();
    await this.ready;
    this.map.setPaintProperty("segments", "line-color",
      colorExpression(this.horizon ? "forecast_level" : "congestion_level"));
    this.popup.remove();
  }

  /** (Re)load the forecasts of the chosen horizon into the features (`forecast_level`,
   * `forecast_kmh`) and redraw; the live stream's updates leave them alone. */
  async loadForecast() {
    const minutes = this.horizon;
    if (!minutes) return;
    const features = await segmentPages(`horizon=${minutes}`);
    if (this.horizon !== minutes) return;
    const ahead = new Map(features.map((f) => [f.properties.segment_id, f.properties.forecast]));
    for (const f of this.segments.features) {
      const fc = ahead.get(f.properties.segment_id);
      f.properties.forecast_level = fc ? fc.congestion_level : null;
      f.properties.forecast_kmh = fc ? fc.speed_kmh : null;
    }
    this._redraw();
  }

  /** Merge live statuses (from the segment stream) and redraw once per frame. */
  updateSegments(statuses) {
    for (const s of statuses) {
      const f = this.byId.get(s.segment_id);
      if (f) Object.assign(f.properties, s);
    }
    this._redraw();
  }

  _redraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      const src = this.map.getSource("segments");
      if (src) src.setData(this.segments);
    });
  }

  setIncidents(list, selectedId) {
    this.incidents.features = list
      .filter((i) => i.lon !== null && i.lon !== undefined)
      .map((i) => ({
        type: "Feature",
        geometry: { type: "Point", coordinates: [i.lon, i.lat] },
        properties: { ...i, selected: i.incident_id === selectedId },
      }));
    this.ready.then(() => this.map.getSource("incidents").setData(this.incidents));
  }

  flyTo(lon, lat) {
    this.map.easeTo({ center: [lon, lat], zoom: Math.max(this.map.getZoom(), 14) });
  }

  bounds() {
    return this.map.getBounds();
  }

  resize() {
    this.map.resize();
  }

  /** Re-render the tooltips' language (the map has no text of its own). */
  relabel() {
    this.popup.remove();
  }
}

/** Every feature of `/v1/segments` (following `next_cursor`); `query`: further parameters. */
async function segmentPages(query = "") {
  const features = [];
  let cursor = null;
  do {
    const q = [query, cursor ? `cursor=${encodeURIComponent(cursor)}` : ""].filter(Boolean);
    const path = `/v1/segments${q.length ? `?${q.join("&")}` : ""}`;
    const reply = await fetch(path);
    if (!reply.ok) throw new Error(`${path}: ${reply.status}`);
    const page = await reply.json();
    features.push(...page.features);
    cursor = page.next_cursor;
  } while (cursor);
  return features;
}

function distToSegment(p, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = dx * dx + dy * dy;
  const k = len ? Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len)) : 0;
  return Math.hypot(p.x - a.x - k * dx, p.y - a.y - k * dy);
}

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function levelName(lvl) {
  return lvl === null || lvl === undefined ? t("level_none") : t(`level_${lvl}`);
}

function segmentTip(f, horizon) {
  if (!f) return "";
  const p = f.properties;
  const lvl = p.congestion_level;
  const ahead = horizon
    ? `<div><span class="swatch" style="background:${levelColor(p.forecast_level)}"></span>${
      t("forecast")} ${esc(t("ahead_min").replace("{m}", horizon))}: ${
      p.forecast_kmh === null || p.forecast_kmh === undefined ? esc(t("no_forecast"))
        : `${fmtNum(p.forecast_kmh)} km/h · ${esc(levelName(p.forecast_level))}`}</div>`
    : "";
  return `<div class="tip"><b>${esc(p.name || p.segment_id)}</b>
    <div><span class="swatch" style="background:${levelColor(lvl)}"></span>${
      esc(levelName(lvl))}</div>
    <div>${t("speed")}: ${fmtNum(p.speed_kmh)} km/h · ${t("free_flow")}: ${fmtNum(p.free_flow_kmh)} km/h</div>
    ${ahead}<div class="muted">${esc(p.source)} · ${fmtTime(p.minute)}</div></div>`;
}

function incidentTip(p) {
  return `<div class="tip"><b>${esc(kindName(p.kind))}</b> · ${t(p.status)}
    <div>${esc(p.road_name || p.segment_id || "")}</div>
    <div class="muted">${t("severity")} ${p.severity} · ${fmtTime(p.started_at)}</div></div>`;
}

export { esc };
