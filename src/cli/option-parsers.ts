import { InvalidArgumentError } from 'commander';
import { parseBusSpec } from '../bus/index.js';

// Commander calls these with the raw flag value; an InvalidArgumentError becomes one
// line ("error: option '--port <n>' argument 'x' is invalid. …") and exit code 1.

export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    const parsed = Number(value);
    if (parsed < min || parsed > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    return parsed;
  };
}

export function numberIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`expected a number from ${min} to ${max}.`);
    }
    return parsed;
  };
}

export const parsePort = integerIn(0, 65535);

export function nonEmpty(what: string): (value: string) => string {
  return (value) => {
    if (value.trim() === '') throw new InvalidArgumentError(`${what} must not be empty.`);
    return value.trim();
  };
}

/** A `--bus` value, checked when the flags are read so a typo fails before any work. */
export function busOption(value: string): string {
  try {
    parseBusSpec(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^--bus /, ''));
  }
  return value;
}

/** `us-east1-b,us-east1-c`: at least `min` distinct zone names. */
export function zoneList(min: number): (value: string) => string[] {
  return (value) => {
    const zones = value.split(',').map((zone) => zone.trim()).filter(Boolean);
    if (zones.length < min || zones.some((zone) => !/^[a-z0-9][a-z0-9-]{0,62}$/.test(zone))) {
      throw new InvalidArgumentError(`expected ${min > 1 ? `${min} or more zone names` : 'zone names'} such as us-east1-b,us-east1-c (lower case, digits, -).`);
    }
    if (new Set(zones).size !== zones.length) throw new InvalidArgumentError('a zone is named twice.');
    return zones;
  };
}
