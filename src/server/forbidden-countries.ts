/** The export-control list of the assignment, as the course client spells the names. */
export const FORBIDDEN_COUNTRIES = [
  'North Korea',
  'Iran',
  'Cuba',
  'Myanmar',
  'Iraq',
  'Libya',
  'Sudan',
  'Zimbabwe',
  'Syria',
] as const;

const FORBIDDEN_LOWER = new Set(FORBIDDEN_COUNTRIES.map((name) => name.toLowerCase()));

/**
 * The forbidden country an `X-country` header value names, or `null`.
 * Case and surrounding spaces are ignored. A header sent several times reaches us joined
 * with commas; if any of its values is forbidden the request is.
 */
export function forbiddenCountryIn(headerValue: string | undefined): string | null {
  if (!headerValue) return null;
  for (const part of headerValue.split(',')) {
    const name = part.trim().toLowerCase();
    if (FORBIDDEN_LOWER.has(name)) return FORBIDDEN_COUNTRIES.find((c) => c.toLowerCase() === name) ?? null;
  }
  return null;
}
