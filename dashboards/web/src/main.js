// The operator dashboard: wiring of the header, map, side panel, sign-in and live streams.
import "maplibre-gl/dist/maplibre-gl.css";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { currentUser, getJSON, isOperator, onAuth, signIn, signOut, stream } from "./api.js";
import { fmtAge, fmtNum, fmtTime, kindName, language, applyStatic, onChange, setLanguage,
  setTimeZone, t, timeZone } from "./i18n.js";
import { IncidentPanel } from "./incidents.js";
import { LiveMap } from "./map.js";
import { speedChart, timeSpace, timeSpaceCell } from "./charts.js";

const $ = (id) => document.getElementById(id);
const state = { segmentId: null, corridors: [], feed: null, live: false, sound: true };

const live = new LiveMap($("map"), {
  onSegment: (id) => showSegment(id),
  onIncident: (id) => {
    tab("incidents");
    panel.open(id);
  },
  onPlace: (lngLat, seg) => panel.create(lngLat, seg),
});
const panel = new IncidentPanel({ live, toast, beep, onCount: (n) => setKpi("kpi-incidents", n) });

// -- header ---------------------------------------------------------------------------------
function setKpi(id, value, small, level) {
  const el = $(id);
  el.querySelector("b").textContent = value;
  if (small !== undefined) el.querySelector("small").textContent = small;
  el.classList.remove("ok", "warn", "bad");
  if (level) el.classList.add(level);
}

async function refreshKpis() {
  try {
    const end = new Date();
    const start = new Date(end - 15 * 60 * 1000);
    const q = `start=${start.toISOString()}&end=${end.toISOString()}`;
    const series = await getJSON(`/v1/kpis?${q}`, { lenient: true });
    const k = series.points[series.points.length - 1];
    setKpi("kpi-speed", k ? fmtNum(k.avg_speed_kmh, 1) : "–");
    setKpi("kpi-congested", k ? fmtNum(k.congested_km, 1) : "–");
  } catch {
    setKpi("kpi-speed", "–");
  }
  try {
    const h = await getJSON("/v1/dashboard/health");
    const age = h.state_age_s;
    setKpi("kpi-fresh", fmtAge(age), state.live ? t("live") : t("offline"),
      age === null ? "bad" : age < 180 ? "ok" : age < 600 ? "warn" : "bad");
    feedKpi(h);
    const d = h.detectors;
    const bad = d.failed + d.suspect + d.silent;
    setKpi("kpi-detectors", `${d.reporting}/${d.total}`,
      d.total ? `${d.failed} ✕ · ${d.suspect} ? · ${d.silent} –` : "",
      !d.total ? null : bad === 0 ? "ok" : bad / d.total < 0.2 ? "warn" : "bad");
  } catch {
    setKpi("kpi-fresh", "–", t("offline"), "bad");
  }
}

function feedKpi(h) {
  const now = Date.parse(h.now) / 1000;
  const tp = h.topics;
  const inTotal = (tp.gps.end_offset ?? 0) + (tp.detectors.end_offset ?? 0);
  const dl = tp.deadletter.end_offset ?? 0;
  const lag = Math.max(tp.gps.lag ?? 0, tp.detectors.lag ?? 0);
  if (!h.kafka_ok) {
    setKpi("kpi-feed", "–", t("kafka_down"), "bad");
    return;
  }
  const prev = state.feed;
  state.feed = { now, inTotal, dl };
  let rate = null;
  let dlRate = null;
  if (tp.gps.rate_per_s != null && tp.detectors.rate_per_s != null) {
    // the server's rate over the last minute
    rate = tp.gps.rate_per_s + tp.detectors.rate_per_s;
    dlRate = rate > 0 ? ((tp.deadletter.rate_per_s ?? 0) / rate) * 100 : 0;
  } else if (prev && now > prev.now) {
    // this page's own two samples
    rate = Math.max(0, (inTotal - prev.inTotal) / (now - prev.now));
    const dIn = inTotal - prev.inTotal;
    dlRate = dIn > 0 ? ((dl - prev.dl) / dIn) * 100 : 0;
  }
  if (rate === null) {
    setKpi("kpi-feed", "…", `${t("lag")} ${fmtNum(lag)}`);
    return;
  }
  setKpi("kpi-feed", `${fmtNum(rate)} ${t("msg_s")}`,
    `${fmtNum(dlRate, 1)} % ${t("dead_letter")} · ${t("lag")} ${fmtNum(lag)}`,
    dlRate > 5 || lag > 50000 ? "bad" : dlRate > 1 || lag > 5000 ? "warn" : "ok");
}

// -- side panel: tabs, segment, corridor ----------------------------------------------------
function tab(name) {
  document.querySelectorAll(".tabs button").forEach((b) => {
    b.classList.toggle("on", b.dataset.tab === name);
  });
  document.querySelectorAll(".tab").forEach((el) => {
    el.hidden = el.id !== `tab-${name}`;
  });
  if (name === "corridor") showCorridor();
  if (name === "segment" && state.segmentId) showSegment(state.segmentId);
}

async function showSegment(id) {
  state.segmentId = id;
  live.select(id);
  tab.current = "segment";
  document.querySelectorAll(".tabs button").forEach((b) => {
    b.classList.toggle("on", b.dataset.tab === "segment");
  });
  document.querySelectorAll(".tab").forEach((el) => {
    el.hidden = el.id !== "tab-segment";
  });
  const f = live.byId.get(id);
  const p = f ? f.properties : { segment_id: id };
  const lvl = p.congestion_level;
  $("segment-info").classList.remove("muted");
  $("segment-info").innerHTML = `<h3>${escape(p.name || id)}</h3>
    <div class="facts">
      <span>${t("speed")}</span><b>${fmtNum(p.speed_kmh)} km/h</b>
      <span>${t("free_flow")}</span><b>${fmtNum(p.free_flow_kmh)} km/h</b>
      <span>${t("legend")}</span><b>${lvl === null || lvl === undefined ? t("level_none")
        : t(`level_${lvl}`)}</b>
      <span>${t("source")}</span><b>${escape(p.source)} · ${fmtNum((p.confidence || 0) * 100)} %</b>
      <span>${t("updated")}</span><b>${fmtTime(p.minute)}</b>
    </div><div class="muted small">${escape(id)} · ${escape(p.road_class || "")}</div>`;
  const hours = Number($("seg-hours").value);
  const end = new Date();
  const start = new Date(end - hours * 3600 * 1000);
  const res = hours <= 3 ? "&resolution=1m" : "";
  const path = `/v1/segments/${encodeURIComponent(id)}`;
  try {
    const [hist, fc] = await Promise.all([
      getJSON(`${path}/history?start=${start.toISOString()}&end=${end.toISOString()}${res}`),
      getJSON(`${path}/forecast`).catch(() => null), // the history is drawn without it
    ]);
    if (state.segmentId !== id) return; // another segment was picked meanwhile
    state.segmentChart = speedChart($("segment-chart"), hist.points, p.free_flow_kmh || 50,
      { forecast: fc });
    $("segment-forecast").innerHTML = forecastInfo(fc);
  } catch (e) {
    $("segment-chart").textContent = `${t("error")}: ${e.message}`;
    $("segment-forecast").innerHTML = "";
  }
}

const STALE_S = 600; // as the API's `stale`: issued more than 10 minutes ago

/** A segment's forecast at +15/+30/+60 min: speed, band, level; its basis unless the model,
 * and a note when stale. Empty without forecasts. */
function forecastInfo(fc) {
  if (!fc || !fc.horizons || !fc.horizons.length) return "";
  const rows = fc.horizons.map((h) => {
    const band = h.p10_kmh != null && h.p90_kmh != null // a baseline has none
      ? ` <small>(${fmtNum(h.p10_kmh)}–${fmtNum(h.p90_kmh)})</small>` : "";
    const lvl = h.congestion_level;
    return `<span>${escape(t("ahead_min").replace("{m}", h.horizon_min))}</span><b>${
      fmtNum(h.speed_kmh)} km/h${band} · ${
      escape(lvl === null || lvl === undefined ? t("level_none") : t(`level_${lvl}`))}</b>`;
  });
  const bases = [...new Set(fc.horizons.map((h) => h.basis).filter((b) => b !== "model"))];
  const notes = bases.map((b) => `<div class="fc-note basis">${escape(
    t("forecast_basis").replace("{basis}", t(`basis_${b}`).replace(/^basis_/, "")))}</div>`);
  if (fc.stale) {
    const age = fc.issued_at ? (Date.now() - Date.parse(fc.issued_at)) / 1000 : null;
    notes.push(`<div class="fc-note stale">${escape(
      t("forecast_stale").replace("{age}", fmtAge(age)))}</div>`);
  } else if (fc.issued_at) {
    notes.push(`<div class="fc-note">${escape(
      t("forecast_issued").replace("{time}", fmtTime(fc.issued_at)))}</div>`);
  }
  return `<h4>${t("forecast")}</h4><div class="facts">${rows.join("")}</div>${notes.join("")}`;
}

function escape(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function loadCorridors() {
  try {
    state.corridors = await getJSON("/v1/corridors");
  } catch {
    state.corridors = [];
  }
  fillCorridors();
}

function fillCorridors() {
  const sel = $("corridor-pick");
  const keep = sel.value;
  sel.innerHTML = state.corridors
    .map((c) => `<option value="${escape(c.corridor_id)}">${
      escape(language() === "vi" ? c.name : c.name_en)}</option>`)
    .join("");
  if (keep) sel.value = keep;
}

async function showCorridor() {
  const id = $("corridor-pick").value;
  if (!id) return;
  const hours = Number($("ts-hours").value);
  const path = `/v1/corridors/${encodeURIComponent(id)}`;
  // departures now and in 15, 30, 60 min (half a minute early: a browser clock slightly ahead
  // of the server's stays within the API's next 60 minutes)
  const base = Date.now() - 30e3;
  const departures = Promise.all(DEPART_MIN.map((m) => getJSON(
    `${path}?depart=${encodeURIComponent(new Date(base + m * 60e3).toISOString())}`)
    .then((r) => r.departure).catch(() => null)));
  try {
    const [c, ts, deps] = await Promise.all([
      getJSON(path),
      getJSON(`/v1/dashboard/corridors/${encodeURIComponent(id)}/timespace?hours=${hours}`
        + `&step_min=${hours <= 1 ? 1 : hours <= 6 ? 5 : 10}`),
      departures,
    ]);
    if ($("corridor-pick").value !== id) return; // another corridor was picked meanwhile
    $("corridor-info").innerHTML = `<div class="facts">
      <span>${t("travel_time")}</span><b>${fmtNum(c.travel_time_s / 60, 1)} min</b>
      <span>${t("delay")}</span><b>${fmtNum(c.delay_s / 60, 1)} min</b>
      <span>${t("speed")}</span><b>${fmtNum(c.speed_kmh)} km/h</b>
      <span>${t("coverage")}</span><b>${fmtNum(c.coverage * 100)} %</b>
      <span>km</span><b>${fmtNum(c.length_m / 1000, 1)}</b></div>${departureInfo(deps)}`;
    const where = new Map(ts.segments.map((sg) => [sg.segment_id, sg]));
    const marks = [...panel.items.values()]
      .filter((i) => where.has(i.segment_id) && i.status !== "dismissed")
      .map((i) => {
        const sg = where.get(i.segment_id);
        return { time: i.started_at, offset_m: sg.offset_m + sg.length_m / 2 };
      });
    timeSpace($("timespace"), ts, marks);
  } catch (e) {
    $("corridor-info").textContent = `${t("error")}: ${e.message}`;
  }
}

const DEPART_MIN = [0, 15, 30, 60];

/** The corridor's forecast travel time leaving now, in 15, 30 and 60 minutes, with the
 * 10–90 % band: "in 30 min: 14 min (12–17)". */
function departureInfo(deps) {
  const known = deps.filter(Boolean);
  if (!known.length) return "";
  const mins = (s) => fmtNum(s / 60, known[0].travel_time_s < 600 ? 1 : 0);
  const rows = DEPART_MIN.map((m, i) => {
    const d = deps[i];
    const label = m ? t("leave_in").replace("{m}", m) : t("leave_now");
    const value = d ? `${mins(d.travel_time_s)} ${t("minutes")} <small>(${
      mins(d.travel_time_p10_s)}–${mins(d.travel_time_p90_s)})</small>` : "–";
    return `<span>${escape(label)}</span><b>${value}</b>`;
  });
  const d = known[known.length - 1];
  const notes = [];
  if (!d.forecast_coverage) notes.push(`<div class="fc-note">${escape(t("forecast_none"))}</div>`);
  else {
    notes.push(`<div class="fc-note">${escape(t("forecast_coverage")
      .replace("{f}", fmtNum(d.forecast_coverage * 100))
      .replace("{m}", fmtNum(d.model_coverage * 100)))}</div>`);
    const age = d.forecast_issued_at ? (Date.now() - Date.parse(d.forecast_issued_at)) / 1000
      : null;
    if (age !== null && age > STALE_S) {
      notes.push(`<div class="fc-note stale">${escape(
        t("forecast_stale").replace("{age}", fmtAge(age)))}</div>`);
    }
  }
  return `<h4>${t("depart_forecast")}</h4><div class="facts depart">${rows.join("")}</div>`
    + notes.join("");
}

// -- map: now or forecast ------------------------------------------------------------------
async function mapMode(minutes) {
  const mark = (m) => {
    $("mode-now").classList.toggle("on", !m);
    $("mode-30").classList.toggle("on", m === 30);
  };
  mark(minutes);
  try {
    await live.setHorizon(minutes);
  } catch (e) {
    toast(`${t("error")}: ${e.message}`, "alert");
    mark(null);
    await live.setHorizon(null);
  }
}

// -- toasts and sound -----------------------------------------------------------------------
let toastTimer = null;
function toast(text, kind = "info") {
  const el = $("toast");
  el.textContent = text;
  el.className = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, 8000);
}

let audio = null;
function beep() {
  if (!state.sound) return;
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.6);
  } catch {
    /* no audio device: the visual cue remains */
  }
}

// -- sign-in --------------------------------------------------------------------------------
function renderUser() {
  const u = currentUser();
  $("user").textContent = u ? `${u.username} (${u.role})` : t("read_only");
  $("signin-open").hidden = !!u;
  $("signout").hidden = !u;
  $("report").hidden = !isOperator();
}

function wire() {
  $("lang-vi").onclick = () => setLanguage("vi");
  $("lang-en").onclick = () => setLanguage("en");
  $("tz").value = timeZone();
  $("tz").onchange = (e) => setTimeZone(e.target.value);
  // wall display: larger type for the control room's big screen (?wall=1 or the button)
  const wall = new URLSearchParams(location.search).has("wall")
    || localStorage.getItem("itms.wall") === "1";
  document.body.classList.toggle("wall", wall);
  $("wall").classList.toggle("on", wall);
  $("wall").onclick = () => {
    const on = document.body.classList.toggle("wall");
    $("wall").classList.toggle("on", on);
    localStorage.setItem("itms.wall", on ? "1" : "0");
    live.resize();
  };
  $("sound").onclick = () => {
    state.sound = !state.sound;
    $("sound").classList.toggle("off", !state.sound);
    if (state.sound) beep();
  };
  document.querySelectorAll(".tabs button").forEach((b) => {
    b.onclick = () => tab(b.dataset.tab);
  });
  $("seg-hours").onchange = () => state.segmentId && showSegment(state.segmentId);
  $("mode-now").onclick = () => mapMode(null);
  $("mode-30").onclick = () => mapMode(30);
  $("corridor-pick").onchange = showCorridor;
  $("timespace").onmousemove = (e) => {
    const r = e.target.getBoundingClientRect();
    const c = timeSpaceCell(e.target, e.clientX - r.left, e.clientY - r.top);
    $("ts-readout").textContent = c
      ? `${c.segment.name || c.segment.segment_id} · ${fmtTime(c.time)} · `
        + `${c.speed === null ? t("no_data") : `${fmtNum(c.speed)} km/h`}`
      : "";
  };
  $("ts-hours").onchange = showCorridor;
  $("signin-open").onclick = () => {
    $("signin-error").textContent = "";
    $("signin").showModal();
  };
  $("signin-cancel").onclick = () => $("signin").close();
  $("signin-form").onsubmit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    try {
      await signIn(form.get("username"), form.get("password"));
      $("signin").close();
      e.target.reset();
    } catch {
      $("signin-error").textContent = t("wrong_login");
    }
  };
  $("signout").onclick = () => signOut();
  onAuth(() => {
    renderUser();
    panel.reload();
  });
  window.addEventListener("resize", () => live.resize());
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || document.querySelector("dialog[open]")) return;
    if (live.placing) {
      live.setPlacing(false);
      $("place-hint").hidden = true;
    } else panel.close();
  });
  onChange(() => {
    document.querySelectorAll(".lang button").forEach((b) => {
      b.classList.toggle("on", b.id === `lang-${language()}`);
    });
    renderUser();
    fillCorridors();
    panel.render();
    live.relabel();
    refreshKpis();
    if (!$("tab-segment").hidden && state.segmentId) showSegment(state.segmentId);
    if (!$("tab-corridor").hidden) showCorridor();
  });
}

function liveState(on) {
  state.live = on;
  $("live-state").textContent = on ? t("live") : t("offline");
  $("kpi-fresh").classList.toggle("offline", !on);
}

async function start() {
  document.documentElement.lang = language();
  applyStatic();
  wire();
  setLanguage(language());
  renderUser();
  // the network first (retried while the API or its database is unavailable)
  for (let wait = 2000; ; wait = Math.min(wait * 2, 30000)) {
    try {
      await live.loadSegments();
      break;
    } catch {
      liveState(false);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
  stream("/v1/stream/segments", "segments", (d) => {
    live.updateSegments(d.segments);
    if (state.segmentId && d.segments.some((s) => s.segment_id === state.segmentId)
      && !$("tab-segment").hidden) showSegment(state.segmentId);
  }, liveState);
  await panel.reload();
  stream("/v1/stream/incidents", "incident", (d) => panel.onEvent(d));
  loadCorridors();
  refreshKpis();
  setInterval(refreshKpis, 10000);
  setInterval(() => !$("tab-corridor").hidden && showCorridor(), 60000);
  // the forecast colouring follows the forecast worker's new issues
  setInterval(() => live.horizon && live.loadForecast().catch(() => {}), 60000);
  document.body.dataset.ready = "1";
}

window.itms = { live, panel, state, kindName };
start();
