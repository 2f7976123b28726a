/* Dashboards: each widget's figures (a JSON block the server wrote) drawn by ECharts.
   Clicking a data point opens the list of exactly the records behind it. Numbers follow
   the page's language (万 and 亿 in Chinese). No inline script: the CSP forbids it. */
(function () {
  "use strict";
  var grid = document.querySelector(".dashboard-grid");
  if (!grid || typeof echarts === "undefined") { return; }
  var lang = grid.dataset.language || "zh-CN";
  var currency = grid.dataset.currency || "";
  var compact = new Intl.NumberFormat(lang, { notation: "compact", maximumFractionDigits: 2 });
  var exact = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });

  function num(value) { return value === null || value === undefined || value === "" ? null : Number(value); }
  function show(value, w, full) {
    if (value === null || value === undefined) { return "—"; }
    var text = (full ? exact : compact).format(value);
    if (w.percent) { return text + "%"; }
    return w.money ? currency + text : text;
  }

  document.querySelectorAll(".kpi-value[data-number]").forEach(function (el) {
    var value = num(el.dataset.number);
    if (value === null) { return; }
    el.textContent = show(value, { money: el.dataset.money === "yes", percent: el.dataset.percent === "yes" });
    el.title = exact.format(value);
  });

  var charts = [];
  document.querySelectorAll(".widget").forEach(function (card) {
    var holder = card.querySelector(".chart");
    if (!holder || !card.dataset.figures) { return; }
    var w = JSON.parse(card.dataset.figures);
    var option = build(w, holder.clientWidth);
    if (!option) { return; }
    var chart = echarts.init(holder, null, { renderer: "svg" });
    // Tooltips are drawn in the chart (richText): HTML ones carry style attributes the CSP refuses.
    option.tooltip = Object.assign({ confine: true, triggerOn: "mousemove|click", renderMode: "richText",
      valueFormatter: function (v) { return show(v, w, true); } }, option.tooltip || {});
    chart.setOption(option);
    chart.on("click", function (params) {
      var link = params.data && params.data.link;
      if (link) { window.location.href = link; }
    });
    holder.dataset.rendered = "yes";
    charts.push(chart);
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  window.addEventListener("beforeprint", function () { charts.forEach(function (c) { c.resize(); }); });
  var printer = document.querySelector("[data-print]");
  if (printer) { printer.addEventListener("click", function () { window.print(); }); }

  function points(series) {
    return series.data.map(function (v, i) { return { value: num(v), link: series.links[i] }; });
  }
  function labels(w) { return w.categories.map(function (c) { return c.label; }); }
  function axisLabel(w) { return { formatter: function (v) { return show(v, w); } }; }

  // Each stage: the probability its open records assume beside the win rate it has had
  // (bars, in per cent), and its average days (a line on a second axis).
  function stages(w) {
    var pct = { percent: true }, days = {};
    function pick(key) { return w.series.filter(function (s) { return s.key === key; })[0]; }
    function formatted(like) { return { valueFormatter: function (v) { return show(v, like, true); } }; }
    var series = ["probability", "win_rate"].map(pick).filter(Boolean).map(function (s) {
      return { type: "bar", name: s.label, data: points(s), tooltip: formatted(pct) };
    });
    var stay = pick("days");
    if (stay) { series.push({ type: "line", name: stay.label, yAxisIndex: 1, data: points(stay), tooltip: formatted(days) }); }
    return { legend: { type: "scroll", bottom: 0 },
      grid: { left: 8, right: 8, top: 16, bottom: 36, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: labels(w), axisLabel: { hideOverlap: true } },
      yAxis: [{ type: "value", max: 100, axisLabel: axisLabel(pct) },
        { type: "value", splitLine: { show: false }, axisLabel: axisLabel(days) }],
      series: series };
  }

  // A chart narrower than this (a phone) has no room for names beside the slices: ECharts
  // cut them to one letter ("A..."), so the legend alone names them there.
  var NARROW = 480;

  function build(w, width) {
    var kind = w.type;
    if (kind === "pie" || kind === "donut") {
      var s = w.series[0];
      var named = width >= NARROW;
      return { legend: { type: "scroll", bottom: 0 }, series: [{ type: "pie",
        label: { show: named }, labelLine: { show: named },
        radius: kind === "donut" ? ["40%", "68%"] : "68%", top: 0, bottom: 30,
        data: w.categories.map(function (c, i) { return { name: c.label, value: num(s.data[i]), link: s.links[i] }; }) }] };
    }
    if (kind === "funnel") {
      var f = w.series[0];
      var conv = w.conversion || [];
      return { series: [{ type: "funnel", sort: "none", left: "5%", width: "90%", top: 8, bottom: 8, minSize: "20%",
        label: { position: "inside", formatter: function (p) {
          var c = p.dataIndex > 0 ? conv[p.dataIndex - 1] : null;
          return p.name + "  " + show(p.value, w) + (c !== null && c !== undefined ? "  (" + c + "%)" : "");
        } },
        data: w.categories.map(function (c, i) { return { name: c.label, value: num(f.data[i]), link: f.links[i] }; }) }] };
    }
    if (kind === "calendar") {
      var days = w.days || [];
      var span = w.span || [days.length ? days[0].day : "", days.length ? days[days.length - 1].day : ""];
      var top = days.reduce(function (m, d) { return Math.max(m, num(d.value) || 0); }, 1);
      return { visualMap: { show: false, min: 0, max: top, inRange: { color: ["#e8f1fb", "#1e6bd6"] } },
        calendar: { range: span, cellSize: ["auto", 22], left: 30, right: 10, top: 30, dayLabel: { nameMap: lang === "zh-CN" ? "ZH" : "EN" }, monthLabel: { nameMap: lang === "zh-CN" ? "ZH" : "EN" } },
        series: [{ type: "heatmap", coordinateSystem: "calendar",
          data: days.map(function (d) { return { value: [d.day, num(d.value)], link: d.link }; }) }] };
    }
    if (kind === "gantt") {
      var rows = w.rows || [];
      var start = w.start, end = w.end;
      var data = rows.map(function (r, i) {
        var a = Date.parse(r.values[start]), b = Date.parse(r.values[end] || r.values[start]);
        return { value: [i, a, b, r.title], link: r.link };
      });
      return { grid: { left: 120, right: 20, top: 10, bottom: 30, containLabel: false },
        xAxis: { type: "time" }, yAxis: { type: "category", inverse: true, data: rows.map(function (r) { return r.title; }),
          axisLabel: { width: 110, overflow: "truncate" } },
        tooltip: { formatter: function (p) { return p.value[3] + "\n" + new Date(p.value[1]).toLocaleDateString(lang) + " – " + new Date(p.value[2]).toLocaleDateString(lang); } },
        series: [{ type: "custom", encode: { x: [1, 2], y: 0 }, data: data,
          renderItem: function (params, api) {
            var from = api.coord([api.value(1), api.value(0)]), to = api.coord([api.value(2), api.value(0)]);
            var height = api.size([0, 1])[1] * 0.6;
            return { type: "rect", shape: { x: from[0], y: from[1] - height / 2, width: Math.max(to[0] - from[0], 2), height: height },
              style: api.style() };
          } }] };
    }
    if (kind === "stage_history") { return stages(w); }
    var horizontal = kind === "ranking";
    var line = kind === "line" || kind === "area";
    var two = kind !== "target" && w.measures.length === 2 && w.series.length === 2 &&
      w.series[1].key === w.measures[1].key;
    var series = w.series.map(function (s, i) {
      var item = { type: line ? "line" : "bar", name: s.label, data: points(s) };
      if (w.stacked) { item.stack = "all"; }
      if (kind === "area") { item.areaStyle = {}; }
      if (kind === "target" && s.key === "attainment") { return null; }
      if (two && i === 1) { item.yAxisIndex = 1; item.type = "line"; }
      if (kind === "forecast" && s.key === "pipeline") { item.type = "line"; }
      return item;
    }).filter(Boolean);
    var category = { type: "category", data: labels(w), axisLabel: { hideOverlap: true } };
    var value = valueAxis(w, two ? w.measures.slice(0, 1) : w.measures);
    var option = { legend: { type: "scroll", bottom: 0, show: series.length > 1 },
      grid: { left: 8, right: 8, top: 16, bottom: series.length > 1 ? 36 : 8, containLabel: true },
      tooltip: { trigger: "axis" },
      xAxis: horizontal ? value : category, yAxis: horizontal ? Object.assign(category, { inverse: true }) : value, series: series };
    if (two) { option.yAxis = [value, Object.assign(valueAxis(w, w.measures.slice(1)), { splitLine: { show: false } })]; }
    return option;
  }

  /* A value axis for the measures drawn on it; when each only takes whole values (a count)
     it steps by whole numbers: 0, 1, 2, never 0.5. */
  function valueAxis(w, measures) {
    var axis = { type: "value", axisLabel: axisLabel(w) };
    if (measures.length && measures.every(function (m) { return m.whole; })) { axis.minInterval = 1; }
    return axis;
  }
}());
