/* The analysis desk (/analysis/): draws the charts from the numbers the page was rendered with
   (#analysis-data, the same answers as /api/analysis/…) and the region choropleth from
   /api/analysis/map. Every chart has its table on the page and its CSV/XLSX download. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("analysis-data").textContent);
  const script = document.currentScript;
  const query = data.query;
  const byKey = Object.fromEntries(data.overview.indicators.map((i) => [i.key, i]));
  const selected = byKey[data.indicator];
  const charts = [];
  const FONT = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif';

  function format(value, unit) {
    if (value === null || value === undefined) return "—";
    if (unit === "count") return value.toLocaleString("en-US");
    if (unit === "%") return value.toFixed(2) + " %";
    return value.toFixed(4);
  }

  function chart(element, option) {
    if (!element) return null;
    const c = echarts.init(element, null, { renderer: "canvas" });
    c.setOption(Object.assign({ textStyle: { fontFamily: FONT }, animation: false }, option));
    charts.push(c);
    return c;
  }

  function drill(code) {
    const params = new URLSearchParams({ region: code, year: query.year, indicator: query.indicator });
    window.location.search = params.toString();
  }

  // Sparklines: the last years of each indicator, no axes.
  document.querySelectorAll("[data-spark]").forEach((el) => {
    const item = byKey[el.dataset.spark];
    if (!item || !item.trend.some((p) => p.value !== null)) { el.remove(); return; }
    chart(el, {
      grid: { left: 2, right: 2, top: 4, bottom: 2 },
      xAxis: { type: "category", show: false, data: item.trend.map((p) => p.year) },
      yAxis: { type: "value", show: false, scale: true },
      tooltip: { trigger: "axis", confine: true, valueFormatter: (v) => format(v, item.unit) },
      series: [{ type: "line", data: item.trend.map((p) => p.value), symbol: "none", connectNulls: false,
                 lineStyle: { width: 1.5, color: "#0b4f8a" }, areaStyle: { color: "rgba(11,79,138,.12)" } }],
    });
  });

  // The chosen indicator's trend: bars for counts, a line for rates.
  const trendEl = document.getElementById("trend-chart");
  if (trendEl && selected) {
    const isCount = selected.unit === "count";
    chart(trendEl, {
      grid: { left: 56, right: 16, top: 24, bottom: 28 },
      tooltip: { trigger: "axis", valueFormatter: (v) => format(v, selected.unit) },
      xAxis: { type: "category", data: selected.trend.map((p) => String(p.year)) },
      yAxis: { type: "value", name: selected.unit === "count" ? "" : selected.unit, scale: !isCount },
      series: [{ name: selected.name_zh, type: isCount ? "bar" : "line", data: selected.trend.map((p) => p.value),
                 itemStyle: { color: "#0b4f8a" },
                 label: { show: selected.trend.length <= 10 && isCount, position: "top", fontSize: 10, formatter: (p) => format(p.value, selected.unit) } }],
    });
  }

  // Ranking of the child regions on the chosen indicator (regions without a figure last).
  const rows = data.regions.regions.slice();
  const rankEl = document.getElementById("ranking-chart");
  if (rankEl && selected) {
    const ranked = rows.slice().sort((a, b) => (b.values[selected.key] ?? -Infinity) - (a.values[selected.key] ?? -Infinity)).reverse();
    rankEl.style.height = Math.max(220, 22 * ranked.length + 40) + "px";
    const c = chart(rankEl, {
      grid: { left: 8, right: 56, top: 8, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v) => format(v, selected.unit) },
      xAxis: { type: "value", show: false },
      yAxis: { type: "category", data: ranked.map((r) => r.name), axisTick: { show: false } },
      series: [{ type: "bar", barMaxWidth: 22, data: ranked.map((r) => r.values[selected.key]), itemStyle: { color: "#3182bd" },
                 label: { show: true, position: "right", fontSize: 11, formatter: (p) => format(p.value, selected.unit) } }],
    });
    if (c && data.regions.drillable) {
      c.on("click", (p) => drill(ranked[p.dataIndex].code));
    }
  }

  // The choropleth: outlines and class colours from the API (maps.choropleth's machinery).
  const mapEl = document.getElementById("region-map");
  if (mapEl && selected) {
    const params = new URLSearchParams({ region: query.region, year: query.year, indicator: query.indicator });
    fetch(script.dataset.mapUrl + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("map " + r.status))))
      .then((geo) => {
        echarts.registerMap("segis-area", geo);
        const names = Object.fromEntries(geo.features.map((f) => [f.properties.code, f.properties]));
        const c = chart(mapEl, {
          tooltip: { trigger: "item", formatter: (p) => {
            const f = names[p.name];
            return f ? `${f.name}<br>${selected.name_zh}: ${format(f.value, selected.unit)}` : p.name;
          } },
          series: [{
            type: "map", map: "segis-area", nameProperty: "code", roam: false, selectedMode: false,
            aspectScale: 0.85, layoutCenter: ["50%", "50%"], layoutSize: "95%",
            label: { show: true, fontSize: 10, color: "#1f2a37", formatter: (p) => (names[p.name] || {}).name || "" },
            itemStyle: { borderColor: "#44546a", borderWidth: 0.8 },
            emphasis: { label: { show: true }, itemStyle: { areaColor: "#ffd43b" } },
            data: geo.features.map((f) => ({ name: f.properties.code, value: f.properties.value,
                                             itemStyle: { areaColor: f.properties.fill } })),
          }],
        });
        if (c && geo.drillable) c.on("click", (p) => drill(p.name));
        const legend = document.getElementById("region-legend");
        legend.replaceChildren(...geo.legend.map((item) => {
          const span = document.createElement("span");
          const swatch = document.createElement("i");
          swatch.style.background = item.colour;
          span.append(swatch, item.label);
          return span;
        }));
        mapEl.dataset.ready = "true";
      })
      .catch((error) => { mapEl.textContent = gettext('地图加载失败') + error.message + ")"; });
  }

  // Devices by kind and status: stacked bars.
  const devicesEl = document.getElementById("devices-chart");
  if (devicesEl) {
    const kinds = data.devices.kinds;
    const colours = { in_use: "#31a354", suspended: "#fd8d3c", cancelled: "#969696", scrapped: "#525252" };
    chart(devicesEl, {
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      legend: { type: "scroll", top: 0, textStyle: { fontSize: 11 } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: kinds.map((k) => k.name.split(" / ")[0]), inverse: true },
      series: data.devices.statuses.map((s) => ({
        name: s.label, type: "bar", stack: "status", data: kinds.map((k) => k[s.key]),
        itemStyle: { color: colours[s.key] },
      })),
    });
    devicesEl.style.height = Math.max(220, 26 * kinds.length + 60) + "px";
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
