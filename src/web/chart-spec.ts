import { FAILED_COLOUR, ZONE_COLOURS } from '../failover/index.js';

/** The phases a failover run goes through, each with its own shading. */
export const PHASE_NAMES = ['warm-up', 'outage', 'return'] as const;
const PHASE_COLOURS = ['#9ecae1', '#fdae6b', '#a1d99b'] as const;

/** The names of the data sets and signals the page changes as messages arrive. */
export const CHART_DATA = { bins: 'bins', marks: 'marks', phases: 'phases' } as const;
export const CHART_SIGNALS = { binSec: 'binSec', xmin: 'xmin', xmax: 'xmax' } as const;

/**
 * The live chart as a vega-lite spec. It streams: the page inserts closed bins into the
 * `bins` data set and moves the x window with the `xmin`/`xmax` signals. Bins arrive at the
 * feed's width (100 ms) and are summed into `binSec`-wide bars, which the page widens as
 * the run grows so bars never turn to hairlines; heights are rates (requests per second),
 * so they read the same at any width. Pure.
 */
export function liveChartSpec(zones: readonly string[], options: { phases?: boolean } = {}): Record<string, unknown> {
  const phases = options.phases ?? true;
  const x = {
    type: 'quantitative',
    title: 'seconds',
    scale: { domain: [{ expr: CHART_SIGNALS.xmin }, { expr: CHART_SIGNALS.xmax }], nice: false, zero: false },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 'container',
    height: 280,
    autosize: { type: 'fit-x', contains: 'padding' },
    params: [
      { name: CHART_SIGNALS.binSec, value: 0.1 },
      { name: CHART_SIGNALS.xmin, value: 0 },
      { name: CHART_SIGNALS.xmax, value: 10 },
    ],
    layer: [
      {
        data: { name: CHART_DATA.phases },
        mark: { type: 'rect', opacity: 0.1, clip: true },
        encoding: {
          x: { ...x, field: 't0' },
          x2: { field: 't1' },
          // A fixed colour per phase, so a phase keeps its colour as the next ones appear.
          color: {
            field: 'name',
            type: 'nominal',
            title: 'phase',
            scale: { domain: [...PHASE_NAMES], range: [...PHASE_COLOURS] },
            legend: phases ? { orient: 'top', direction: 'horizontal', symbolType: 'square', symbolOpacity: 0.35 } : null,
          },
        },
      },
      {
        data: { name: CHART_DATA.bins },
        transform: [
          { calculate: `floor(datum.t / ${CHART_SIGNALS.binSec} + 1e-6) * ${CHART_SIGNALS.binSec}`, as: 'b0' },
          { aggregate: [{ op: 'sum', field: 'n', as: 'n' }], groupby: ['b0', 'series'] },
          { calculate: `datum.b0 + ${CHART_SIGNALS.binSec}`, as: 'b1' },
          { calculate: `datum.n / ${CHART_SIGNALS.binSec}`, as: 'rate' },
          // Stacked here, not by the encoding: vega-lite does not stack bars whose x is a range.
          { calculate: `indexof(${JSON.stringify([...zones, 'failed'])}, datum.series)`, as: 'order' },
          { stack: 'rate', groupby: ['b0'], sort: [{ field: 'order', order: 'ascending' }], as: ['y0', 'y1'] },
        ],
        mark: { type: 'bar', clip: true },
        encoding: {
          x: { ...x, field: 'b0' },
          x2: { field: 'b1' },
          y: { field: 'y1', type: 'quantitative', title: 'requests per second', scale: { zero: true } },
          y2: { field: 'y0' },
          color: {
            field: 'series',
            type: 'nominal',
            title: null,
            scale: { domain: [...zones, 'failed'], range: [...zones.map((_, i) => ZONE_COLOURS[i % ZONE_COLOURS.length]), FAILED_COLOUR] },
            legend: { orient: 'top', direction: 'horizontal' },
          },
        },
      },
      {
        data: { name: CHART_DATA.marks },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#333', clip: true },
        encoding: { x: { ...x, field: 't' } },
      },
      {
        data: { name: CHART_DATA.marks },
        // The page says on which side of its line each label fits (`align`), so none is cut at the right edge.
        mark: { type: 'text', align: { expr: "datum.align === 'right' ? 'right' : 'left'" }, dx: { expr: "datum.align === 'right' ? -3 : 3" }, baseline: 'top', fontSize: 11, clip: true },
        encoding: {
          x: { ...x, field: 't' },
          y: { field: 'y', type: 'quantitative', scale: null },
          text: { field: 'label' },
        },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  };
}

/** The same, compiled to a vega spec (the page loads vega alone). */
export async function compiledLiveChart(zones: readonly string[], options: { phases?: boolean } = {}): Promise<unknown> {
  const vegaLite = await import('vega-lite');
  const { $schema: _schema, ...spec } = vegaLite.compile(liveChartSpec(zones, options) as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  // The schema's address is a name, not a fetch; left out so the page names no other host.
  return spec;
}
