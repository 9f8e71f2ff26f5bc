// A small line chart on <canvas>: the last N points of one or more series.
"use strict";

class LineChart {
  constructor(canvas, series, capacity = 60) {
    this.canvas = canvas;
    this.series = series; // [{label, color}]
    this.capacity = capacity;
    this.points = series.map(() => []);
    this.updates = 0; // how many times the chart was redrawn with new data
  }

  push(values) {
    values.forEach((v, i) => {
      const line = this.points[i];
      line.push(v === null || Number.isNaN(v) ? null : v);
      if (line.length > this.capacity) line.shift();
    });
    this.updates += 1;
    this.canvas.dataset.updates = String(this.updates);
    this.draw();
  }

  draw() {
    const c = this.canvas, ctx = c.getContext("2d");
    const w = c.width - 6, h = c.height, left = 44, bottom = 20, top = 16; // 6 px: the last dot
    ctx.clearRect(0, 0, w, h);
    const all = this.points.flat().filter((v) => v !== null);
    // with nothing above zero yet, a 0..1 axis instead of five rows of "0.00"
    const top_ = Math.max(0, ...all);
    const max = top_ > 0 ? top_ * 1.15 : 1;
    ctx.font = "11px sans-serif";
    ctx.strokeStyle = "#d8dee4"; ctx.fillStyle = "#607080"; ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = top + ((h - top - bottom) * i) / 4;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w, y); ctx.stroke();
      ctx.fillText(formatNumber(max * (1 - i / 4)), 2, y + 4);
    }
    const step = (w - left) / Math.max(1, this.capacity - 1);
    this.points.forEach((line, i) => {
      // a dashed second series stays visible where it runs on top of the first
      ctx.strokeStyle = this.series[i].color; ctx.lineWidth = 2; ctx.beginPath();
      ctx.setLineDash(this.series[i].dash ? [6, 4] : []);
      let started = false;
      line.forEach((v, j) => {
        if (v === null) { started = false; return; }
        const x = left + (this.capacity - line.length + j) * step;
        const y = top + (h - top - bottom) * (1 - v / max);
        if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
      });
      ctx.stroke();
      ctx.setLineDash([]);
      // a dot on every point, so a lone point between gaps is visible too
      ctx.fillStyle = this.series[i].color;
      line.forEach((v, j) => {
        if (v === null) return;
        const x = left + (this.capacity - line.length + j) * step;
        const y = top + (h - top - bottom) * (1 - v / max);
        ctx.beginPath(); ctx.arc(x, y, 2.5, 0, 2 * Math.PI); ctx.fill();
      });
      ctx.fillStyle = this.series[i].color;
      ctx.fillText(this.series[i].label, left + 8 + i * 110, h - 4);
    });
  }
}

function formatNumber(v) {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
