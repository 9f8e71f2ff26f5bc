// Prometheus text exposition -> samples, and the rates and quantiles the overview shows.
"use strict";

function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      for (const pair of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[pair[1]] = pair[2];
      }
    }
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

function sumOf(samples, name, filter) {
  let total = 0;
  for (const s of samples) {
    if (s.name === name && (!filter || filter(s.labels))) total += s.value;
  }
  return total;
}

// Cumulative histogram buckets (le -> count) summed over the label sets that pass filter.
function buckets(samples, name, filter) {
  const byLe = new Map();
  for (const s of samples) {
    if (s.name !== name + "_bucket" || (filter && !filter(s.labels))) continue;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) || 0) + s.value);
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]);
}

// The q-quantile of the observations between two scrapes (bucket deltas), linear within a
// bucket as Prometheus' histogram_quantile does; null when nothing was observed.
function quantileBetween(before, after, q) {
  const prev = new Map(before);
  const deltas = after.map(([le, c]) => [le, c - (prev.get(le) || 0)]);
  const total = deltas.length ? deltas[deltas.length - 1][1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0, below = 0;
  for (const [le, count] of deltas) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      const inBucket = count - below;
      return inBucket > 0 ? lower + (le - lower) * ((rank - below) / inBucket) : le;
    }
    lower = le; below = count;
  }
  return lower;
}
