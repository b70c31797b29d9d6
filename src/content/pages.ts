import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export interface PageSetOptions {
  /** Number of pages, named `0.html` … `<count-1>.html`. */
  count: number;
  /** Seed of the generator: the same seed gives byte-identical pages. */
  seed: number;
  /** Most links on one page; each page gets a uniform 0…maxLinks. Default 250. */
  maxLinks?: number;
}

/** The file name of page `index`. */
export function pageName(index: number): string {
  return `${index}.html`;
}

/**
 * The pages of an assignment-2 style web directory, in order: each a small HTML document
 * with a random number (0–maxLinks) of `<a HREF="n.html"> This is a link </a>` lines to
 * other pages of the set. Lazy, so 10,000 pages never sit in memory at once.
 */
export function* generatePages(options: PageSetOptions): Generator<{ name: string; html: string }> {
  const rng = xoroshiro128plus(options.seed);
  const maxLinks = options.maxLinks ?? 250;
  for (let index = 0; index < options.count; index++) {
    const linkCount = uniformInt(rng, 0, maxLinks);
    const lines = ['<!DOCTYPE html>', '<html>', `<head><title>Page ${index}</title></head>`, '<body>', `<h1>Page ${index}</h1>`];
    for (let link = 0; link < linkCount; link++) {
      lines.push(`<a HREF="${pageName(uniformInt(rng, 0, options.count - 1))}"> This is a link </a>`, '<p>');
    }
    lines.push('</body>', '</html>', '');
    yield { name: pageName(index), html: lines.join('\n') };
  }
}
