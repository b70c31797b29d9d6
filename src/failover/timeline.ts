import { failed, type RequestResult, type RunEvent } from '../records/index.js';
import { secondsText } from './format.js';
import type { FailoverMetrics } from './metrics.js';

const WIDTH_PX = 900;
const HEIGHT_PX = 300;
// Bars narrower than 3 px turn to hairlines: the bin grows with the run instead.
const MAX_BINS = WIDTH_PX / 3;
const BIN_CHOICES_MS = [100, 200, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];
// Labels are 12 px text (the page is printed at about three quarters of its width, and
// 10 px turned to unreadable 7 px there): about this wide per character, plus a gap.
const LABEL_FONT_PX = 12;
const CHAR_PX = 6.7;
const LANE_PX = 15;
/** A bar should hold about this many requests per zone, so a steady rate draws a flat top. */
const STEADY_PER_BAR = 10;

/** Zone colours of every chart (report and live page), in zone order; failures are `FAILED_COLOUR`. */
export const ZONE_COLOURS = ['#4c78a8', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#9d755d'];
export const FAILED_COLOUR = '#e45756';

/**
 * The bin width that keeps bars visible for a run this long (100 ms up to 30 s, 2 s for
 * 10 min) and, given the rate per zone, holds about ten requests per zone, so a steady
 * rate does not alternate between two heights (at 25 requests/s a zone's 100 ms bars hold
 * 2 or 3). Pure.
 */
export function binMsFor(durationMs: number, perZonePerSec = 0): number {
  const steadyMs = perZonePerSec > 0 ? (STEADY_PER_BAR / perZonePerSec) * 1000 : 0;
  return BIN_CHOICES_MS.find((bin) => durationMs / bin <= MAX_BINS && bin >= steadyMs) ?? BIN_CHOICES_MS.at(-1)!;
}

/** The rows the chart draws: requests per bin, by zone, failures apart. Pure. */
export function timelineRows(records: readonly RequestResult[], binMs = 100): { t: number; series: string; requests: number }[] {
  const bins = new Map<string, number>();
  for (const record of records) {
    if (record.attempt !== 1 && !failed(record)) continue;
    const t = (Math.floor(record.sentAt / binMs) * binMs) / 1000;
    const series = failed(record) ? 'failed' : (record.zone ?? 'unknown');
    const key = `${t}|${series}`;
    bins.set(key, (bins.get(key) ?? 0) + 1);
  }
  return [...bins.entries()]
    .map(([key, requests]) => {
      const [t, series] = key.split('|') as [string, string];
      return { t: Number(t), series, requests };
    })
    .sort((a, b) => a.t - b.t || a.series.localeCompare(b.series));
}

const MARK_LABEL: Partial<Record<RunEvent['kind'], string>> = { fault: 'fault', recover: 'restart', 'server-ready': 'ready' };

/** Vertical marks: fault, restart, ready, and the load balancer's DOWN/UP of each server. */
export function timelineMarks(events: readonly RunEvent[]): { t: number; label: string }[] {
  const marks: { t: number; label: string }[] = [];
  // UP is marked where a server comes back into service: its first UP… after a DOWN (with
  // several probers that can be `UP n/m`), never an `UP n/m` on its way down.
  const down = new Set<string>();
  for (const event of events) {
    const label = MARK_LABEL[event.kind];
    if (label) marks.push({ t: event.at / 1000, label });
    else if (event.kind === 'lb-state' && event.at > 0) {
      if (event.detail === 'DOWN') {
        down.add(event.target);
        marks.push({ t: event.at / 1000, label: `LB DOWN ${event.target}` });
      } else if (event.detail.startsWith('UP') && (down.has(event.target) || event.detail === 'UP')) {
        down.delete(event.target);
        marks.push({ t: event.at / 1000, label: `LB UP ${event.target}` });
      }
    }
  }
  // The first state the load balancer reports is where it starts, not a change.
  return marks.filter((mark, i) => !(mark.label.startsWith('LB UP') && marks.slice(0, i).every((m) => !m.label.startsWith('LB DOWN'))));
}

/**
 * Puts each mark's label on the first text lane (from the top) where it does not touch
 * the label before it, so labels never overlap however close their marks are. Pure.
 */
export function layoutLabels(
  marks: readonly { t: number; label: string }[],
  durationSec: number,
): { t: number; label: string; lane: number; align: 'left' | 'right' }[] {
  const pxPerSec = WIDTH_PX / Math.max(durationSec, 0.001);
  const laneEnds: number[] = [];
  return [...marks]
    .sort((a, b) => a.t - b.t)
    .map((mark) => {
      const x = mark.t * pxPerSec;
      const width = mark.label.length * CHAR_PX + 8;
      // A label that would run past the right edge is written leftwards from its mark.
      const align = x + width > WIDTH_PX ? 'right' : 'left';
      const start = align === 'left' ? x : x - width;
      let lane = laneEnds.findIndex((end) => end <= start);
      if (lane === -1) lane = laneEnds.push(0) - 1;
      laneEnds[lane] = align === 'left' ? x + width : x + 4;
      return { ...mark, lane, align };
    });
}

/** Shaded phases and the labelled reroute and return spans, from the run's events and metrics. */
export function timelineSpans(events: readonly RunEvent[], metrics: FailoverMetrics | null): { from: number; to: number; label: string; kind: 'phase' | 'span' }[] {
  const end = (events.findLast((event) => event.kind === 'phase' && event.target === 'done')?.at ?? 0) / 1000;
  const spans: { from: number; to: number; label: string; kind: 'phase' | 'span' }[] = [];
  if (!metrics || metrics.faultAt === null) return spans;
  const faultAt = metrics.faultAt / 1000;
  const restartAt = metrics.restartAt === null ? end : metrics.restartAt / 1000;
  spans.push({ from: faultAt, to: restartAt, label: 'outage', kind: 'phase' });
  if (metrics.rerouted && metrics.timeToRerouteMs !== null) {
    spans.push({ from: faultAt, to: faultAt + metrics.timeToRerouteMs / 1000, label: `reroute ${secondsText(metrics.timeToRerouteMs)}`, kind: 'span' });
  }
  if (metrics.returned && metrics.readyAt !== null && metrics.timeToReturnFromReadyMs !== null && metrics.timeToReturnFromReadyMs > 0) {
    const readyAt = metrics.readyAt / 1000;
    spans.push({ from: readyAt, to: readyAt + metrics.timeToReturnFromReadyMs / 1000, label: `return ${secondsText(metrics.timeToReturnFromReadyMs)}`, kind: 'span' });
  }
  return spans;
}

/** The vega-lite spec of timeline.svg. Pure. */
export function timelineSpec(records: readonly RequestResult[], events: readonly RunEvent[], metrics: FailoverMetrics | null = null): Record<string, unknown> {
  const lastSent = records.reduce((max, record) => Math.max(max, record.sentAt), 0);
  const durationMs = Math.max(lastSent, ...events.map((event) => event.at), 1);
  const zoneCount = Math.max(1, new Set(records.map((record) => record.zone).filter((zone) => zone !== null)).size);
  const binMs = binMsFor(durationMs, records.length / zoneCount / (durationMs / 1000));
  const rows = timelineRows(records, binMs).map((row) => ({ ...row, t2: row.t + binMs / 1000 }));
  const zones = [...new Set(rows.map((row) => row.series).filter((s) => s !== 'failed'))].sort();
  const durationSec = durationMs / 1000;
  const marks = timelineMarks(events);
  const labels = layoutLabels(marks, durationSec).map((label) => ({ ...label, y: 4 + label.lane * LANE_PX }));
  const spans = timelineSpans(events, metrics);
  const phases = spans.filter((span) => span.kind === 'phase');
  const measured = spans.filter((span) => span.kind === 'span').map((span, i) => ({ ...span, y: HEIGHT_PX - 8 - i * 16 }));
  const x = { field: 't', type: 'quantitative', title: 'seconds since the start', scale: { domain: [0, durationSec], nice: false } };
  const binLabel = binMs < 1000 ? `${binMs} ms` : `${binMs / 1000} s`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: WIDTH_PX,
    height: HEIGHT_PX,
    title: { text: `Requests per ${binLabel}, by the zone that answered (failures in red)`, fontSize: LABEL_FONT_PX + 2 },
    config: { axis: { labelFontSize: LABEL_FONT_PX - 1, titleFontSize: LABEL_FONT_PX } },
    layer: [
      {
        data: { values: rows },
        mark: { type: 'bar' },
        encoding: {
          x: { ...x, bin: { binned: true, step: binMs / 1000 } },
          x2: { field: 't2' },
          y: { field: 'requests', type: 'quantitative', stack: 'zero', title: `requests sent per ${binLabel}` },
          color: {
            field: 'series',
            type: 'nominal',
            title: 'answered by',
            // Above the chart rather than beside it: the picture stays 900 px wide, and prints larger.
            legend: { orient: 'top', direction: 'horizontal', labelFontSize: LABEL_FONT_PX, titleFontSize: LABEL_FONT_PX },
            scale: { domain: [...zones, 'failed'], range: [...zones.map((_, i) => ZONE_COLOURS[i % ZONE_COLOURS.length]), FAILED_COLOUR] },
          },
        },
      },
      {
        // The outage shaded over the bars, so it shows however full they are.
        data: { values: phases },
        mark: { type: 'rect', color: '#000', opacity: 0.08 },
        encoding: { x: { ...x, field: 'from' }, x2: { field: 'to' } },
      },
      {
        data: { values: marks },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#333' },
        encoding: { x: { ...x } },
      },
      {
        data: { values: labels.filter((label) => label.align === 'left') },
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, fontSize: LABEL_FONT_PX },
        encoding: { x: { ...x }, y: { field: 'y', type: 'quantitative', scale: null }, text: { field: 'label' } },
      },
      {
        data: { values: labels.filter((label) => label.align === 'right') },
        mark: { type: 'text', align: 'right', baseline: 'top', dx: -3, fontSize: LABEL_FONT_PX },
        encoding: { x: { ...x }, y: { field: 'y', type: 'quantitative', scale: null }, text: { field: 'label' } },
      },
      {
        data: { values: measured },
        mark: { type: 'rule', strokeWidth: 3, color: '#222' },
        encoding: { x: { ...x, field: 'from' }, x2: { field: 'to' }, y: { field: 'y', type: 'quantitative', scale: null } },
      },
      {
        data: { values: measured },
        mark: { type: 'text', align: 'left', baseline: 'bottom', dy: -3, fontSize: LABEL_FONT_PX + 1, fontWeight: 'bold' },
        encoding: { x: { ...x, field: 'from' }, y: { field: 'y', type: 'quantitative', scale: null }, text: { field: 'label' } },
      },
    ],
  };
}

/** timeline.svg, drawn by vega-lite and vega (loaded only here). */
export async function renderTimelineSvg(records: readonly RequestResult[], events: readonly RunEvent[], metrics: FailoverMetrics | null = null): Promise<string> {
  const [vegaLite, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const compiled = vegaLite.compile(timelineSpec(records, events, metrics) as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
