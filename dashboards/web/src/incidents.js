// Incidents: the filtered list (newest first), the detail view with evidence and the
// operator workflow (confirm, dismiss, resolve, note), manual creation from the map.
import { currentUser, getJSON, isOperator, postJSON } from "./api.js";
import { speedChart } from "./charts.js";
import { actionName, directionName, fmtNum, fmtTime, kindName, language, t } from "./i18n.js";
import { esc } from "./map.js";

const ACTIVE = new Set(["suspected", "confirmed"]);
const KINDS = ["accident", "lane_blockage", "stalled_vehicle", "closure", "roadworks", "other"];
const $ = (id) => document.getElementById(id);

function flat(feature) {
  const p = feature.properties || {};
  const c = feature.geometry ? feature.geometry.coordinates : [null, null];
  return { ...p, incident_id: p.incident_id || feature.id, lon: c[0], lat: c[1] };
}

/** Point in (Multi)Polygon, ray casting on lon/lat (fine at ward scale). */
function inside(geom, lon, lat) {
  const polys = geom.type === "Polygon" ? [geom.coordinates] : geom.coordinates;
  return polys.some((rings) => {
    let hit = false;
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i];
        const [xj, yj] = ring[j];
        if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) hit = !hit;
      }
    }
    return hit;
  });
}

export class IncidentPanel {
  constructor({ live, toast, beep, onCount }) {
    this.live = live;
    this.toast = toast;
    this.beep = beep;
    this.onCount = onCount;
    this.items = new Map();
    this.fresh = new Set();
    this.selected = null;
    this.detail = null;
    this.wards = [];
    this.placeAt = null;
    ["f-status", "f-severity", "f-area"].forEach((id) => {
      $(id).onchange = () => this.render();
    });
    live.map.on("moveend", () => $("f-area").value === "@view" && this.render());
    $("report").onclick = () => {
      live.setPlacing(true);
      $("place-hint").hidden = false;
    };
    $("create-cancel").onclick = () => $("create").close();
    $("create-form").onsubmit = (e) => this._submitCreate(e);
    fetch("/data/hai-phong-wards.geojson")
      .then((r) => (r.ok ? r.json() : { features: [] }))
      .then((d) => {
        this.wards = d.features;
        this._fillAreas();
      })
      .catch(() => {});
  }

  _fillAreas() {
    const sel = $("f-area");
    const keep = sel.value;
    const names = this.wards
      .map((w, i) => [i, language() === "vi" ? w.properties.name : w.properties.name_en])
      .sort((a, b) => a[1].localeCompare(b[1], language()));
    sel.innerHTML = `<option value="">${t("all")}</option>`
      + `<option value="@view">${t("in_view")}</option>`
      + names.map(([i, n]) => `<option value="${i}">${esc(n)}</option>`).join("");
    sel.value = keep;
    this._areaLang = language();
  }

  /** Load the newest incidents (operator view with evidence when signed in). */
  async reload() {
    let list;
    try {
      if (currentUser()) {
        const page = await getJSON("/v1/operator/incidents?limit=300", { authed: true });
        // raised but not yet sure enough to announce: kept for an operator's review
        const review = await getJSON("/v1/operator/incidents?review=true&limit=300",
          { authed: true });
        list = page.incidents.concat(review.incidents);
      } else {
        const page = await getJSON("/v1/incidents?limit=300");
        list = page.features.map(flat);
      }
    } catch {
      list = [];
    }
    this.items = new Map(list.map((i) => [i.incident_id, i]));
    this.render();
    if (this.selected) this.open(this.selected);
  }

  /** An event of the incident stream: upsert, cue when new. */
  onEvent(ev) {
    const inc = flat(ev.incident);
    const old = this.items.get(inc.incident_id);
    const announced = ev.action === "announce" ? { announced: true } : {};
    this.items.set(inc.incident_id, { ...(old || {}), ...inc, status: ev.status, ...announced });
    // new to operators: raised (create) or announced after review (announce)
    const fresh = (ev.action === "create" && !old) || ev.action === "announce";
    if (fresh) {
      this.fresh.add(inc.incident_id);
      setTimeout(() => {
        this.fresh.delete(inc.incident_id);
        this.render();
      }, 30000);
      this.toast(`${t("new_incident")}: ${kindName(inc.kind)} — ${inc.road_name || ""}`, "alert");
      this.beep();
    }
    this.render();
    if (this.selected === inc.incident_id) this.open(inc.incident_id);
  }

  _visible() {
    const status = $("f-status").value;
    const minSev = Number($("f-severity").value);
    const area = $("f-area").value;
    const bounds = area === "@view" ? this.live.bounds() : null;
    const ward = area && area !== "@view" ? this.wards[Number(area)] : null;
    return [...this.items.values()]
      .filter((i) => {
        const inReview = i.announced === false;
        if (status === "review") return inReview && ACTIVE.has(i.status);
        if (inReview) return false;
        if (status === "active" && !ACTIVE.has(i.status)) return false;
        if (status !== "active" && status !== "all" && i.status !== status) return false;
        if (status === "all" && i.status === "dismissed" && !currentUser()) return false;
        if ((i.severity || 0) < minSev) return false;
        if (bounds && (i.lon === null || !bounds.contains([i.lon, i.lat]))) return false;
        if (ward && (i.lon === null || !inside(ward.geometry, i.lon, i.lat))) return false;
        return true;
      })
      .sort((a, b) => (a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : 0));
  }

  render() {
    if (this.wards.length && this._areaLang !== language()) this._fillAreas();
    const list = this._visible();
    const shown = (i) => ACTIVE.has(i.status) && i.announced !== false;
    const active = [...this.items.values()].filter(shown).length;
    this.onCount(active);
    const ul = $("incident-list");
    ul.innerHTML = list.length ? "" : `<li class="muted empty">${t("no_incidents")}</li>`;
    for (const i of list) {
      const li = document.createElement("li");
      li.dataset.id = i.incident_id;
      li.className = `inc sev${i.severity} ${i.status}`;
      if (this.fresh.has(i.incident_id)) li.classList.add("new");
      if (i.incident_id === this.selected) li.classList.add("sel");
      li.innerHTML = `<span class="sev">${i.severity}</span>
        <div><b>${esc(kindName(i.kind))}</b> <span class="badge ${i.status}">${t(i.status)}</span>
        <div>${esc(i.road_name || i.segment_id || "")}</div>
        <div class="muted small">${fmtTime(i.started_at, true)} · ${esc(i.source || "")}</div></div>`;
      li.onclick = () => this.open(i.incident_id);
      ul.appendChild(li);
    }
    this.live.setIncidents([...this.items.values()].filter(shown), this.selected);
    if (this.detail) this._renderDetail();
  }

  async open(id) {
    this.selected = id;
    const base = this.items.get(id) || { incident_id: id };
    let full = base;
    let history = [];
    try {
      if (currentUser()) {
        full = await getJSON(`/v1/operator/incidents/${encodeURIComponent(id)}`, { authed: true });
        history = full.history;
      } else {
        const f = await getJSON(`/v1/incidents/${encodeURIComponent(id)}`);
        full = flat(f);
        history = f.history;
      }
      this.items.set(id, { ...base, ...full });
    } catch {
      /* keep what the list had */
    }
    this.detail = { inc: { ...base, ...full }, history };
    this.render();
    if (full.lon !== null && full.lon !== undefined) this.live.flyTo(full.lon, full.lat);
    this._chart(this.detail.inc);
  }

  _renderDetail() {
    const { inc, history } = this.detail;
    const el = $("incident-detail");
    el.hidden = false;
    const can = isOperator();
    const act = ACTIVE.has(inc.status);
    el.innerHTML = `<div class="head"><h3>${esc(kindName(inc.kind))}</h3>
        <span class="badge ${inc.status}">${t(inc.status)}</span>
        <button class="close" title="×">×</button></div>
      <div class="facts">
        <span>${t("severity")}</span><b>${inc.severity}</b>
        <span>${t("segment")}</span><b>${esc(inc.road_name || "")} ${esc(directionName(inc.direction))}</b>
        <span>${t("started")}</span><b>${fmtTime(inc.started_at, true)}</b>
        <span>${t("updated")}</span><b>${fmtTime(inc.updated_at, true)}</b>
        <span>${t("delay")}</span><b>${inc.est_delay_s == null ? "–"
          : `${fmtNum(inc.est_delay_s / 60, 1)} min`}</b>
        <span>${t("source")}</span><b>${esc(inc.source || "")}</b>
        ${inc.confidence == null ? "" : `<span>${t("confidence")}</span>
        <b>${fmtNum(inc.confidence, 2)}${inc.announced === false ? ` · ${t("review")}` : ""}</b>`}</div>
      <h4>${t("speed_drop")}</h4><div id="incident-chart" class="chart"></div>
      ${inc.evidence ? `<h4>${t("evidence")}</h4>${evidence(inc.evidence)}` : ""}
      ${can ? `<div class="actions">
        ${act && inc.announced === false ? `<button data-act="announce" class="primary">${t("announce")}</button>` : ""}
        ${inc.status === "suspected" ? `<button data-act="confirm" class="primary">${t("confirm")}</button>` : ""}
        ${act ? `<button data-act="dismiss">${t("dismiss")}</button>
        <button data-act="resolve">${t("resolve")}</button>` : ""}
        <textarea id="note" rows="2" maxlength="2000" placeholder="${t("note")}"></textarea>
        <button data-act="annotate">${t("add_note")}</button></div>`
        : `<p class="muted small">${t("operator_only")}</p>`}
      <h4>${t("history")}</h4><ol class="history">${history.map((h) => `<li>
        ${fmtTime(h.at, true)} · ${esc(actionName(h.action))} → ${t(h.status)}${h.actor ? ` · ${esc(h.actor)}` : ""}
        ${h.change && h.change.note ? `<div class="muted">${esc(h.change.note)}</div>` : ""}</li>`).join("")}
      </ol>`;
    el.querySelector(".close").onclick = () => this.close();
    el.querySelectorAll("[data-act]").forEach((b) => {
      b.onclick = () => this._act(inc, b.dataset.act);
    });
    if (this._chartData) this._drawChart();
  }

  /** Close the detail view. */
  close() {
    this.selected = null;
    this.detail = null;
    $("incident-detail").hidden = true;
    this.render();
  }

  async _chart(inc) {
    this._chartData = null;
    if (!inc.segment_id) return;
    const startMs = Date.parse(inc.started_at);
    const from = new Date(Math.min(startMs - 45 * 60000, Date.now() - 60 * 60000));
    const to = new Date();
    try {
      const h = await getJSON(`/v1/segments/${encodeURIComponent(inc.segment_id)}/history?start=`
        + `${from.toISOString()}&end=${to.toISOString()}&resolution=1m`);
      const seg = this.live.byId.get(inc.segment_id);
      this._chartData = { points: h.points, ff: seg ? seg.properties.free_flow_kmh : 50,
        marker: startMs / 1000 };
      this._drawChart();
    } catch {
      /* no chart */
    }
  }

  _drawChart() {
    const el = $("incident-chart");
    if (el && this._chartData) {
      speedChart(el, this._chartData.points, this._chartData.ff,
        { marker: this._chartData.marker, height: 150 });
    }
  }

  async _act(inc, action) {
    const note = ($("note") && $("note").value.trim()) || null;
    if (action === "annotate" && !note) return;
    try {
      const row = await postJSON(
        `/v1/operator/incidents/${encodeURIComponent(inc.incident_id)}/${action}`,
        { note, expected_version: inc.version },
      );
      this.items.set(row.incident_id, { ...this.items.get(row.incident_id), ...row });
      this.toast(`${t(action)} ✓`);
      await this.open(row.incident_id);
    } catch (e) {
      this.toast(`${t("error")}: ${e.message}`, "alert");
      if (e.status === 409) this.open(inc.incident_id);
    }
  }

  /** The map was clicked in placing mode: ask for kind and severity, then create. */
  create(lngLat, seg) {
    $("place-hint").hidden = true;
    this.placeAt = { lngLat, seg };
    const sel = $("create-form").elements.kind;
    sel.innerHTML = KINDS.map((k) => `<option value="${k}">${esc(kindName(k))}</option>`).join("");
    $("create-where").textContent = `${seg ? seg.name || seg.segment_id : ""} `
      + `(${lngLat.lat.toFixed(5)}, ${lngLat.lng.toFixed(5)})`;
    $("create-error").textContent = "";
    $("create").showModal();
  }

  async _submitCreate(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const { lngLat, seg } = this.placeAt;
    try {
      const row = await postJSON("/v1/operator/incidents", {
        kind: f.get("kind"), severity: Number(f.get("severity")), note: f.get("note") || null,
        lon: lngLat.lng, lat: lngLat.lat, segment_id: seg ? seg.segment_id : null,
        road_name: seg ? seg.name : null, status: "confirmed",
      });
      $("create").close();
      e.target.reset();
      this.items.set(row.incident_id, row);
      this.open(row.incident_id);
    } catch (err) {
      $("create-error").textContent = `${t("error")}: ${err.message}`;
    }
  }
}

/** A text with {name} placeholders filled in. */
function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
}

function evidence(ev) {
  const detectors = new Set();
  const probes = [];
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k === "stations" && Array.isArray(x)) x.forEach((s) => detectors.add(s));
        else if (k === "station" || k === "detector_id") detectors.add(x);
        else if (k === "stopped" || k === "passing") probes.push(`${t(k)}: ${x}`);
        else walk(x);
      }
    }
  };
  walk(ev);
  const methods = Array.isArray(ev.methods) ? ev.methods.join(", ") : "";
  const rest = Object.fromEntries(Object.entries(ev).filter(([k]) => k !== "methods"));
  const h = ev.history;
  const past = h && typeof h === "object" ? fill(
    t(h.recurs ? "recurs_text" : h.slow_days === 0 ? "unusual_text" : "usual_text"),
    { k: h.slow_days, n: h.of, s: fmtNum(h.slowest_kmh, 0), v: fmtNum(h.now_kmh, 0) }) : "";
  return `<div class="facts">
    ${past ? `<span>${t("history_label")}</span><b class="history-note">${esc(past)}</b>` : ""}
    ${detectors.size ? `<span>${t("detectors_label")}</span><b>${esc([...detectors].join(", "))}</b>` : ""}
    ${probes.length ? `<span>${t("probes")}</span><b>${esc(probes.join(" · "))}</b>` : ""}
    ${methods ? `<span>${t("methods")}</span><b>${esc(methods)}</b>` : ""}
    </div><details><summary>JSON</summary><pre>${esc(JSON.stringify(rest, null, 1))}</pre></details>`;
}
