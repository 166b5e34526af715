// The dashboard's charts: reads the page's JSON data block and draws each [data-chart] element
// with uPlot (loaded before this module as /dashboard/static/vendor/uPlot.iife.min.js). No build
// step, no inline script: the page's CSP allows only files from this origin.
const uPlot = globalThis.uPlot;
const data = JSON.parse(document.getElementById("dashboard-data").textContent);

const COLORS = {
  mrr: "#1e5aa8",
  new: "#2e7d32",
  expansion: "#81c784",
  reactivation: "#1e88e5",
  contraction: "#fb8c00",
  churned: "#e53935",
  customers: "#1e5aa8",
  churn: "#e53935",
  starts: "#90a4ae",
  conversions: "#2e7d32",
  rate: "#6a1b9a",
  band: "rgba(30, 90, 168, 0.15)",
};

/** Integer cents as dollars, exactly as the page's server-rendered figures are written. */
function money(cents) {
  if (cents === null || cents === undefined) return "--";
  const abs = Math.abs(cents);
  const body = `${Math.trunc(abs / 100).toLocaleString("en-US")}.${String(abs % 100).padStart(2, "0")}`;
  const sign = cents < 0 ? "-" : "";
  return data.currency === "usd" ? `${sign}$${body}` : `${sign}${body} ${data.currency.toUpperCase()}`;
}

/** Axis labels: whole dollars, shortened. */
function axisMoney(cents) {
  const d = cents / 100;
  const abs = Math.abs(d);
  const s = abs >= 1e6 ? `${(abs / 1e6).toFixed(1)}M` : abs >= 1e3 ? `${(abs / 1e3).toFixed(abs >= 1e4 ? 0 : 1)}k` : abs.toFixed(0);
  return `${d < 0 ? "-" : ""}${data.currency === "usd" ? "$" : ""}${s}`;
}

const percent = (r) => (r === null || r === undefined ? "--" : `${(Math.round(r * 1000) / 10).toFixed(1)} %`);

function size(el) {
  return { width: Math.max(320, el.clientWidth), height: 240 };
}

/** `2026-11` as `Nov 26`: short enough for a year of months side by side. */
function shortPeriod(p) {
  const m = /^(\d{4})-(\d{2})$/.exec(p);
  if (!m) return p;
  const name = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)).toLocaleString("en-US", { month: "short", timeZone: "UTC" });
  return `${name} ${m[1].slice(2)}`;
}

/**
 * An x axis of period labels over indices 0..n-1 (uPlot's own time axis would want seconds),
 * thinned to every 2nd or 3rd label when they would not fit the width.
 */
function periodAxis(labels, width = 600) {
  const step = Math.max(1, Math.ceil((labels.length * 58) / Math.max(1, width - 120)));
  return {
    splits: () => labels.map((_, i) => i),
    values: (_u, splits) => splits.map((i) => (i % step === 0 ? shortPeriod(labels[i] ?? "") : "")),
  };
}

const xScale = (n) => ({ time: false, range: () => [-0.6, Math.max(n, 1) - 0.4] });

function bars(widthFactor = 0.6) {
  return uPlot.paths.bars({ size: [widthFactor, 48], align: 0 });
}

const charts = {
  mrr(el) {
    const x = data.periods.map((_, i) => i);
    return new uPlot(
      {
        ...size(el),
        scales: { x: xScale(x.length) },
        axes: [periodAxis(data.periods, el.clientWidth), { values: (_u, v) => v.map(axisMoney), size: 64 }],
        series: [
          { label: "Month", value: (_u, i) => data.periods[i] ?? "--" },
          { label: "MRR", stroke: COLORS.mrr, width: 2, fill: "rgba(30, 90, 168, 0.08)", value: (_u, v) => money(v), points: { show: true, size: 5 } },
        ],
      },
      [x, data.mrr],
      el,
    );
  },

  movements(el) {
    const m = data.movements;
    const x = data.periods.map((_, i) => i);
    // Stacked bars from uPlot's overlapping ones: each bar is drawn as the running sum, tallest
    // first, so each movement shows as its own slice; the legend shows the movement itself.
    const sum = (...cols) => x.map((i) => cols.reduce((a, c) => a + (c[i] ?? 0), 0));
    const stacks = [
      ["Reactivation", COLORS.reactivation, sum(m.new, m.expansion, m.reactivation), m.reactivation],
      ["Expansion", COLORS.expansion, sum(m.new, m.expansion), m.expansion],
      ["New", COLORS.new, sum(m.new), m.new],
      ["Churn", COLORS.churned, sum(m.contraction, m.churned), m.churned],
      ["Contraction", COLORS.contraction, sum(m.contraction), m.contraction],
    ];
    return new uPlot(
      {
        ...size(el),
        scales: { x: xScale(x.length) },
        axes: [periodAxis(data.periods, el.clientWidth), { values: (_u, v) => v.map(axisMoney), size: 64 }],
        series: [
          { label: "Month", value: (_u, i) => data.periods[i] ?? "--" },
          ...stacks.map(([label, color, , raw]) => ({
            label,
            stroke: color,
            fill: color,
            width: 0,
            paths: bars(),
            points: { show: false },
            value: (_u, _v, _s, i) => (i === null ? "--" : money(raw[i])),
          })),
        ],
      },
      [x, ...stacks.map((s) => s[2])],
      el,
    );
  },

  customers(el) {
    const x = data.periods.map((_, i) => i);
    return new uPlot(
      {
        ...size(el),
        scales: { x: xScale(x.length), rate: { range: (_u, _min, max) => [0, Math.max(0.1, max ?? 0)] } },
        axes: [
          periodAxis(data.periods, el.clientWidth),
          { scale: "y", size: 48 },
          { scale: "rate", side: 1, grid: { show: false }, values: (_u, v) => v.map((r) => `${Math.round(r * 100)}%`), size: 48 },
        ],
        series: [
          { label: "Month", value: (_u, i) => data.periods[i] ?? "--" },
          { label: "Paying customers", stroke: COLORS.customers, width: 2, points: { show: true, size: 5 } },
          { label: "Churned customers", stroke: COLORS.churn, fill: "rgba(229, 57, 53, 0.35)", width: 0, paths: bars(0.4), points: { show: false } },
          { label: "Logo churn", scale: "rate", stroke: COLORS.churn, width: 1.5, dash: [6, 4], value: (_u, v) => percent(v) },
        ],
      },
      [x, data.customers, data.churned_customers, data.logo_churn_rate],
      el,
    );
  },

  trials(el) {
    const x = data.periods.map((_, i) => i);
    return new uPlot(
      {
        ...size(el),
        scales: { x: xScale(x.length), rate: { range: () => [0, 1] } },
        axes: [
          periodAxis(data.periods, el.clientWidth),
          { scale: "y", size: 48 },
          { scale: "rate", side: 1, grid: { show: false }, values: (_u, v) => v.map((r) => `${Math.round(r * 100)}%`), size: 48 },
        ],
        series: [
          { label: "Start month", value: (_u, i) => data.periods[i] ?? "--" },
          { label: "Trials started", stroke: COLORS.starts, fill: COLORS.starts, width: 0, paths: bars(0.6), points: { show: false } },
          { label: "Converted", stroke: COLORS.conversions, fill: COLORS.conversions, width: 0, paths: bars(0.35), points: { show: false } },
          { label: "Conversion rate", scale: "rate", stroke: COLORS.rate, width: 2, value: (_u, v) => percent(v), points: { show: true, size: 5 } },
        ],
      },
      [x, data.trial_starts, data.trial_conversions, data.trial_conversion_rate],
      el,
    );
  },

  forecast(el) {
    const f = data.forecast;
    const labels = f.map((p) => p.period);
    const x = labels.map((_, i) => i);
    return new uPlot(
      {
        ...size(el),
        scales: { x: xScale(x.length) },
        axes: [periodAxis(labels, el.clientWidth), { values: (_u, v) => v.map(axisMoney), size: 64 }],
        series: [
          { label: "Month", value: (_u, i) => labels[i] ?? "--" },
          { label: "Forecast MRR", stroke: COLORS.mrr, width: 2, value: (_u, v) => money(v) },
          { label: "Low", stroke: "rgba(30, 90, 168, 0.4)", width: 1, value: (_u, v) => money(v) },
          { label: "High", stroke: "rgba(30, 90, 168, 0.4)", width: 1, value: (_u, v) => money(v) },
        ],
        bands: [{ series: [3, 2], fill: COLORS.band }],
      },
      [x, f.map((p) => p.mrr), f.map((p) => p.low), f.map((p) => p.high)],
      el,
    );
  },

  funnel(el) {
    const steps = data.funnel;
    const labels = steps.map((s) => s.stage.replace(/^dunning_/, "").replace("_", " "));
    const x = labels.map((_, i) => i);
    return new uPlot(
      {
        ...size(el),
        scales: { x: xScale(x.length) },
        axes: [periodAxis(labels, el.clientWidth), { size: 48 }],
        series: [
          { label: "Stage", value: (_u, i) => labels[i] ?? "--" },
          { label: "Cases reaching it", stroke: COLORS.starts, fill: COLORS.starts, width: 0, paths: bars(0.6), points: { show: false } },
          { label: "Recovered", stroke: COLORS.conversions, fill: COLORS.conversions, width: 0, paths: bars(0.35), points: { show: false } },
        ],
      },
      [x, steps.map((s) => s.reached), steps.map((s) => s.recovered)],
      el,
    );
  },

  /** uPlot draws no heatmap: cohorts × months on a plain canvas, darker for more retained. */
  cohorts(el) {
    const rows = data.cohorts;
    const canvas = document.createElement("canvas");
    el.append(canvas);
    const cols = Math.max(1, ...rows.map((r) => r.retention.length));
    const label = 140;
    const cellH = 24;
    const width = Math.max(320, el.clientWidth);
    const cellW = (width - label) / cols;
    const height = cellH * (rows.length + 1) + 4;
    const dpr = globalThis.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext("2d");
    ctx.scale(dpr, dpr);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillStyle = "#5b6475";
    ctx.fillText("cohort (customers)", 4, cellH / 2);
    for (let k = 0; k < cols; k++) ctx.fillText(`+${k}`, label + k * cellW + 4, cellH / 2);
    if (rows.length === 0) {
      ctx.fillText("No paying cohorts in this range yet.", label, cellH * 1.5);
      return canvas;
    }
    rows.forEach((r, i) => {
      const y = cellH * (i + 1);
      ctx.fillStyle = "#1d2330";
      ctx.fillText(`${r.cohort} (${r.customers})`, 4, y + cellH / 2);
      r.retention.forEach((v, k) => {
        const x = label + k * cellW;
        ctx.fillStyle = `rgba(30, 90, 168, ${0.08 + 0.85 * Math.max(0, Math.min(1, v))})`;
        ctx.fillRect(x + 1, y + 1, cellW - 2, cellH - 2);
        ctx.fillStyle = v > 0.55 ? "#fff" : "#1d2330";
        if (cellW > 34) ctx.fillText(`${Math.round(v * 100)}%`, x + 4, y + cellH / 2);
      });
    });
    return canvas;
  },
};

const drawn = [];
for (const el of document.querySelectorAll("[data-chart]")) {
  const draw = charts[el.dataset.chart];
  if (!draw) continue;
  drawn.push([el, draw(el)]);
  el.dataset.drawn = "true";
}

// uPlot sizes in pixels: follow the layout when the window changes.
let pending = 0;
addEventListener("resize", () => {
  cancelAnimationFrame(pending);
  pending = requestAnimationFrame(() => {
    for (const [el, chart] of drawn) if (chart instanceof uPlot) chart.setSize(size(el));
  });
});
