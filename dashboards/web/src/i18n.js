// Vietnamese and English texts, times in the city's time zone, km/h.

const TEXTS = {
  vi: {
    title: "Trung tâm điều hành giao thông Hải Phòng",
    avg_speed: "Tốc độ trung bình",
    congested_km: "Ùn tắc",
    active_incidents: "Sự cố đang diễn ra",
    freshness: "Dữ liệu",
    feed: "Luồng dữ liệu",
    detectors: "Thiết bị đo",
    msg_s: "tin/giây",
    dead_letter: "bị loại",
    lag: "độ trễ",
    ago: "trước",
    kafka_down: "Mất kết nối Kafka",
    incidents: "Sự cố",
    segment: "Đoạn đường",
    corridor: "Hành lang",
    status: "Trạng thái",
    severity: "Mức độ",
    area: "Khu vực",
    all: "Tất cả",
    active: "Đang diễn ra",
    in_view: "Trong khung nhìn",
    suspected: "Nghi ngờ",
    confirmed: "Đã xác nhận",
    cleared: "Đã thông",
    resolved: "Đã xử lý",
    dismissed: "Đã bỏ qua",
    confirm: "Xác nhận",
    dismiss: "Bỏ qua",
    resolve: "Đã xử lý",
    note: "Ghi chú",
    add_note: "Thêm ghi chú",
    review: "Cần xem xét",
    announce: "Công bố",
    confidence: "Độ tin cậy",
    sign_in: "Đăng nhập",
    sign_out: "Đăng xuất",
    username: "Tên đăng nhập",
    password: "Mật khẩu",
    wrong_login: "Sai tên đăng nhập hoặc mật khẩu",
    read_only: "Chỉ xem",
    new_incident: "Sự cố mới",
    report_incident: "Báo sự cố",
    click_map: "Nhấp vào bản đồ để đặt vị trí sự cố",
    kind: "Loại",
    create: "Tạo",
    cancel: "Hủy",
    no_incidents: "Không có sự cố",
    started: "Bắt đầu",
    updated: "Cập nhật",
    delay: "Chậm trễ ước tính",
    source: "Nguồn",
    evidence: "Bằng chứng",
    history: "Lịch sử",
    speed_drop: "Tốc độ trên đoạn đường",
    speed: "Tốc độ",
    free_flow: "Tốc độ tự do",
    volume: "Lưu lượng (xe)",
    no_data: "Không có dữ liệu",
    last_hours: "giờ gần nhất",
    travel_time: "Thời gian hành trình",
    timespace: "Biểu đồ thời gian – không gian (tốc độ)",
    distance: "Khoảng cách (km)",
    time: "Thời gian",
    pick_segment: "Chọn một đoạn đường trên bản đồ",
    level_0: "Thông thoáng",
    level_1: "Hơi đông",
    level_2: "Đông",
    level_3: "Ùn tắc",
    level_4: "Tắc nghẽn",
    level_none: "Không có dữ liệu",
    legend: "Mức ùn tắc",
    kinds: {
      accident: "Tai nạn",
      lane_blockage: "Chặn làn",
      stalled_vehicle: "Xe chết máy",
      closure: "Đóng đường",
      congestion: "Ùn tắc bất thường",
      roadworks: "Thi công",
      unexplained_queue: "Ùn ứ bất thường",
      stopped_vehicles: "Xe dừng trên đường",
      other: "Khác",
    },
    actions: {
      create: "Tạo",
      confirm: "Xác nhận",
      dismiss: "Bỏ qua",
      resolve: "Đã xử lý",
      annotate: "Ghi chú",
      update: "Cập nhật",
      announce: "Đã công bố",
      clear: "Đã thông",
    },
    detectors_label: "Thiết bị đo",
    probes: "Xe thăm dò",
    stopped: "dừng",
    passing: "đi qua",
    methods: "Phương pháp",
    history_label: "So với các ngày trước",
    recurs_text: "lặp lại: vào giờ này {k}/{n} ngày trước cũng chậm như vậy (chậm nhất {s} km/h, hiện {v} km/h)",
    unusual_text: "bất thường: chậm hơn mọi ngày trong {n} ngày trước (chậm nhất {s} km/h, hiện {v} km/h)",
    usual_text: "vào giờ này {k}/{n} ngày trước cũng chậm như vậy",
    timezone: "Múi giờ",
    sound: "Âm báo",
    wall: "Màn hình lớn",
    error: "Lỗi",
    live: "Trực tiếp",
    offline: "Mất kết nối",
    coverage: "Độ phủ dữ liệu",
    operator_only: "Đăng nhập với vai trò điều hành viên để thao tác",
    forecast: "Dự báo",
    forecast_band: "Dự báo 10–90 %",
    ahead_min: "+{m} phút",
    map_now: "Hiện tại",
    map_plus_30: "+30 phút",
    map_mode: "Tô màu theo hiện tại hoặc dự báo 30 phút tới",
    no_forecast: "chưa có dự báo",
    forecast_basis: "dự báo: {basis}",
    "basis_baseline:no_model": "ước tính cơ sở (chưa có mô hình)",
    "basis_baseline:model_other_network": "ước tính cơ sở (mô hình của mạng lưới khác)",
    "basis_baseline:no_history": "ước tính cơ sở (chưa có dữ liệu lịch sử)",
    forecast_issued: "lập lúc {time}",
    forecast_stale: "dự báo cũ: lập cách đây {age}",
    depart_forecast: "Thời gian hành trình nếu xuất phát",
    leave_now: "bây giờ",
    leave_in: "sau {m} phút",
    minutes: "phút",
    forecast_coverage: "dự báo cho {f} % chiều dài, mô hình {m} %",
    forecast_none: "chưa có dự báo: theo thời gian hành trình hiện tại",
  },
  en: {
    title: "Hai Phong traffic control centre",
    avg_speed: "Average speed",
    congested_km: "Congested",
    active_incidents: "Active incidents",
    freshness: "Data",
    feed: "Feed",
    detectors: "Detectors",
    msg_s: "msg/s",
    dead_letter: "rejected",
    lag: "lag",
    ago: "ago",
    kafka_down: "Kafka unreachable",
    incidents: "Incidents",
    segment: "Segment",
    corridor: "Corridor",
    status: "Status",
    severity: "Severity",
    area: "Area",
    all: "All",
    active: "Active",
    in_view: "In map view",
    suspected: "Suspected",
    confirmed: "Confirmed",
    cleared: "Cleared",
    resolved: "Resolved",
    dismissed: "Dismissed",
    confirm: "Confirm",
    dismiss: "Dismiss",
    resolve: "Resolve",
    note: "Note",
    add_note: "Add note",
    review: "For review",
    announce: "Announce",
    confidence: "Confidence",
    sign_in: "Sign in",
    sign_out: "Sign out",
    username: "User name",
    password: "Password",
    wrong_login: "Wrong user name or password",
    read_only: "Read only",
    new_incident: "New incident",
    report_incident: "Report incident",
    click_map: "Click the map to place the incident",
    kind: "Kind",
    create: "Create",
    cancel: "Cancel",
    no_incidents: "No incidents",
    started: "Started",
    updated: "Updated",
    delay: "Estimated delay",
    source: "Source",
    evidence: "Evidence",
    history: "History",
    speed_drop: "Speed on the segment",
    speed: "Speed",
    free_flow: "Free flow",
    volume: "Volume (veh)",
    no_data: "No data",
    last_hours: "last hours",
    travel_time: "Travel time",
    timespace: "Time–space diagram (speed)",
    distance: "Distance (km)",
    time: "Time",
    pick_segment: "Pick a segment on the map",
    level_0: "Free",
    level_1: "Light",
    level_2: "Moderate",
    level_3: "Heavy",
    level_4: "Stopped",
    level_none: "No data",
    legend: "Congestion",
    kinds: {
      accident: "Accident",
      lane_blockage: "Lane blockage",
      stalled_vehicle: "Stalled vehicle",
      closure: "Road closure",
      congestion: "Unusual congestion",
      roadworks: "Road works",
      unexplained_queue: "Unexplained queue",
      stopped_vehicles: "Stopped vehicles",
      other: "Other",
    },
    actions: {
      create: "Created",
      confirm: "Confirmed",
      dismiss: "Dismissed",
      resolve: "Resolved",
      annotate: "Note",
      update: "Updated",
      announce: "Announced",
      clear: "Cleared",
    },
    detectors_label: "Detectors",
    probes: "Probe vehicles",
    stopped: "stopped",
    passing: "passing",
    methods: "Methods",
    history_label: "Against previous days",
    recurs_text: "recurs: as slow at this time on {k} of {n} previous days (slowest {s} km/h, now {v} km/h)",
    unusual_text: "unusual: slower than on any of {n} previous days (slowest {s} km/h, now {v} km/h)",
    usual_text: "as slow at this time on {k} of {n} previous days",
    timezone: "Time zone",
    sound: "Sound",
    wall: "Wall display",
    error: "Error",
    live: "Live",
    offline: "Offline",
    coverage: "Data coverage",
    operator_only: "Sign in as an operator to act",
    forecast: "Forecast",
    forecast_band: "Forecast 10–90 %",
    ahead_min: "+{m} min",
    map_now: "Now",
    map_plus_30: "+30 min",
    map_mode: "Colour by the current level or by the forecast 30 minutes ahead",
    no_forecast: "no forecast",
    forecast_basis: "forecast: {basis}",
    "basis_baseline:no_model": "baseline (no model)",
    "basis_baseline:model_other_network": "baseline (model of another network)",
    "basis_baseline:no_history": "baseline (no history)",
    forecast_issued: "issued {time}",
    forecast_stale: "stale forecast: issued {age} ago",
    depart_forecast: "Travel time if leaving",
    leave_now: "now",
    leave_in: "in {m} min",
    minutes: "min",
    forecast_coverage: "forecast for {f} % of the length, model {m} %",
    forecast_none: "no forecast yet: current travel times",
  },
};

const listeners = [];
let lang = localStorage.getItem("itms.lang") || "vi";
if (!TEXTS[lang]) lang = "vi";
let zone = localStorage.getItem("itms.tz") || "Asia/Ho_Chi_Minh";

export function t(key) {
  const v = TEXTS[lang][key];
  return v === undefined ? key : v;
}

export function kindName(kind) {
  return TEXTS[lang].kinds[kind] || kind;
}

const DIRECTIONS_VI = {
  northbound: "hướng Bắc",
  "north-eastbound": "hướng Đông Bắc",
  eastbound: "hướng Đông",
  "south-eastbound": "hướng Đông Nam",
  southbound: "hướng Nam",
  "south-westbound": "hướng Tây Nam",
  westbound: "hướng Tây",
  "north-westbound": "hướng Tây Bắc",
};

export function directionName(direction) {
  if (!direction) return "";
  return lang === "vi" ? DIRECTIONS_VI[direction] || direction : direction;
}

export function actionName(action) {
  return TEXTS[lang].actions[action] || action;
}

export function language() {
  return lang;
}

export function setLanguage(value) {
  lang = TEXTS[value] ? value : "vi";
  localStorage.setItem("itms.lang", lang);
  document.documentElement.lang = lang;
  applyStatic();
  listeners.forEach((fn) => fn());
}

export function timeZone() {
  return zone;
}

export function setTimeZone(value) {
  zone = value;
  localStorage.setItem("itms.tz", zone);
  listeners.forEach((fn) => fn());
}

export function onChange(fn) {
  listeners.push(fn);
}

function locale() {
  return lang === "vi" ? "vi-VN" : "en-GB";
}

export function fmtTime(value, withDate = false) {
  if (!value) return "–";
  const d = value instanceof Date ? value : new Date(value);
  const opts = { hour: "2-digit", minute: "2-digit", timeZone: zone, hour12: false };
  if (withDate) Object.assign(opts, { day: "2-digit", month: "2-digit" });
  return new Intl.DateTimeFormat(locale(), opts).format(d);
}

export function fmtNum(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return new Intl.NumberFormat(locale(), {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  }).format(value);
}

export function fmtAge(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} ${lang === "vi" ? "phút" : "min"}`;
  return `${fmtNum(seconds / 3600, 1)} h`;
}

/** Fill every element carrying data-i18n (text) or data-i18n-placeholder / -title. */
export function applyStatic(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  });
  root.querySelectorAll("[data-i18n-title]").forEach((el) => {
    el.title = t(el.dataset.i18nTitle);
  });
}
