/**
 * The live page: one HTML file, one stylesheet and one script, all served by zonelab
 * (vega from the installed package). The script is plain browser JavaScript kept here as
 * text: it is small, has no build step, and the browser tests run it for real.
 */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page's HTML. Everything it shows arrives over /events. Pure. */
export function renderLivePage(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/page.css">
<script src="/assets/vega.min.js" defer></script>
<script type="module" src="/app.js"></script>
</head>
<body>
<header>
  <h1 id="title">${escapeHtml(title)}</h1>
  <p id="connection" class="connection">connecting…</p>
</header>
<section id="run" class="run">
  <p id="phase" class="phase"></p>
  <dl id="measures"></dl>
</section>
<figure id="chart-box"><div id="chart"></div>
<figcaption id="chart-caption">Requests per second by the zone that answered; failures in red.</figcaption></figure>
<section>
  <h2>Backends</h2>
  <table id="backends"><thead><tr><th>zone</th><th>backend</th><th>load balancer</th><th>process</th><th class="control-column">actions</th></tr></thead><tbody></tbody></table>
  <p id="control-note" class="note"></p>
  <p id="action-result" class="note" role="status"></p>
</section>
<section>
  <h2>Marks</h2>
  <ol id="marks" reversed></ol>
</section>
<section id="done" hidden>
  <h2>Result</h2>
  <pre id="done-lines"></pre>
  <iframe id="report" title="the final report"></iframe>
</section>
</body>
</html>
`;
}

export const LIVE_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; margin: 0; } h2 { font-size: 1.1em; margin: 1.2em 0 0.4em; }
header { display: flex; align-items: baseline; justify-content: space-between; gap: 1em; }
.connection { color: #777; margin: 0; } .connection.lost { color: #b00; font-weight: bold; }
.run { display: flex; gap: 2em; align-items: baseline; flex-wrap: wrap; }
.phase { font-size: 1.2em; font-weight: bold; margin: 0.6em 0; }
dl { display: flex; flex-wrap: wrap; gap: 0.3em 1.5em; margin: 0; } dl div { display: flex; gap: 0.4em; }
dt { color: #666; } dd { margin: 0; font-weight: bold; font-variant-numeric: tabular-nums; }
figure { margin: 0.5em 0; } #chart { width: 100%; min-height: 300px; } figcaption { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #ddd; vertical-align: top; }
td.state-serving { color: #1a7f37; } td.state-failing, td.state-coming-back { color: #9a6700; } td.state-down, td.state-unknown { color: #b00; font-weight: bold; }
.command { display: block; font: 12px ui-monospace, monospace; color: #555; margin-top: 0.2em; }
button { margin-right: 0.3em; } select { margin-right: 0.3em; }
.note { color: #555; } .error { color: #b00; }
#marks { font-variant-numeric: tabular-nums; max-height: 14em; overflow: auto; }
#report { width: 100%; height: 1200px; border: 1px solid #ddd; }
body.lab-view #run { display: none; } body.failover-view .control-column { display: none; }
`;

export const LIVE_SCRIPT = String.raw`
import { expressionInterpreter } from '/assets/vega-interpreter.js';

const token = new URLSearchParams(location.search).get('token');
const $ = (id) => document.getElementById(id);
let view = null;
let model = null;
let pending = { bins: [], now: 0 };
let markCount = 0;

function text(tag, content, className) {
  const element = document.createElement(tag);
  element.textContent = content;
  if (className) element.className = className;
  return element;
}

// Bar width in seconds for a chart this many seconds wide: about 300 bars at most, and
// wide enough that a zone's bar holds some ten requests, so a steady rate draws a flat top
// (at 50 requests/s over two zones, 0.1 s bars alternate 2 and 3 requests: 20 and 30/s).
function binSecFor(span, ratePerSec) {
  const choices = [0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
  const zones = Math.max(1, model.series.length - 1);
  // Never wider than a second for the rate's sake: a dip must stay visible.
  const steady = ratePerSec > 0 ? Math.min(1, (10 * zones) / ratePerSec) : 0;
  return choices.find((bin) => span / bin <= 300 && bin >= steady) ?? 60;
}

// Requests per second over the last ten seconds of bins (0 before there is a second of them):
// the rate now, not the page's lifetime average (a lab page open for an hour before a run).
const RECENT_SEC = 10;
let recent = [];
function countBins(bins) {
  for (const bin of bins) recent.push({ t: bin.t, n: bin.n });
  recent = recent.filter((bin) => bin.t >= model.now - RECENT_SEC);
}
function rateSoFar() {
  if (recent.length === 0) return 0;
  const span = model.now - Math.min(...recent.map((bin) => bin.t));
  return span >= 1 ? recent.reduce((sum, bin) => sum + bin.n, 0) / span : 0;
}

function xWindow(now) {
  // The whole run, or for a lab the last windowSec seconds once it is older than that.
  const from = model.windowSec === null ? 0 : Math.max(0, now - model.windowSec);
  return [from, Math.max(now, from + 10)];
}

// Labels on the first lane where they do not touch the label before them; a label that
// would run past the right edge is drawn to the left of its line instead, so none is cut.
function laidOutMarks(marks, xmin, xmax) {
  const plotWidth = Math.max(($('chart').clientWidth || 900) - 80, 200);
  const pxPerSec = plotWidth / Math.max(xmax - xmin, 0.001);
  const laneEnds = [];
  return marks.map((mark) => {
    const x = (mark.t - xmin) * pxPerSec;
    const width = mark.label.length * 6.2 + 10;
    const align = x + width > plotWidth ? 'right' : 'left';
    const [from, to] = align === 'left' ? [x, x + width] : [x - width, x];
    let lane = laneEnds.findIndex((end) => end <= from);
    if (lane === -1) lane = laneEnds.push(0) - 1;
    laneEnds[lane] = to;
    return { ...mark, y: 4 + (lane % 6) * 14, align };
  });
}

async function buildChart(spec) {
  view?.finalize();
  const runtime = vega.parse(spec, null, { ast: true });
  view = new vega.View(runtime, { expr: expressionInterpreter, renderer: 'canvas', container: '#chart', hover: false });
  await view.runAsync();
}

function redrawMarks() {
  if (!view) return;
  const [xmin, xmax] = xWindow(model.now);
  view.data('marks', laidOutMarks(model.marks, xmin, xmax));
}

function phasesWithEnds() {
  return model.phases.map((phase) => ({ ...phase, t1: phase.t1 ?? model.now }));
}

let drawing = false;
// At most one redraw in flight; bins that arrive meanwhile go into the next one.
async function redraw() {
  if (!view || drawing) return;
  drawing = true;
  try {
    const bins = pending.bins;
    pending.bins = [];
    const [xmin, xmax] = xWindow(model.now);
    const changes = vega.changeset().insert(bins);
    if (model.windowSec !== null) changes.remove((bin) => bin.t < xmin - 1);
    view.change('bins', changes);
    countBins(bins);
    view.signal('xmin', xmin).signal('xmax', xmax).signal('binSec', binSecFor(xmax - xmin, rateSoFar()));
    if (model.phases.length) view.data('phases', phasesWithEnds());
    // The window grows with the run: where a label fits changes with it.
    if (model.marks.length) view.data('marks', laidOutMarks(model.marks, xmin, xmax));
    const marks = model.marks.length;
    await view.runAsync();
    // For whoever waits on the drawing (the browser tests): every mark so far is on the
    // chart, and how high its requests-per-second axis reaches.
    document.body.dataset.drawnMarks = String(marks);
    document.body.dataset.rateAxisMax = String(view.scale('y')?.domain()?.[1] ?? '');
  } finally {
    drawing = false;
  }
}

function renderMeasures() {
  $('phase').textContent = model.status.phase ? 'Phase: ' + model.status.phase : '';
  const list = $('measures');
  list.replaceChildren(...model.status.measures.map(({ label, value }) => {
    const row = document.createElement('div');
    row.append(text('dt', label), text('dd', value));
    return row;
  }));
}

function commandFor(action, zone, fault) {
  return model.controls.command + (action === 'fault' ? ' fault ' + zone + ' ' + fault : ' heal ' + zone);
}

async function act(action, zone, fault) {
  const result = $('action-result');
  result.className = 'note';
  result.textContent = commandFor(action, zone, fault) + ' …';
  try {
    const response = await fetch('/control/' + action, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-zonelab-token': token ?? '' },
      body: JSON.stringify({ zone, fault }),
    });
    const answer = await response.json();
    result.textContent = answer.message ?? answer.error;
    if (!response.ok) result.className = 'note error';
  } catch (error) {
    result.className = 'note error';
    result.textContent = 'no answer from zonelab: ' + error.message;
  }
}

function controlsCell(zone, rowIndexInZone) {
  const cell = document.createElement('td');
  cell.className = 'control-column';
  if (!model.controls || rowIndexInZone > 0) return cell;
  const select = document.createElement('select');
  select.setAttribute('aria-label', 'fault for ' + zone);
  select.dataset.zone = zone;
  for (const fault of model.controls.faults) select.append(new Option(fault, fault));
  const stop = text('button', 'Stop zone');
  stop.dataset.action = 'fault';
  stop.dataset.zone = zone;
  const start = text('button', 'Start zone');
  start.dataset.action = 'heal';
  start.dataset.zone = zone;
  const command = text('code', '', 'command');
  const describe = () => { command.textContent = commandFor('fault', zone, select.value) + '   |   ' + commandFor('heal', zone); };
  select.addEventListener('change', describe);
  describe();
  stop.addEventListener('click', () => act('fault', zone, select.value));
  start.addEventListener('click', () => act('heal', zone));
  for (const button of [stop, start]) button.disabled = !token;
  cell.append(select, stop, start, command);
  return cell;
}

function renderBackends() {
  const seen = new Map();
  const rows = model.backends.map((backend) => {
    const index = seen.get(backend.zone) ?? 0;
    seen.set(backend.zone, index + 1);
    const row = document.createElement('tr');
    row.dataset.zone = backend.zone;
    row.dataset.state = backend.state;
    row.append(text('td', backend.zone), text('td', backend.name), text('td', backend.words, 'state-' + backend.state), text('td', backend.process), controlsCell(backend.zone, index));
    return row;
  });
  $('backends').tBodies[0].replaceChildren(...rows);
}

function addMarkItem(mark) {
  const item = text('li', mark.t.toFixed(1) + ' s  ' + mark.label);
  item.dataset.kind = mark.kind;
  $('marks').prepend(item);
  markCount += 1;
}

function showDone(done) {
  $('done').hidden = false;
  $('done-lines').textContent = done.lines.join('\n');
  if (done.reportHtml) $('report').srcdoc = done.reportHtml;
  $('connection').textContent = 'run finished';
  $('phase').textContent = 'Phase: done';
}

async function onSnapshot(snapshot) {
  model = snapshot;
  document.title = snapshot.title;
  document.body.className = snapshot.view + '-view';
  $('title').textContent = snapshot.title;
  $('chart-caption').textContent = snapshot.view === 'failover'
    ? 'Requests per second of the run’s own client, each counted when it was due to be sent (as the report counts it), by the zone that answered; failures in red; the shading shows the phases.'
    : 'Requests per second the load balancer completed, by zone, as it counts them; failures in red.';
  if (snapshot.controls) {
    $('control-note').textContent = token
      ? 'The buttons run the commands shown under them. Anyone with this page’s address (it carries a secret token) can use them.'
      : 'Read-only: open the address zonelab printed (it carries the token the buttons need).';
  }
  $('marks').replaceChildren();
  markCount = 0;
  for (const mark of snapshot.marks) addMarkItem(mark);
  renderBackends();
  renderMeasures();
  pending = { bins: [...snapshot.bins], now: snapshot.now };
  recent = [];
  const spec = await (await fetch('/chart.json')).json();
  await buildChart(spec);
  redrawMarks();
  await redraw();
  if (snapshot.done) showDone(snapshot.done);
  document.body.dataset.ready = 'true';
}

function onMessage(message) {
  if (message.type === 'snapshot') return onSnapshot(message);
  if (!model) return;
  switch (message.type) {
    case 'bins':
      model.now = message.now;
      pending.bins.push(...message.bins);
      break;
    case 'backends':
      model.backends = message.backends;
      renderBackends();
      break;
    case 'mark':
      model.marks.push(message.mark);
      addMarkItem(message.mark);
      redrawMarks();
      break;
    case 'phases':
      model.phases = message.phases;
      break;
    case 'status':
      model.status = message.status;
      renderMeasures();
      break;
    case 'done':
      model.done = message.done;
      showDone(message.done);
      break;
  }
}

const events = new EventSource('/events');
events.onopen = () => { $('connection').className = 'connection'; $('connection').textContent = 'live'; };
events.onerror = () => {
  if (model?.done) { events.close(); return; }
  $('connection').className = 'connection lost';
  $('connection').textContent = 'connection lost: is zonelab still running?';
};
let queue = Promise.resolve();
// One message that fails to show must not stop the ones after it: it is reported, and the
// queue goes on.
const report = (error) => console.error('zonelab live page: ' + (error?.stack ?? error));
events.onmessage = (event) => {
  const message = JSON.parse(event.data);
  // The run is over: close the stream now, not once the queue reaches this message, or the
  // server's end of the stream comes first and the browser reconnects to a closed port.
  if (message.type === 'done' || message.done) events.close();
  queue = queue.then(() => onMessage(message)).catch(report);
};
// Four redraws a second: smooth enough to watch, cheap enough to leave the run alone.
setInterval(() => { queue = queue.then(redraw).catch(report); }, 250);
`;
