import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const pages = ['README.md', 'DEVELOPERS.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

describe('the documentation', () => {
  it('starts with a quick start of exactly two commands, and stays short', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const quickStart = /## Quick start[^\n]*\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    assert.equal(quickStart.trim().split('\n').length, 2, quickStart);
    assert.match(quickStart, /npm start/);
    assert.match(quickStart, /^npm test/m);
    assert.ok(readme.indexOf('## Quick start') < 1200, 'the quick start comes first');
    assert.ok(readme.split('\n').length <= 150, `README.md has ${readme.split('\n').length} lines`);
  });

  it('links only to files that exist', () => {
    const broken: string[] = [];
    for (const page of pages) {
      const text = readFileSync(join(ROOT, page), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        if (!existsSync(join(ROOT, dirname(page), target!))) broken.push(`${page} → ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });
});
