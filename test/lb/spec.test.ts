import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isZonelabError } from '../../src/errors.js';
import { renderUnit } from '../../src/gcp/index.js';
import { planLab } from '../../src/lab/index.js';
import { detectionBoundSec, drainSecondsFor, GCP_APPLY_DELAY_SEC, PROFILE_NAMES, PROFILES, resolveSpec, returnBoundSec } from '../../src/lb/index.js';
import { testDeployment } from '../helpers/gcp-deployment.js';

describe('load-balancer spec', () => {
  it('has the three profiles with their health-check numbers', () => {
    const numbers = (name: keyof typeof PROFILES) => {
      const p = PROFILES[name];
      return [p.checkIntervalSec, p.timeoutSec, p.healthyThreshold, p.unhealthyThreshold];
    };
    assert.deepEqual(numbers('gcp-default'), [5, 5, 2, 2]);
    assert.deepEqual(numbers('fast'), [1, 1, 2, 2]);
    assert.deepEqual(numbers('zero-error'), [1, 1, 2, 2]);
    assert.equal(PROFILES['gcp-default'].retries, 0);
    assert.deepEqual([PROFILES['zero-error'].redispatch, PROFILES['zero-error'].observeErrors], [true, true]);
  });

  it('lets flags override single fields of a profile', () => {
    const spec = resolveSpec('gcp-default', { checkIntervalSec: 10, mode: 'http', timeoutSec: undefined });
    assert.deepEqual([spec.checkIntervalSec, spec.timeoutSec, spec.mode, spec.profile], [10, 5, 'http', 'gcp-default']);
  });

  it('states the bounds a spec implies', () => {
    assert.equal(detectionBoundSec(PROFILES.fast), 3);
    assert.equal(returnBoundSec(PROFILES['gcp-default']), 15);
  });

  it('derives every drain from the detection bound, the apply delay and a second, for every profile and override, in the lab and on the VMs', () => {
    const specs = [
      ...PROFILE_NAMES.map((profile) => resolveSpec(profile)),
      resolveSpec('zero-error', { checkIntervalSec: 5 }),
      resolveSpec('fast', { unhealthyThreshold: 4, timeoutSec: 1, checkIntervalSec: 2 }),
    ];
    assert.deepEqual(specs.map((spec) => drainSecondsFor(spec)), [16, 4, 4, 12, 10]);
    for (const spec of specs) {
      const drain = drainSecondsFor(spec);
      assert.equal(drain, detectionBoundSec(spec) + 1);
      const lab = planLab({ zones: ['a', 'b'], instancesPerZone: 1, spec, listenHost: '127.0.0.1', listenPort: 8080, bucket: 'b', dir: '/tmp/lab' });
      for (const server of lab.servers) assert.equal(server.args[server.args.indexOf('--drain-seconds') + 1], String(drain), spec.profile);
      // A passthrough balancer that waits 8 s before applying a verdict: the servers drain 8 s longer.
      const delayed = planLab({ zones: ['a', 'b'], instancesPerZone: 1, spec, listenHost: '127.0.0.1', listenPort: 8080, bucket: 'b', dir: '/tmp/lab', lb: 'passthrough', lbSettings: { applyDelay: 8 } });
      for (const server of delayed.servers) assert.equal(server.args[server.args.indexOf('--drain-seconds') + 1], String(drain + 8), spec.profile);
      // On the VMs, Google Cloud's allowance for applying a verdict is in the drain, and the stop timeout follows.
      const cloudDrain = drainSecondsFor(spec, GCP_APPLY_DELAY_SEC);
      assert.equal(cloudDrain, drain + GCP_APPLY_DELAY_SEC);
      const unit = renderUnit(testDeployment('backend-service', 'fast', { spec }), 'serve');
      assert.match(unit, new RegExp(`--drain-seconds ${cloudDrain} `), spec.profile);
      assert.match(unit, new RegExp(`^TimeoutStopSec=${cloudDrain + 10}$`, 'm'), spec.profile);
    }
  });

  const cases: [string, Parameters<typeof resolveSpec>[1], RegExp][] = [
    ['interval 0', { checkIntervalSec: 0 }, /^checkIntervalSec \(--check-interval\) must be an integer from 1 to 300, got 0$/],
    ['interval 301', { checkIntervalSec: 301, timeoutSec: 1 }, /^checkIntervalSec \(--check-interval\) must be an integer from 1 to 300, got 301$/],
    ['interval 1.5', { checkIntervalSec: 1.5 }, /checkIntervalSec .* got 1\.5$/],
    ['timeout 0', { timeoutSec: 0 }, /^timeoutSec \(--check-timeout\) must be an integer from 1 to 300, got 0$/],
    ['timeout above interval', { checkIntervalSec: 2, timeoutSec: 3 }, /^timeoutSec \(--check-timeout\) must not exceed checkIntervalSec \(2\), got 3$/],
    ['healthy 0', { healthyThreshold: 0 }, /^healthyThreshold \(--healthy-threshold\) must be an integer from 1 to 10, got 0$/],
    ['healthy 11', { healthyThreshold: 11 }, /^healthyThreshold .* from 1 to 10, got 11$/],
    ['unhealthy 0', { unhealthyThreshold: 0 }, /^unhealthyThreshold \(--unhealthy-threshold\) must be an integer from 1 to 10, got 0$/],
    ['unhealthy 11', { unhealthyThreshold: 11 }, /^unhealthyThreshold .* got 11$/],
    ['request path without slash', { requestPath: 'healthz' }, /^requestPath \(--request-path\) must start with "\/"/],
    ['request path with a space', { requestPath: '/health z' }, /^requestPath/],
    ['port 0', { port: 0 }, /^port \(--port\) must be an integer from 1 to 65535, got 0$/],
    ['mode udp', { mode: 'udp' as 'tcp' }, /^mode \(--mode\) must be tcp or http, got "udp"$/],
  ];
  for (const [name, overrides, message] of cases) {
    it(`refuses ${name} with a message naming the field and its range`, () => {
      assert.throws(
        () => resolveSpec('fast', overrides),
        (error) => isZonelabError(error, 'E_BAD_SPEC') && message.test(error.message),
      );
    });
  }

  it('refuses an unknown profile and names the known ones', () => {
    assert.throws(() => resolveSpec('turbo'), /profile "turbo" does not exist; choose one of gcp-default, fast, zero-error/);
  });
});
