/* Decision support (/analysis/decisions/…) and the annual report (/analysis/report): charts and a
   county map drawn from the numbers the page was rendered with (the same answers as the API).
   Every chart has its table on the page; the files are the page's download links. */
(function () {
  "use strict";
  const FONT = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif';
  const RAMP = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"];

  function chart(element, option) {
    if (!element) return null;
    const c = echarts.init(element, null, { renderer: "canvas" });
    c.setOption(Object.assign({ textStyle: { fontFamily: FONT }, animation: false }, option));
    window.addEventListener("resize", () => c.resize());
    return c;
  }

  function json(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  // A choropleth of the area's counties (values from the page), with sites as dots if any.
  function countyMap(el, geo, label, sites, drillQuery) {
    if (!el || !geo || !geo.features.length) { if (el) el.remove(); return; }
    echarts.registerMap("segis-counties", geo);
    const values = geo.features.map((f) => f.properties.value).filter((v) => v !== null && v !== undefined);
    const max = Math.max(1, ...values);
    const names = Object.fromEntries(geo.features.map((f) => [f.properties.code, f.properties]));
    const c = chart(el, {
      tooltip: { trigger: "item", formatter: (p) => {
        if (p.seriesType === "scatter") return `#${p.data.rank} ${p.data.county}<br>+${p.data.gain}`;
        const f = names[p.name];
        return f ? `${f.name}<br>${label}: ${f.value ?? "—"}` : p.name;
      } },
      visualMap: { min: 0, max: max, inRange: { color: RAMP }, calculable: false, orient: "horizontal",
                   left: 4, bottom: 4, itemHeight: 120, text: [String(max), "0"], seriesIndex: 0 },
      geo: { map: "segis-counties", nameProperty: "code", roam: false, aspectScale: 0.85,
             layoutCenter: ["50%", "48%"], layoutSize: "92%", silent: true,
             itemStyle: { borderColor: "#44546a", borderWidth: 0.6 } },
      series: [
        { type: "map", geoIndex: 0, nameProperty: "code",
          data: geo.features.map((f) => ({ name: f.properties.code, value: f.properties.value })) },
        { type: "scatter", coordinateSystem: "geo", symbolSize: 12, z: 5,
          itemStyle: { color: "#0b4f8a", borderColor: "#fff", borderWidth: 1.5 },
          label: { show: true, formatter: (p) => String(p.data.rank), color: "#fff", fontSize: 9 },
          data: (sites || []).map((s) => ({ value: [s.lon, s.lat], rank: s.rank, county: s.county_name, gain: s.newly_covered })) },
      ],
    });
    if (c && drillQuery) c.on("click", (p) => {
      if (p.seriesType !== "map") return;
      const params = new URLSearchParams(drillQuery);
      params.set("region", p.name);
      window.location.search = params.toString();
    });
    el.dataset.ready = "true";
  }

  const decisions = json("decisions-data");
  if (decisions) {
    const answer = decisions.answer;
    const geo = json("county-map-data");
    const geoData = geo ? JSON.parse(geo) : null;
    const drill = Object.assign({}, decisions.query);
    if (decisions.question === "workload") {
      chart(document.getElementById("workload-chart"), {
        grid: { left: 56, right: 16, top: 30, bottom: 28 },
        legend: { top: 0 },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: answer.months },
        yAxis: { type: "value" },
        series: [
          { name: gettext('首次到期'), type: "bar", stack: "n", data: answer.due, itemStyle: { color: "#0b4f8a" } },
          { name: gettext('再次到期'), type: "bar", stack: "n", data: answer.repeats, itemStyle: { color: "#fd8d3c" } },
        ],
      });
      countyMap(document.getElementById("county-map"), geoData, gettext('到期'), null, drill);
    } else if (decisions.question === "coverage") {
      countyMap(document.getElementById("county-map"), geoData, pgettext('devices beyond the limit', '超时'), answer.sites, drill);
    } else {
      countyMap(document.getElementById("county-map"), geoData, gettext('得分'), null, drill);
    }
  }

  const report = json("report-data");
  const print = document.getElementById("print-report");
  if (print) print.addEventListener("click", () => window.print());
  if (report) {
    const r = report.report;
    const byKey = Object.fromEntries(r.overview.indicators.map((i) => [i.key, i]));
    document.querySelectorAll("[data-trend]").forEach((el) => {
      const item = byKey[el.dataset.trend];
      if (!item || !item.trend.length) { el.remove(); return; }
      const isCount = item.unit === "count";
      chart(el, {
        title: { text: item.name_zh, textStyle: { fontSize: 12 }, left: 4 },
        grid: { left: 52, right: 10, top: 28, bottom: 22 },
        xAxis: { type: "category", data: item.trend.map((p) => String(p.year)), axisLabel: { fontSize: 9 } },
        yAxis: { type: "value", scale: !isCount, axisLabel: { fontSize: 9 } },
        series: [{ type: isCount ? "bar" : "line", data: item.trend.map((p) => p.value), itemStyle: { color: "#0b4f8a" } }],
      });
    });
    const kinds = r.devices.kinds;
    chart(document.getElementById("report-devices"), {
      grid: { left: 8, right: 16, top: 30, bottom: 8, containLabel: true },
      legend: { top: 0 },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: kinds.map((k) => k.name.split(" / ")[0]), inverse: true },
      series: r.devices.statuses.map((s) => ({ name: s.label, type: "bar", stack: "s", data: kinds.map((k) => k[s.key]) })),
    });
    const geo = json("report-map-data");
    countyMap(document.getElementById("report-map"), geo ? JSON.parse(geo) : null, gettext('在用设备'), null, null);
  }
})();
