import { randomInt } from 'node:crypto';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { ZonelabError } from '../errors.js';
import { AGE_BANDS, COUNTRIES, GENDERS, INCOME_BANDS } from './countries.js';

export interface RequestModelOptions {
  /** `-b`: first path segment; `none` leaves it out. */
  bucket: string;
  /** `-w`: second path segment; `none` leaves it out. */
  webdir: string;
  /** `-i`: pages are drawn uniformly from `0 … index-1`. */
  index: number;
  /** `-r`: the same seed gives the same sequence; 0 draws a seed at random. */
  seed: number;
  /** The date in `X-time`; default today (local time, like the course client). */
  today?: Date;
  /** Send every request as from this country (one of COUNTRIES) instead of a random one. */
  country?: string | undefined;
}

export interface PlannedRequest {
  path: string;
  headers: Record<string, string>;
}

type Rng = ReturnType<typeof xoroshiro128plus>;

/** The request path for page `n`: `/<bucket>/<webdir>/<n>.html`, `none` segments dropped. */
export function pagePath(bucket: string, webdir: string, n: number): string {
  return `/${[bucket, webdir].filter((segment) => segment !== 'none').map(encodeURIComponent).concat(`${n}.html`).join('/')}`;
}

// First octets never drawn: private, loopback, link-local, shared, documentation and
// multicast space, so every X-client-IP looks like a public address.
const RESERVED_FIRST_OCTETS = new Set([0, 10, 100, 127, 169, 172, 192, 198, 203]);

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash | 0;
}

/**
 * 1–9 address blocks (/16) per country. They stand in for the allocation table the course
 * client carries: synthetic, not real registry data, but fixed per country name whatever
 * the seed, so a country's addresses always come from the same few blocks.
 */
export function addressBlocksOf(country: string): [number, number][] {
  const rng = xoroshiro128plus(fnv1a(country));
  const count = uniformInt(rng, 1, 9);
  const blocks: [number, number][] = [];
  while (blocks.length < count) {
    const first = uniformInt(rng, 1, 223);
    if (!RESERVED_FIRST_OCTETS.has(first)) blocks.push([first, uniformInt(rng, 0, 255)]);
  }
  return blocks;
}

const blocksByCountry = new Map(COUNTRIES.map((country) => [country, addressBlocksOf(country)]));

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[uniformInt(rng, 0, items.length - 1)]!;
}

function dateOf(day: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`;
}

/**
 * The course client's requests: a uniformly drawn page and the random header model
 * (X-country among the 195 names, X-client-IP from that country's blocks, X-gender, X-age,
 * X-income, X-time today at a random hour). Returns a function giving the next request.
 */
export function createRequestModel(options: RequestModelOptions): () => PlannedRequest {
  if (options.country !== undefined && !blocksByCountry.has(options.country)) {
    throw new ZonelabError('E_BAD_ARGUMENT', `"${options.country}" is not one of the 195 country names (e.g. Iran, North Korea, France)`);
  }
  const rng = xoroshiro128plus(options.seed === 0 ? randomInt(1, 2 ** 31) : options.seed);
  const day = dateOf(options.today ?? new Date());
  const prefix = pagePath(options.bucket, options.webdir, 0).slice(0, -'0.html'.length);
  return () => {
    const n = uniformInt(rng, 0, options.index - 1);
    const country = options.country ?? pick(rng, COUNTRIES);
    const [first, second] = pick(rng, blocksByCountry.get(country)!);
    const ip = `${first}.${second}.${uniformInt(rng, 0, 255)}.${uniformInt(rng, 1, 254)}`;
    const hour = String(uniformInt(rng, 0, 23)).padStart(2, '0');
    return {
      path: `${prefix}${n}.html`,
      headers: {
        'X-country': country,
        'X-client-IP': ip,
        'X-gender': pick(rng, GENDERS),
        'X-age': pick(rng, AGE_BANDS),
        'X-income': pick(rng, INCOME_BANDS),
        'X-time': `${day} ${hour}:00:00`,
      },
    };
  };
}
