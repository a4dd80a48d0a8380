// Charts: speed vs free flow and volume (uPlot), the corridor time–space heatmap (canvas).
import uPlot from "uplot";
import { fmtTime, t, timeZone } from "./i18n.js";
import { LEVEL_COLORS, NO_DATA_COLOR } from "./map.js";

const AXIS = { stroke: "#9fb0c2", grid: { stroke: "#2a3746", width: 1 }, ticks: { show: false } };

function tzDate(ts) {
  return uPlot.tzDate(new Date(ts * 1000), timeZone());
}

const FORECAST_COLOR = "#ffd54f";

/**
 * The chart's rows: the history points and, after the last point with a speed, the forecast's
 * target times (`forecast`: GET /v1/segments/{id}/forecast, or null), merged in time order.
 * Each row: {x: epoch s, p: history point or undefined, h: forecast horizon or undefined};
 * `anchor`: the row the forecast line starts from (-1: none).
 */
function chartRows(points, forecast) {
  const rows = points.map((p) => ({ x: Date.parse(p.time) / 1000, p }));
  let anchor = -1;
  for (let i = rows.length - 1; i >= 0; i--) {
    if (rows[i].p.speed_kmh !== null && rows[i].p.speed_kmh !== undefined) {
      anchor = i;
      break;
    }
  }
  if (anchor < 0 || !forecast || !forecast.horizons || !forecast.horizons.length) {
    return { rows, anchor: -1 };
  }
  const from = rows[anchor];
  const ahead = forecast.horizons
    .map((h) => ({ x: Date.parse(h.target_at) / 1000, h }))
    .filter((r) => r.x > from.x)
    .sort((a, b) => a.x - b.x);
  if (!ahead.length) return { rows, anchor: -1 };
  const byX = new Map(rows.map((r) => [r.x, r]));
  for (const r of ahead) {
    if (byX.has(r.x)) byX.get(r.x).h = r.h;
    else byX.set(r.x, r);
  }
  const merged = [...byX.values()].sort((a, b) => a.x - b.x);
  return { rows: merged, anchor: merged.indexOf(from) };
}

/**
 * Speed (km/h) and free flow over time, volume as bars on a second axis.
 * `points`: the segment history points; `marker`: epoch seconds of a vertical line (incident
 * start) or null; `forecast`: the segment's forecast (GET /v1/segments/{id}/forecast) or null:
 * drawn on from the last speed as a dashed line through +15, +30 and +60 minutes, its
 * 10–90 % band shaded (nothing extra without horizons).
 */
export function speedChart(el, points, freeFlow,
  { marker = null, height = 190, forecast = null } = {}) {
  el.innerHTML = "";
  if (!points.length) {
    el.innerHTML = `<div class="muted empty">${t("no_data")}</div>`;
    return null;
  }
  const { rows, anchor } = chartRows(points, forecast);
  const xs = rows.map((r) => r.x);
  const speed = rows.map((r) => (r.p ? r.p.speed_kmh : null));
  const ff = rows.map(() => freeFlow);
  const vol = rows.map((r) => (r.p ? r.p.n_samples : null));
  const bars = uPlot.paths.bars({ size: [0.8, 8] });
  const series = [
    {},
    { label: t("volume"), scale: "veh", paths: bars, fill: "#3d5a7466", stroke: "#3d5a74" },
    { label: t("speed"), scale: "kmh", stroke: "#4fc3f7", width: 2, spanGaps: false },
    { label: t("free_flow"), scale: "kmh", stroke: "#8bc34a", width: 1, dash: [6, 4] },
  ];
  const data = [xs, vol, speed, ff];
  const bands = [];
  let top = freeFlow;
  if (anchor >= 0) {
    const start = speed[anchor];
    const at = (fn) => rows.map((r, i) => (i === anchor ? start : r.h ? fn(r.h) : null));
    series.push({ label: t("forecast"), scale: "kmh", stroke: FORECAST_COLOR, width: 2,
      dash: [5, 4], spanGaps: true, points: { show: true, size: 5, fill: FORECAST_COLOR } });
    data.push(at((h) => h.speed_kmh));
    const hi = at((h) => h.p90_kmh ?? null);
    const lo = at((h) => h.p10_kmh ?? null);
    if (rows.some((r) => r.h && r.h.p10_kmh != null && r.h.p90_kmh != null)) {
      const edge = { scale: "kmh", stroke: `${FORECAST_COLOR}66`, width: 1, spanGaps: true,
        points: { show: false } };
      series.push({ ...edge, label: t("forecast_band") }, { ...edge, label: t("forecast_band") });
      data.push(hi, lo);
      bands.push({ series: [data.length - 2, data.length - 1], fill: `${FORECAST_COLOR}33` });
      top = Math.max(top, ...hi.filter((v) => v !== null));
    }
  }
  const opts = {
    width: Math.max(240, el.clientWidth || 320),
    height,
    tzDate,
    legend: { show: true, live: false },
    cursor: { points: { show: false } },
    scales: { x: { time: true }, kmh: { range: [0, Math.max(20, freeFlow * 1.2, top * 1.05)] },
      veh: {} },
    axes: [
      { ...AXIS, values: (u, splits) => splits.map((v) => fmtTime(new Date(v * 1000))) },
      { ...AXIS, scale: "kmh", label: "km/h", size: 44 },
      { ...AXIS, scale: "veh", side: 1, grid: { show: false }, size: 36 },
    ],
    series,
    bands,
    hooks: marker
      ? {
          draw: [
            (u) => {
              const x = u.valToPos(marker, "x", true);
              const { ctx } = u;
              ctx.save();
              ctx.strokeStyle = "#ff1744";
              ctx.lineWidth = 2;
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.restore();
            },
          ],
        }
      : {},
  };
  const u = new uPlot(opts, data, el);
  if (bands.length) {
    // one legend entry for the band: its lower edge (the last series) is not listed
    const entries = u.root.querySelectorAll(".u-legend .u-series");
    if (entries.length) entries[entries.length - 1].style.display = "none";
  }
  return u;
}

/** Congestion colour of a speed relative to free flow (the README's level thresholds). */
export function ratioColor(speed, freeFlow) {
  if (speed === null || speed === undefined || !freeFlow) return null;
  const r = speed / freeFlow;
  if (r >= 0.8) return LEVEL_COLORS[0];
  if (r >= 0.6) return LEVEL_COLORS[1];
  if (r >= 0.4) return LEVEL_COLORS[2];
  if (r >= 0.2) return LEVEL_COLORS[3];
  return LEVEL_COLORS[4];
}

/**
 * Time–space diagram: time left → right, distance along the corridor bottom → top (driving
 * direction upwards), each cell coloured by congestion level of its speed.
 */
export function timeSpace(canvas, data, marks = []) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 320;
  const h = canvas.clientHeight || 240;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  ctx.clearRect(0, 0, w, h);
  const pad = { l: 40, r: 6, t: 6, b: 22 };
  const pw = w - pad.l - pad.r;
  const ph = h - pad.t - pad.b;
  const n = data.times.length;
  const total = data.length_m || 1;
  ctx.fillStyle = "#141d27";
  ctx.fillRect(pad.l, pad.t, pw, ph);
  const cw = pw / Math.max(1, n);
  data.segments.forEach((s, i) => {
    const y0 = pad.t + ph - ((s.offset_m + s.length_m) / total) * ph;
    const sh = Math.max(1, (s.length_m / total) * ph);
    data.speeds[i].forEach((v, j) => {
      const c = ratioColor(v, s.free_flow_kmh);
      ctx.fillStyle = c || NO_DATA_COLOR + "33";
      ctx.fillRect(pad.l + j * cw, y0, Math.ceil(cw), Math.ceil(sh));
    });
  });
  // incidents on the corridor: a ring at their start time and position
  const t0 = Date.parse(data.times[0]);
  const step = data.step_s * 1000;
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#ffffff";
  for (const m of marks) {
    const x = pad.l + ((Date.parse(m.time) - t0) / step) * cw;
    if (x < pad.l || x > pad.l + pw) continue;
    const y = pad.t + ph - (m.offset_m / total) * ph;
    ctx.beginPath();
    ctx.arc(x, y, 5, 0, 2 * Math.PI);
    ctx.stroke();
  }
  canvas.layout = { pad, pw, ph, cw, total, data };
  ctx.fillStyle = "#9fb0c2";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "right";
  for (let k = 0; k <= 4; k++) {
    const km = (total / 1000) * (k / 4);
    ctx.fillText(km.toFixed(1), pad.l - 4, pad.t + ph - (k / 4) * ph + 4);
  }
  ctx.textAlign = "center";
  const every = Math.max(1, Math.ceil(n / 6));
  for (let j = 0; j < n; j += every) {
    ctx.fillText(fmtTime(data.times[j]), pad.l + j * cw + cw / 2, h - 6);
  }
}

/** The cell under a mouse position of a drawn time–space canvas: {segment, time, speed} or null. */
export function timeSpaceCell(canvas, x, y) {
  const L = canvas.layout;
  if (!L || x < L.pad.l || x > L.pad.l + L.pw || y < L.pad.t || y > L.pad.t + L.ph) return null;
  const j = Math.floor((x - L.pad.l) / L.cw);
  const dist = ((L.pad.t + L.ph - y) / L.ph) * L.total;
  const i = L.data.segments.findIndex((s) => dist >= s.offset_m && dist < s.offset_m + s.length_m);
  if (i < 0 || j < 0 || j >= L.data.times.length) return null;
  return { segment: L.data.segments[i], time: L.data.times[j], speed: L.data.speeds[i][j] };
}
