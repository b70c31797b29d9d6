import { failed, type RequestResult, type RunEvent } from '../records/index.js';

const BIN_MS = 100;

/** The rows the chart draws: requests per 100 ms, by zone, failures apart. Pure. */
export function timelineRows(records: readonly RequestResult[]): { t: number; series: string; requests: number }[] {
  const bins = new Map<string, number>();
  for (const record of records) {
    if (record.attempt !== 1 && !failed(record)) continue;
    const t = Math.floor(record.sentAt / BIN_MS) * (BIN_MS / 1000);
    const series = failed(record) ? 'failed' : (record.zone ?? 'unknown');
    const key = `${t.toFixed(1)}|${series}`;
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

/** Vertical marks: fault, restart, ready, and HAProxy's DOWN/UP of each server. */
export function timelineMarks(events: readonly RunEvent[]): { t: number; label: string }[] {
  const marks: { t: number; label: string }[] = [];
  for (const event of events) {
    const label = MARK_LABEL[event.kind];
    if (label) marks.push({ t: event.at / 1000, label });
    else if (event.kind === 'lb-state' && (event.detail === 'DOWN' || event.detail === 'UP') && event.at > 0) {
      marks.push({ t: event.at / 1000, label: `LB ${event.detail} ${event.target}` });
    }
  }
  // The first state HAProxy reports is where it starts, not a change.
  return marks.filter((mark, i) => !(mark.label.startsWith('LB UP') && marks.slice(0, i).every((m) => !m.label.startsWith('LB DOWN'))));
}

/** The vega-lite spec of timeline.svg. Pure. */
export function timelineSpec(records: readonly RequestResult[], events: readonly RunEvent[]): Record<string, unknown> {
  const rows = timelineRows(records);
  const zones = [...new Set(rows.map((row) => row.series).filter((s) => s !== 'failed'))].sort();
  const palette = ['#4c78a8', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#9d755d'];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 900,
    height: 260,
    title: 'Requests per 100 ms, by zone',
    layer: [
      {
        data: { values: rows },
        mark: { type: 'bar', width: { band: 1 } },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'seconds since the start', bin: { binned: true, step: BIN_MS / 1000 } },
          x2: { field: 't2' },
          y: { field: 'requests', type: 'quantitative', stack: 'zero', title: 'requests sent' },
          color: {
            field: 'series',
            type: 'nominal',
            title: 'answered by',
            scale: { domain: [...zones, 'failed'], range: [...zones.map((_, i) => palette[i % palette.length]), '#e45756'] },
          },
        },
        transform: [{ calculate: `datum.t + ${BIN_MS / 1000}`, as: 't2' }],
      },
      {
        data: { values: timelineMarks(events) },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#333' },
        encoding: { x: { field: 't', type: 'quantitative' } },
      },
      {
        data: { values: timelineMarks(events) },
        mark: { type: 'text', angle: 270, align: 'right', baseline: 'bottom', dy: -3, dx: -4, fontSize: 10 },
        encoding: { x: { field: 't', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
      },
    ],
  };
}

/** timeline.svg, drawn by vega-lite and vega (loaded only here). */
export async function renderTimelineSvg(records: readonly RequestResult[], events: readonly RunEvent[]): Promise<string> {
  const [vegaLite, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const compiled = vegaLite.compile(timelineSpec(records, events) as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
