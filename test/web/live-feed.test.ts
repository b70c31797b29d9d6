import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LiveFeed, type LiveMessage } from '../../src/web/index.js';

function feedWithClock(windowSec: number | null = null) {
  let now = 0;
  const feed = new LiveFeed({ title: 't', view: 'lab', zones: ['a', 'b'], now: () => now, windowSec });
  const messages: LiveMessage[] = [];
  feed.subscribe((message) => messages.push(message));
  return { feed, messages, at: (ms: number) => (now = ms) };
}

describe('the live feed (a clock of its own)', () => {
  const feeds: LiveFeed[] = [];
  after(() => {
    for (const feed of feeds) feed.close();
  });

  it('counts a request in the bin of the time it was due, a bin already sent getting its late ones under its own time', () => {
    const { feed, messages, at } = feedWithClock();
    feeds.push(feed);
    at(50);
    feed.count('a', 1, 20);
    at(250);
    // Answered now, due at 30 ms and 120 ms: both bins were sent already.
    feed.count('a', 1, 30);
    feed.count('b', 1, 120);
    feed.count('a', 1, 240);
    at(310);
    feed.flush();
    const bins = messages.filter((m): m is Extract<LiveMessage, { type: 'bins' }> => m.type === 'bins').flatMap((m) => m.bins);
    const total = (t: number, series: string) => bins.filter((bin) => bin.t === t && bin.series === series).reduce((sum, bin) => sum + bin.n, 0);
    assert.equal(total(0, 'a'), 2, 'both requests due in the first bin, one sent late');
    assert.equal(total(0.1, 'b'), 1);
    assert.equal(total(0.2, 'a'), 1);
    // A page that comes later gets the same counts in its snapshot.
    const late: LiveMessage[] = [];
    feed.subscribe((message) => late.push(message));
    const snapshot = late[0] as Extract<LiveMessage, { type: 'snapshot' }>;
    assert.equal(snapshot.bins.filter((bin) => bin.t === 0 && bin.series === 'a').reduce((sum, bin) => sum + bin.n, 0), 2);
  });

  it('counts into 100 ms bins and sends each bin once it is over, failures as their own series', () => {
    const { feed, messages, at } = feedWithClock();
    feeds.push(feed);
    assert.equal(messages[0]?.type, 'snapshot');
    at(10);
    feed.count('a', 3);
    feed.count('b');
    at(99);
    feed.count('failed', 2);
    feed.flush();
    assert.equal(messages.length, 1, 'the bin is still open');
    at(150);
    feed.count('a');
    const bins = messages.filter((m) => m.type === 'bins');
    assert.deepEqual(bins, [{ type: 'bins', now: 0.15, bins: [{ t: 0, series: 'a', n: 3 }, { t: 0, series: 'b', n: 1 }, { t: 0, series: 'failed', n: 2 }] }]);
    at(420);
    feed.flush();
    const last = messages.at(-1);
    assert.deepEqual(last, { type: 'bins', now: 0.42, bins: [{ t: 0.1, series: 'a', n: 1 }] });
    assert.deepEqual(feed.snapshot().series, ['a', 'b', 'failed']);
    assert.equal(feed.snapshot().bins.length, 4);
  });

  it('keeps only the window it shows, marks included', () => {
    const { feed, at } = feedWithClock(2);
    feeds.push(feed);
    feed.count('a');
    feed.mark('fault', 'a stopped');
    at(1500);
    feed.count('b');
    feed.mark('lb', 'LB DOWN a');
    at(3100);
    feed.flush();
    const snapshot = feed.snapshot();
    assert.deepEqual(snapshot.bins, [{ t: 1.5, series: 'b', n: 1 }]);
    assert.deepEqual(snapshot.marks, [{ t: 1.5, kind: 'lb', label: 'LB DOWN a' }]);
  });

  it('sends backends only when they change, ends phases where the next begins, and keeps the end for late pages', () => {
    const { feed, messages, at } = feedWithClock();
    feeds.push(feed);
    const backend = { name: 'a-vm1', zone: 'a', state: 'serving' as const, words: 'serving', process: 'running' };
    feed.backends([backend]);
    feed.backends([{ ...backend }]);
    assert.equal(messages.filter((m) => m.type === 'backends').length, 1);
    feed.phase('warm-up', 0);
    feed.phase('outage', 3000);
    assert.deepEqual(feed.snapshot().phases, [
      { name: 'warm-up', t0: 0, t1: 3 },
      { name: 'outage', t0: 3, t1: null },
    ]);
    at(5000);
    feed.done({ lines: ['time to reroute: 1.00 s'], reportHtml: '<p>report</p>' });
    assert.equal(feed.finished, true);
    assert.deepEqual(feed.snapshot().phases.at(-1), { name: 'outage', t0: 3, t1: 5 });
    const late: LiveMessage[] = [];
    feed.subscribe((message) => late.push(message));
    assert.equal(late[0]?.type === 'snapshot' && late[0].done?.reportHtml, '<p>report</p>');
  });

  it('stops sending to a page that left', () => {
    const { feed } = feedWithClock();
    feeds.push(feed);
    const seen: LiveMessage[] = [];
    const detach = feed.subscribe((message) => seen.push(message));
    assert.equal(feed.subscribers, 2);
    detach();
    feed.mark('fault', 'x');
    assert.equal(seen.length, 1);
    assert.equal(feed.subscribers, 1);
  });
});
