// The dashboard page: reads the filters, fetches the report as JSON and draws SVG charts.
// No library and no CDN: city networks may block them. Text from the server is always set
// through textContent, never parsed as HTML.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const defaultWeeks = Number(document.querySelector('meta[name="default-weeks"]').content) || 12;
  const signedIn = document.querySelector('meta[name="signed-in"]').content === "1";
  const $ = (id) => document.getElementById(id);
  let marks = [];

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function isoDate(d) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }

  function show(value, digits) {
    if (value === null || value === undefined) return "–";
    if (value === "<5") return "<5";
    return Number.isInteger(value) ? String(value) : Number(value).toFixed(digits === undefined ? 1 : digits);
  }

  function setStatus(message, isError) {
    const status = $("status");
    status.textContent = message;
    status.classList.toggle("error", Boolean(isError));
  }

  // ---------------------------------------------------------------- filters
  function currentFilters() {
    const params = new URLSearchParams();
    const period = $("period").value;
    if (period === "custom") {
      if ($("since").value) params.set("since", $("since").value);
      if ($("until").value) params.set("until", $("until").value);
    } else {
      const until = new Date();
      const since = new Date(until);
      since.setDate(since.getDate() - Number(period) * 7 + 1);
      params.set("since", isoDate(since));
      params.set("until", isoDate(until));
    }
    if ($("department").value) params.set("department", $("department").value);
    if ($("rule").value) params.set("rule", $("rule").value);
    params.set("granularity", $("granularity").value);
    return params;
  }

  function applyUrlFilters() {
    const query = new URLSearchParams(location.search);
    const period = $("period");
    period.value = String(defaultWeeks);
    if (period.value !== String(defaultWeeks)) period.value = "12";
    if (query.get("since") || query.get("until")) {
      period.value = "custom";
      $("since").value = query.get("since") || "";
      $("until").value = query.get("until") || "";
    }
    toggleCustom();
    return query;
  }

  function toggleCustom() {
    const custom = $("period").value === "custom";
    for (const label of document.querySelectorAll(".custom-dates")) label.hidden = !custom;
  }

  function fillSelect(select, values, wanted) {
    // values: strings, or {id, title} pairs
    const ids = [];
    for (const value of values) {
      const id = typeof value === "string" ? value : value.id;
      const title = typeof value === "string" ? value : value.title;
      select.append(el("option", { value: id }, title));
      ids.push(id);
    }
    if (wanted && ids.includes(wanted)) select.value = wanted;
  }

  // ---------------------------------------------------------------- charts
  function lineChart(series, buckets, markDays) {
    const width = 420;
    const height = 150;
    const left = 34;
    const right = 8;
    const top = 8;
    const bottom = 22;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    const numbers = series.values.filter((v) => typeof v === "number");
    const max = Math.max(1, ...numbers);
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": series.label });
    for (let i = 0; i <= 2; i += 1) {
      const y = top + (plotH * i) / 2;
      root.append(svg("line", { class: "grid", x1: left, x2: width - right, y1: y, y2: y }));
      const label = svg("text", { class: "axis-label", x: left - 4, y: y + 3, "text-anchor": "end" });
      label.textContent = show(max * (1 - i / 2), max < 10 ? 1 : 0);
      root.append(label);
    }
    const n = buckets.length;
    const xOf = (i) => left + (n <= 1 ? plotW / 2 : (plotW * i) / (n - 1));
    const yOf = (v) => top + plotH - (plotH * v) / max;
    // Marks: a dashed red line at the bucket holding the marked day.
    buckets.forEach((bucket, i) => {
      if (markDays.some((day) => day >= bucket.start && day <= bucket.end)) {
        root.append(svg("line", { class: "mark", x1: xOf(i), x2: xOf(i), y1: top, y2: top + plotH }));
      }
    });
    let path = "";
    series.values.forEach((value, i) => {
      if (typeof value === "number") {
        path += `${path && series.values[i - 1] !== undefined && typeof series.values[i - 1] === "number" ? "L" : "M"}${xOf(i).toFixed(1)},${yOf(value).toFixed(1)}`;
      }
    });
    if (path) root.append(svg("path", { class: "line", d: path }));
    series.values.forEach((value, i) => {
      const hidden = typeof value !== "number";
      const dot = svg("circle", {
        class: hidden ? "hidden-point" : "point",
        cx: xOf(i),
        cy: hidden ? top + plotH : yOf(value),
        r: hidden ? 2 : 3,
      });
      const title = svg("title", {});
      title.textContent = `${buckets[i].label} ${show(value)}`;
      dot.append(title);
      root.append(dot);
    });
    const step = Math.max(1, Math.ceil(n / 6));
    buckets.forEach((bucket, i) => {
      if (i % step !== 0 && i !== n - 1) return;
      const label = svg("text", { class: "axis-label", x: xOf(i), y: height - 6, "text-anchor": "middle" });
      label.textContent = bucket.label.replace("〜", "");
      root.append(label);
    });
    return root;
  }

  function drawCharts(report) {
    const holder = $("charts");
    holder.replaceChildren();
    const markDays = marks.map((m) => m.day);
    for (const series of report.series) {
      if (series.key === "rule_per_100" && !report.filter.rule) continue;
      const box = el("figure", { class: "chart", "data-series": series.key });
      box.append(el("h3", {}, series.label));
      const total = el("p", { class: "total" }, show(series.total));
      total.append(el("small", {}, series.key.endsWith("per_100") ? "期間全体" : `${series.unit}（期間合計）`));
      box.append(total);
      box.append(lineChart(series, report.buckets, markDays));
      holder.append(box);
    }
  }

  function drawRules(report) {
    const chart = $("rule-chart");
    chart.replaceChildren();
    const table = $("rule-table");
    table.replaceChildren();
    if (!report.rule_feedback.length) {
      chart.append(el("p", { class: "empty" }, "この期間にヒントの記録はありません。"));
      return;
    }
    for (const rule of report.rule_feedback) {
      const row = el("div", { class: "bar-row" });
      row.append(el("span", { title: rule.rule }, rule.title));
      const bar = svg("svg", { viewBox: "0 0 100 10", preserveAspectRatio: "none", role: "img", "aria-label": `${rule.rule} 役に立った割合` });
      bar.append(svg("rect", { class: "bar-none", x: 0, y: 0, width: 100, height: 10 }));
      if (typeof rule.helpful_ratio === "number") {
        bar.append(svg("rect", { class: rule.helpful_ratio >= 50 ? "bar-good" : "bar-bad", x: 0, y: 0, width: rule.helpful_ratio, height: 10 }));
      }
      row.append(bar);
      row.append(el("span", {}, typeof rule.helpful_ratio === "number" ? `${show(rule.helpful_ratio)}%` : show(rule.helpful_ratio)));
      chart.append(row);
    }
    const head = el("tr");
    for (const title of ["ルール", "検出", "ヒント送信", "役に立った", "違うと思う", "表示しない設定"]) head.append(el("th", {}, title));
    table.append(head);
    for (const rule of report.rule_feedback) {
      const tr = el("tr");
      for (const value of [rule.title, show(rule.hits), show(rule.nudges), show(rule.helpful), show(rule.not_helpful), show(rule.opt_outs)]) {
        tr.append(el("td", {}, value));
      }
      table.append(tr);
    }
  }

  function drawDepartments(report) {
    const table = $("department-table");
    table.replaceChildren();
    if (!report.departments.length) {
      const tr = el("tr");
      tr.append(el("td", { class: "empty" }, "この期間の記録はありません。"));
      table.append(tr);
      return;
    }
    const columns = [
      ["messages", "メッセージ"],
      ["ack_per_100", "承知等/100件"],
      ["greeting_per_100", "挨拶/100件"],
      ["phone_requests", "電話の依頼"],
      ["questions_channel", "チャネルで質問"],
      ["questions_personal", "1対1で質問"],
    ];
    const head = el("tr");
    head.append(el("th", {}, "所属"));
    for (const [, title] of columns) head.append(el("th", {}, title));
    table.append(head);
    for (const dept of report.departments) {
      const tr = el("tr");
      tr.append(el("td", {}, dept.department));
      for (const [key] of columns) tr.append(el("td", {}, show(dept[key])));
      table.append(tr);
    }
  }

  function drawComparisons(report) {
    const table = $("comparison-table");
    table.replaceChildren();
    if (!report.comparisons.length) {
      const tr = el("tr");
      tr.append(el("td", { class: "empty" }, "表示中の期間に印はありません。下のフォームで印を付けられます。"));
      table.append(tr);
      return;
    }
    const head = el("tr");
    for (const title of ["印", "指標", "前", "後"]) head.append(el("th", {}, title));
    table.append(head);
    const labels = { ack_per_100: "承知等/100件", greeting_per_100: "挨拶/100件", phone_requests: "電話の依頼", questions_channel: "チャネルで質問", questions_personal: "1対1で質問" };
    for (const comparison of report.comparisons) {
      for (const [key, title] of Object.entries(labels)) {
        const tr = el("tr");
        tr.append(el("td", {}, `${comparison.day} ${comparison.label}`));
        tr.append(el("td", {}, title));
        tr.append(el("td", {}, show(comparison.before[key])));
        tr.append(el("td", {}, show(comparison.after[key])));
        table.append(tr);
      }
    }
  }

  function drawMarks() {
    const list = $("mark-list");
    list.replaceChildren();
    for (const mark of marks) {
      const li = el("li");
      li.append(el("span", {}, `${mark.day} ${mark.label}`));
      const remove = el("button", { type: "button" }, "削除");
      remove.addEventListener("click", async () => {
        const response = await fetch(`/dashboard/api/marks/${encodeURIComponent(mark.day)}`, {
          method: "DELETE",
          headers: { "X-CSRF-Token": csrf },
          credentials: "same-origin",
        });
        if (response.ok) {
          marks = marks.filter((m) => m.day !== mark.day);
          load();
        }
      });
      li.append(remove);
      list.append(li);
    }
  }

  async function drawCampaigns() {
    const holder = $("campaigns");
    holder.replaceChildren();
    const response = await fetch("/dashboard/api/campaigns", { credentials: "same-origin" });
    const data = await response.json();
    if (!data.available || !data.campaigns.length) {
      holder.append(el("p", { class: "empty" }, data.available ? "実施中の推薦はありません。" : "推薦の状況はこのサーバーでは表示できません。"));
      return;
    }
    const table = el("table", { class: "data" });
    const head = el("tr");
    for (const title of ["年度", "WG", "提出済み所属", "進み具合", "公募の応募", "締切"]) head.append(el("th", {}, title));
    table.append(head);
    for (const row of data.campaigns) {
      const tr = el("tr");
      tr.append(el("td", {}, `${row.fiscal_year}年度${row.status === "closed" ? "（終了）" : ""}`));
      tr.append(el("td", {}, row.wg));
      tr.append(el("td", {}, `${row.submitted} / ${row.expected}`));
      const cell = el("td");
      const bar = el("span", { class: "progress", role: "img", "aria-label": `${row.submitted}/${row.expected}` });
      const fill = el("span");
      fill.style.width = `${row.expected ? Math.round((100 * row.submitted) / row.expected) : 0}%`;
      bar.append(fill);
      cell.append(bar);
      tr.append(cell);
      tr.append(el("td", {}, row.applications));
      tr.append(el("td", {}, row.deadline ? row.deadline.slice(0, 10) : "–"));
      table.append(tr);
    }
    holder.append(table);
  }

  function updateDownloads(params) {
    for (const table of ["trends", "rules", "departments"]) {
      $(`csv-${table}`).href = `/dashboard/export/${table}.csv?${params.toString()}`;
    }
  }

  // ---------------------------------------------------------------- loading
  async function load() {
    const params = currentFilters();
    updateDownloads(params);
    history.replaceState(null, "", `/dashboard?${params.toString()}`);
    setStatus("読み込み中…");
    try {
      const response = await fetch(`/dashboard/api/report?${params.toString()}`, { credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) {
        setStatus(data.error || "読み込めませんでした。", true);
        return;
      }
      drawCharts(data);
      drawRules(data);
      drawDepartments(data);
      drawComparisons(data);
      drawMarks();
      setStatus(`${data.filter.since} 〜 ${data.filter.until} を表示中`);
      document.body.dataset.loaded = String(Date.now());
    } catch (error) {
      setStatus("読み込めませんでした。ネットワークを確認してください。", true);
    }
  }

  async function init() {
    const query = applyUrlFilters();
    $("granularity").value = query.get("granularity") === "day" ? "day" : "week";
    const response = await fetch("/dashboard/api/options", { credentials: "same-origin" });
    if (response.status === 401) {
      location.href = "/dashboard/login";
      return;
    }
    const options = await response.json();
    fillSelect($("department"), options.departments, query.get("department"));
    fillSelect($("rule"), options.rules, query.get("rule"));
    marks = options.marks;
    if (!options.marks_enabled) $("mark-form").hidden = true;
    $("mark-day").value = options.today;
    $("sign-out").hidden = !signedIn;
    await Promise.all([load(), drawCampaigns()]);
  }

  $("period").addEventListener("change", toggleCustom);
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  for (const id of ["department", "rule", "granularity"]) $(id).addEventListener("change", load);
  $("mark-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/dashboard/api/marks", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      credentials: "same-origin",
      body: JSON.stringify({ day: $("mark-day").value, label: $("mark-label").value }),
    });
    const data = await response.json();
    if (!response.ok) {
      setStatus(data.error || "印を保存できませんでした。", true);
      return;
    }
    marks = marks.filter((m) => m.day !== data.day).concat([data]).sort((a, b) => (a.day < b.day ? -1 : 1));
    $("mark-label").value = "";
    load();
  });
  $("sign-out").addEventListener("click", async () => {
    await fetch("/dashboard/logout", { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
    location.href = "/dashboard/login";
  });
  init();
})();
