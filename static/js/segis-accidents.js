/* The accident analysis (/analysis/accidents/): draws the charts from the numbers the page was
   rendered with (#accidents-data, the same answer as /api/analysis/accidents) and the hot-spot
   map from /api/analysis/accidents/hotspots/map. Every chart has its table and its download. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("accidents-data").textContent);
  const script = document.currentScript;
  const s = data.summary;
  const charts = [];
  const FONT = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif';
  const RED = "#c51b8a", DARK = "#7a0177", BLUE = "#0b4f8a", GREY = "#969696";

  function chart(element, option) {
    if (!element) return null;
    const c = echarts.init(element, null, { renderer: "canvas" });
    c.setOption(Object.assign({ textStyle: { fontFamily: FONT }, animation: false }, option));
    charts.push(c);
    return c;
  }
  const zh = (label) => String(label).split(" / ")[0];

  // By year: accidents and deaths as bars, accidents per 10,000 devices as a line.
  chart(document.getElementById("yearly-chart"), {
    grid: { left: 44, right: 56, top: 36, bottom: 28 },
    legend: { top: 0, textStyle: { fontSize: 11 } },
    tooltip: { trigger: "axis" },
    xAxis: { type: "category", data: s.yearly.map((r) => String(r.year)) },
    yAxis: [{ type: "value", minInterval: 1 }, { type: "value", name: "/10k", splitLine: { show: false } }],
    series: [
      { name: gettext('事故'), type: "bar", data: s.yearly.map((r) => r.accidents), itemStyle: { color: BLUE } },
      { name: gettext('死亡'), type: "bar", data: s.yearly.map((r) => r.deaths), itemStyle: { color: RED } },
      { name: gettext('受伤'), type: "bar", data: s.yearly.map((r) => r.injuries), itemStyle: { color: GREY } },
      { name: gettext('万台事故'), type: "line", yAxisIndex: 1, data: s.yearly.map((r) => r.accidents_per_10k), itemStyle: { color: DARK } },
    ],
  });

  // By month over the period.
  chart(document.getElementById("monthly-chart"), {
    grid: { left: 44, right: 16, top: 36, bottom: 48 },
    legend: { top: 0, textStyle: { fontSize: 11 } },
    tooltip: { trigger: "axis" },
    dataZoom: s.monthly.length > 36 ? [{ type: "slider", height: 16, bottom: 4, startValue: s.monthly.length - 36 }] : [],
    xAxis: { type: "category", data: s.monthly.map((r) => r.month) },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: gettext('事故'), type: "bar", data: s.monthly.map((r) => r.accidents), itemStyle: { color: BLUE } },
      { name: gettext('死亡'), type: "line", data: s.monthly.map((r) => r.deaths), itemStyle: { color: RED }, symbolSize: 3 },
    ],
  });

  // Breakdowns: horizontal bars of accidents and deaths.
  const breakdowns = { kind: s.by_kind, cause: s.by_cause, severity: s.by_severity, month: s.by_month, place: s.by_place };
  document.querySelectorAll("[data-breakdown]").forEach((el) => {
    const rows = breakdowns[el.dataset.breakdown] || [];
    el.style.height = Math.max(160, 24 * rows.length + 56) + "px";
    chart(el, {
      grid: { left: 8, right: 32, top: 28, bottom: 8, containLabel: true },
      legend: { top: 0, textStyle: { fontSize: 11 } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: rows.map((r) => zh(r.label)), axisTick: { show: false } },
      series: [
        { name: gettext('事故'), type: "bar", barMaxWidth: 14, data: rows.map((r) => r.accidents), itemStyle: { color: BLUE },
          label: { show: true, position: "right", fontSize: 10 } },
        { name: gettext('死亡'), type: "bar", barMaxWidth: 14, data: rows.map((r) => r.deaths), itemStyle: { color: RED } },
      ],
    });
  });

  // Each kind's causes: stacked bars.
  const kc = s.kind_causes;
  const kcEl = document.getElementById("kind_cause-chart");
  if (kcEl) {
    kcEl.style.height = Math.max(160, 24 * kc.length + 64) + "px";
    const colours = { use_management: "#fd8d3c", defect: "#6baed6", safety_device: "#3182bd", other: GREY };
    const causes = kc.length ? kc[0].causes : [];
    chart(kcEl, {
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      legend: { type: "scroll", top: 0, textStyle: { fontSize: 11 } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: kc.map((r) => r.kind) },
      series: causes.map((c, i) => ({ name: zh(c.label), type: "bar", stack: "cause", barMaxWidth: 16,
        data: kc.map((r) => r.causes[i].accidents), itemStyle: { color: colours[c.key] } })),
    });
  }

  // The hot-spot map: the counties' outlines and class colours from the API.
  const mapEl = document.getElementById("hotspot-map");
  if (mapEl) {
    const q = data.query;
    const params = new URLSearchParams({ region: q.region, year: q.year, years: q.years, measure: q.measure });
    fetch(script.dataset.mapUrl + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("map " + r.status))))
      .then((geo) => {
        echarts.registerMap("segis-hotspots", geo);
        const props = Object.fromEntries(geo.features.map((f) => [f.properties.code, f.properties]));
        const labels = Object.fromEntries(geo.legend.map((l) => [l.key, l.label]));
        chart(mapEl, {
          tooltip: { trigger: "item", formatter: (p) => {
            const f = props[p.name];
            if (!f) return p.name;
            const value = f.value === null ? "—" : f.value;
            return `${f.name}<br>${value}<br>Gi* z ${f.z ?? "—"} · p ${f.p ?? "—"}<br>${labels[f.spot]}`;
          } },
          series: [{
            type: "map", map: "segis-hotspots", nameProperty: "code", roam: false, selectedMode: false,
            aspectScale: 0.85, layoutCenter: ["50%", "50%"], layoutSize: "95%",
            label: { show: geo.features.length <= 40, fontSize: 9, color: "#1f2a37", formatter: (p) => (props[p.name] || {}).name || "" },
            itemStyle: { borderColor: "#44546a", borderWidth: 0.6 },
            emphasis: { label: { show: true }, itemStyle: { areaColor: "#ffd43b" } },
            data: geo.features.map((f) => ({ name: f.properties.code, itemStyle: { areaColor: f.properties.fill } })),
          }],
        });
        mapEl.dataset.ready = "true";
      })
      .catch((error) => { mapEl.textContent = gettext('地图加载失败') + error.message + ")"; });
  }

  document.querySelectorAll("[data-toggle]").forEach((button) => {
    button.addEventListener("click", () => {
      const table = document.getElementById(button.dataset.toggle);
      table.hidden = !table.hidden;
    });
  });
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  charts.forEach((c) => c.resize());
})();
