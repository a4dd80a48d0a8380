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
  try {
    const hist = await getJSON(`/v1/segments/${encodeURIComponent(id)}/history?start=`
      + `${start.toISOString()}&end=${end.toISOString()}${res}`);
    speedChart($("segment-chart"), hist.points, p.free_flow_kmh || 50);
  } catch (e) {
    $("segment-chart").textContent = `${t("error")}: ${e.message}`;
  }
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
  try {
    const [c, ts] = await Promise.all([
      getJSON(`/v1/corridors/${encodeURIComponent(id)}`),
      getJSON(`/v1/dashboard/corridors/${encodeURIComponent(id)}/timespace?hours=${hours}`
        + `&step_min=${hours <= 1 ? 1 : hours <= 6 ? 5 : 10}`),
    ]);
    $("corridor-info").innerHTML = `<div class="facts">
      <span>${t("travel_time")}</span><b>${fmtNum(c.travel_time_s / 60, 1)} min</b>
      <span>${t("delay")}</span><b>${fmtNum(c.delay_s / 60, 1)} min</b>
      <span>${t("speed")}</span><b>${fmtNum(c.speed_kmh)} km/h</b>
      <span>${t("coverage")}</span><b>${fmtNum(c.coverage * 100)} %</b>
      <span>km</span><b>${fmtNum(c.length_m / 1000, 1)}</b></div>`;
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
  document.body.dataset.ready = "1";
}

window.itms = { live, panel, state, kindName };
start();
