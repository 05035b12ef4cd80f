/* 绩效评价 (/analysis/evaluation/): the league chart from the numbers the page was rendered with
   (#evaluation-data, the same answer as /api/analysis/evaluation), and the table sorted by a
   click on a heading. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("evaluation-data").textContent);
  const FONT = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif';
  const el = document.getElementById("league-chart");
  if (el && data.agencies.length) {
    const rows = data.agencies.slice().reverse();  // the best at the top of a horizontal bar chart
    const chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      textStyle: { fontFamily: FONT }, animation: false,
      grid: { left: 88, right: 48, top: 8, bottom: 24 },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: rows.map((r) => r.name), axisLabel: { width: 80, overflow: "truncate" } },
      series: [{
        type: "bar", name: gettext('得分'), data: rows.map((r) => r.score),
        itemStyle: { color: "#0b4f8a" },
        label: { show: true, position: "right", formatter: (p) => (p.value === null || p.value === undefined ? "—" : p.value.toFixed(1)) },
      }],
    });
    chart.on("click", (p) => {
      const row = rows[p.dataIndex];
      if (row) window.location.search = new URLSearchParams({ region: row.code, year: data.year }).toString();
    });
    window.addEventListener("resize", () => chart.resize());
  }

  const table = document.getElementById("league-table");
  if (!table) return;
  table.querySelectorAll("th[data-sort]").forEach((th, column) => {
    th.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach((h) => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const numeric = th.dataset.sort === "num";
      const key = (tr) => {
        const cell = tr.children[column];
        const raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
        return numeric ? (raw === "" ? null : parseFloat(raw)) : raw;
      };
      const body = table.tBodies[0];
      const rows = Array.from(body.rows).sort((a, b) => {
        const x = key(a), y = key(b);
        if (x === null) return 1;  // no score last, whichever way
        if (y === null) return -1;
        const order = numeric ? x - y : String(x).localeCompare(String(y), "zh");
        return ascending ? order : -order;
      });
      rows.forEach((r) => body.appendChild(r));
    });
  });
})();
