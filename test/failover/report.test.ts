import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goldenDir, matchesGolden } from '../helpers/golden.js';
import { describe, it } from 'node:test';
import {
  computeFailoverMetrics,
  renderAnswers,
  renderNotes,
  renderReportHtml,
  renderReportMarkdown,
  renderWarnings,
  binMsFor,
  layoutLabels,
  renderTimelineSvg,
  rerenderReport,
  resultLines,
  timelineMarks,
  timelineSpans,
} from '../../src/failover/index.js';
import { events, records, setup } from './fixture-run.js';

// The client's lines show local wall-clock time: pin the zone so the golden file holds.
process.env.TZ = 'UTC';

// Golden files live beside the test's source; UPDATE_GOLDEN=1 rewrites them.
const GOLDEN = goldenDir('failover');

const golden = (name: string, actual: string) => matchesGolden(GOLDEN, name, actual);

describe('failover report (fixture run)', () => {
  const metrics = computeFailoverMetrics(records, events, { zone: 'us-east1-c', instances: ['us-east1-c-vm1'], holdMs: setup.holdMs });

  it('computes the fixture’s numbers', () => {
    assert.equal(metrics.timeToRerouteMs, 1490);
    assert.equal(metrics.errors.count, 75);
    assert.equal(metrics.timeToReturnMs, 1010);
    assert.equal(metrics.lb.downAfterFaultMs, 1500);
  });

  it('renders report.md as its golden file', async () => {
    await golden('report.md', renderReportMarkdown(setup, metrics, records));
  });

  it('has no warning for a run within its bounds, and warns of what a reader must not miss', () => {
    assert.deepEqual(renderWarnings(setup, metrics), []);
    // Interrupted after the fault, before the reroute: only the interruption is a warning.
    const cut = events.filter((e) => e.at <= 2500).concat({ at: 2500, kind: 'phase', target: 'done', detail: 'interrupted' });
    const interrupted = computeFailoverMetrics(records.filter((r) => r.sentAt < 2500), cut, { zone: 'us-east1-c', instances: ['us-east1-c-vm1'], holdMs: setup.holdMs });
    assert.deepEqual(renderWarnings(setup, interrupted), [
      'The run was interrupted: the numbers cover only what happened before, and a measure shown as missing may simply not have happened yet.',
    ]);
    // The same numbers against a spec that marks a backend down after one failed check:
    // reroute and DOWN are past its bound.
    const strict = { ...setup, spec: { ...setup.spec!, unhealthyThreshold: 1 } };
    assert.deepEqual(renderWarnings(strict, metrics), [
      'Time to reroute (1.49 s) exceeds the 1.2 s the spec implies for a correct load balancer.',
      'The load balancer marked the zone down after 1.50 s, more than the 1.2 s the spec implies.',
    ]);
    // Against Google Cloud the bound is a model's: beyond it is an observation to explain.
    const cloud = { ...strict, where: 'target' as const, fault: 'command', checkSees: 'fails-fast' as const, applyDelaySec: 0 };
    assert.deepEqual(renderWarnings(cloud, metrics), [
      "Time to reroute (1.49 s) is beyond the 1 s the model of Google Cloud's probing predicts: an observation to explain (Google does not document how its probers' verdicts combine or how long applying one takes; --apply-delay is the allowance for that).",
      "The time the load balancer took to mark the zone down (1.50 s) is beyond the 1 s the model of Google Cloud's probing predicts: an observation to explain (Google does not document how its probers' verdicts combine or how long applying one takes; --apply-delay is the allowance for that).",
    ]);
    const behind = computeFailoverMetrics(records, [...events, { at: 8000, kind: 'phase', target: 'load-behind', detail: '120.5 ms' }], { zone: 'us-east1-c', instances: ['us-east1-c-vm1'], holdMs: setup.holdMs });
    assert.deepEqual(renderWarnings(setup, behind), [
      'The load generator fell behind its schedule by up to 120.5 ms (a busy machine); when is not recorded: times measured from requests sent then are that much less exact.',
    ]);
    // Lag with its times: a start-up hiccup is a note; lag near the fault or the return is a
    // warning that says where and which measures it touches.
    const lagged = (...details: string[]) =>
      computeFailoverMetrics(records, [...events, ...details.map((detail) => ({ at: 9000, kind: 'phase' as const, target: 'load-behind', detail }))], { zone: 'us-east1-c', instances: ['us-east1-c-vm1'], holdMs: setup.holdMs });
    const startup = lagged('170 ms from 0.0 to 250.0');
    assert.deepEqual(renderWarnings(setup, startup), []);
    assert.deepEqual(renderNotes(startup), ['The load generator fell behind its schedule by up to 170 ms at 0.00–0.25 s, far from the fault and the return: no measure is affected.']);
    assert.match(renderReportMarkdown(setup, startup, records), /^> \*\*Note:\*\* The load generator fell behind its schedule by up to 170 ms at 0\.00–0\.25 s/m);
    const near = lagged('170 ms from 0.0 to 250.0', '80 ms from 2600.0 to 2700.0', '60 ms from 5100.0 to 5100.0');
    assert.deepEqual(renderWarnings(setup, near), [
      'The load generator fell behind its schedule by up to 80 ms around the fault (requests due 2.60–2.70 s): the time to reroute and the count of failed requests are up to 80 ms less exact (a busy machine).',
      'The load generator fell behind its schedule by up to 60 ms around the return (requests due 5.10 s): the time to return is up to 60 ms less exact (a busy machine).',
    ]);
    assert.deepEqual(renderNotes(near), ['The load generator fell behind its schedule by up to 170 ms at 0.00–0.25 s, away from the measures.']);
    const errors = { ...setup, fault: 'errors:0.5' };
    assert.deepEqual(renderWarnings(errors, { ...metrics, rerouted: false, timeToRerouteMs: null }), ['Traffic was not rerouted (the health check cannot see this fault).']);
    assert.match(renderAnswers(errors, { ...metrics, rerouted: false, timeToRerouteMs: null })[0]!, /traffic was not rerouted within 60\.00 s: the health check still passes; 75 requests failed/);
  });

  it('says what a balancer without a view leaves unknown, and why traffic never left a zone it keeps retrying', () => {
    const nginx = { ...setup, lb: { kind: 'nginx', summary: 'nginx', hasView: false, settings: {}, limitations: [] }, versions: { ...setup.versions!, lb: { program: 'nginx', version: '1.22.1' } } };
    const retried = { ...metrics, rerouted: false, timeToRerouteMs: null, recurringFailures: { bursts: 20, everyMs: 3000 } };
    const [first] = renderAnswers(nginx, retried);
    assert.match(first!, /^- The load balancer \(nginx\) keeps no view of its backends, so when it took us-east1-c out is not known; traffic was not rerouted within 60\.00 s: the faulted zone failed requests again every 3\.00 s \(20 times\), as the balancer kept trying it with real traffic;/);
    // With a view, a run cut short before DOWN says so, not "never".
    assert.match(
      renderAnswers(setup, { ...metrics, interrupted: true, interruptedAt: (metrics.faultAt ?? 0) + 800, rerouted: false, restartAt: null, lb: { ...metrics.lb, downAfterFaultMs: null } })[0]!,
      /^- The load balancer had not marked us-east1-c down when the run was interrupted, 0\.80 s after the kill; nor had traffic been rerouted;/,
    );
  });

  it('an interrupted run says what it saw and that the rest was not measured, never "not rerouted within" or "never"', () => {
    // Ctrl-C after the load balancer marked the zone down, before the reroute held.
    const stopAt = (metrics.faultAt ?? 0) + metrics.lb.downAfterFaultMs! + 100;
    const cut = events.filter((e) => e.at <= stopAt).concat({ at: stopAt, kind: 'phase', target: 'done', detail: 'interrupted' });
    const early = computeFailoverMetrics(records.filter((r) => r.sentAt < stopAt), cut, { zone: 'us-east1-c', instances: ['us-east1-c-vm1'], holdMs: setup.holdMs });
    assert.equal(early.rerouted, false, 'the fixture is cut before its reroute held');
    const answers = renderAnswers(setup, early).join('\n');
    assert.match(answers, /^- The load balancer marked us-east1-c down 1\.50 s after the kill; traffic had not been rerouted when the run was interrupted, 1\.60 s after it;/m);
    assert.match(answers, /^- The run was interrupted before the restart: the reroute and the return were not measured\.$/m);
    assert.doesNotMatch(answers, /within|never/);
    const lines = resultLines({ dir: 'run', setup, metrics: early }).join('\n');
    assert.match(lines, /^time to reroute: not measured: the run was interrupted first$/m);
    assert.match(lines, /^time to return: not measured: the run was interrupted first$/m);
    assert.match(lines, /: DOWN 1\.50 s after the fault, UP not seen before the interruption$/m);
    assert.doesNotMatch(lines, /—|never|not rerouted|not returned/);
    // Cut after the restart, before the zone served again.
    const restartAt = events.find((e) => e.kind === 'recover')!.at;
    const late = [...events.filter((e) => e.at <= restartAt + 200), { at: restartAt + 200, kind: 'phase' as const, target: 'done', detail: 'interrupted' }];
    const restarted = computeFailoverMetrics(records.filter((r) => r.sentAt < restartAt + 200), late, { zone: 'us-east1-c', instances: ['us-east1-c-vm1'], holdMs: setup.holdMs });
    assert.equal(restarted.returned, false);
    assert.match(renderAnswers(setup, restarted).join('\n'), /^- After the restart, us-east1-c had not served again when the run was interrupted, 0\.20 s later: the return was not measured\.$/m);
    // Interrupted after the heal began because the wait for a reroute ran out: that verdict
    // was reached, and is said as such.
    const gaveUp = { ...restarted, rerouted: false, timeToRerouteMs: null };
    assert.match(renderAnswers(setup, gaveUp)[0]!, /traffic was not rerouted within 60\.00 s/);
    assert.match(resultLines({ dir: 'run', setup, metrics: gaveUp }).join('\n'), /^time to reroute: not rerouted$/m);
    assert.ok(renderWarnings(setup, gaveUp).includes('Traffic was not rerouted.'));
    // A partition is healed, not restarted.
    assert.match(renderAnswers({ ...setup, fault: 'partition' }, restarted).join('\n'), /^- After the heal, us-east1-c had not served again/m);
  });

  it('keeps the timeline readable from 10 s to 10 min: bins that stay visible, labels that never overlap', () => {
    assert.deepEqual([10_000, 30_000, 60_000, 120_000, 600_000, 3_600_000].map((ms) => binMsFor(ms)), [100, 100, 200, 500, 2000, 30_000]);
    // Wide enough for about ten requests per zone: 25 requests/s per zone gets 500 ms bars.
    assert.deepEqual([25, 50, 100, 1000].map((perZone) => binMsFor(20_000, perZone)), [500, 200, 100, 100]);
    // Four marks within 0.2 s of a 60 s run, and one at its very end.
    const marks = [0, 0.05, 0.1, 0.2].map((d, i) => ({ t: 30 + d, label: ['fault', 'LB DOWN us-east1-c-vm1', 'restart', 'ready'][i]! })).concat({ t: 60, label: 'LB UP us-east1-c-vm1' });
    const laid = layoutLabels(marks, 60);
    const box = (l: (typeof laid)[number]): [number, number] => {
      const x = (l.t / 60) * 900;
      const width = l.label.length * 5.6 + 8;
      return l.align === 'left' ? [x, x + width] : [x - width, x];
    };
    for (const [i, a] of laid.entries()) {
      for (const b of laid.slice(i + 1)) {
        const [a0, a1] = box(a);
        const [b0, b1] = box(b);
        assert.ok(a.lane !== b.lane || a1 <= b0 || b1 <= a0, `${a.label} and ${b.label} overlap`);
      }
    }
    assert.equal(new Set(laid.slice(0, 4).map((l) => l.lane)).size, 4);
    assert.equal(laid.at(-1)!.align, 'right', 'a label at the right edge is written leftwards');
    const spans = timelineSpans(events, metrics);
    assert.deepEqual(spans.map((s) => s.label), ['outage', 'reroute 1.49 s', 'return 0.61 s']);
  });

  it('renders report.html as one self-contained page: the timeline inline, nothing fetched, no script', async () => {
    const svg = await renderTimelineSvg(records, events, metrics);
    const html = renderReportHtml(renderReportMarkdown(setup, metrics, records), svg);
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<title>Failover: kill on us-east1-c<\/title>/);
    assert.match(html, /<figure class="timeline"[^>]*><svg /);
    assert.match(html, /<h2>Answers<\/h2>/);
    assert.match(html, /<td align="right">1\.49 s<\/td>/);
    // Nothing a browser would load: no image, script, stylesheet, frame, font or CSS url.
    for (const loader of [/<img\b/i, /<script\b/i, /<link\b/i, /<iframe\b/i, /<object\b/i, /\burl\(/i, /@import/i, /\ssrc\s*=/i, /\s(xlink:)?href\s*=\s*"(?!#|https?:\/\/127\.)/i]) {
      assert.doesNotMatch(html, loader, `report.html would load something: ${loader}`);
    }
  });

  it('renders timeline.svg as its golden file, with every mark', async () => {
    const svg = await renderTimelineSvg(records, events, metrics);
    assert.match(svg, /^<svg /);
    for (const label of ['fault', 'restart', 'ready', 'LB DOWN us-east1-c-vm1', 'LB UP us-east1-c-vm1', 'reroute 1.49 s', 'return 0.61 s']) assert.ok(svg.includes(label), label);
    await golden('timeline.svg', svg);
  });

  it('does not mark the first UP HAProxy reports as a change', () => {
    assert.deepEqual(
      timelineMarks(events).map((m) => m.label),
      ['fault', 'LB DOWN us-east1-c-vm1', 'restart', 'ready', 'LB UP us-east1-c-vm1'],
    );
  });

  it('re-renders a saved run from its records (zonelab report)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zonelab-report-'));
    try {
      await writeFile(join(dir, 'results.ndjson'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
      await writeFile(join(dir, 'events.ndjson'), `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
      await writeFile(join(dir, 'summary.json'), JSON.stringify({ setup, metrics: {} }));
      const again = await rerenderReport(dir);
      assert.deepEqual(again, metrics);
      assert.equal(await readFile(join(dir, 'report.md'), 'utf8'), renderReportMarkdown(setup, metrics, records));
      assert.match(await readFile(join(dir, 'report.html'), 'utf8'), /<figure class="timeline"[^>]*><svg /);
      assert.deepEqual(JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')).metrics, JSON.parse(JSON.stringify(metrics)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
