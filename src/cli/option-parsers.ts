import { type Command, InvalidArgumentError, Option } from 'commander';
import { statSync } from 'node:fs';
import { parseBusSpec } from '../bus/index.js';
import { COUNTRIES } from '../client/index.js';
import { parseGcsUrl } from '../storage/index.js';
import { closestName, didYouMean } from '../suggest.js';
import { FAULT_FORMS, type Fault, parseFault } from '../records/index.js';
import { parseWebAddress } from '../web/index.js';

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

/** A number above zero, at most `max`. */
export function positiveNumber(max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isFinite(parsed) || parsed <= 0 || parsed > max) throw new InvalidArgumentError(`expected a number above zero${max < Number.MAX_SAFE_INTEGER ? ` and at most ${max}` : ''}.`);
    return parsed;
  };
}

/** A comma-separated list of values from `allowed`. */
export function listOf<T extends string>(allowed: readonly T[], what: string): (value: string) => T[] {
  return (value) => {
    const items = value.split(',').map((item) => item.trim()).filter(Boolean) as T[];
    const unknown = items.filter((item) => !allowed.includes(item));
    if (items.length === 0) throw new InvalidArgumentError(`expected ${what} from ${allowed.join(', ')}.`);
    if (unknown.length > 0) throw new InvalidArgumentError(`"${unknown[0]}" is not one of the ${what} (${allowed.join(', ')})${didYouMean(unknown[0]!, allowed)}.`);
    return items;
  };
}

/** A fault (`kill`, `latency:500`, … in any case), one clear line for a bad one. */
export function faultOption(value: string): Fault {
  try {
    return parseFault(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^fault /, ''));
  }
}

/** `kill,term,latency:500`. */
export function faultList(value: string): Fault[] {
  const items = value.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError(`expected faults from ${FAULT_FORMS}.`);
  return items.map(faultOption);
}

export type SignalName = 'KILL' | 'TERM' | 'STOP';

/** `kill`, `KILL`, `SIGKILL` (the fault names, any case) → the signal. */
export function signalOption(value: string): SignalName {
  const name = value.trim().toUpperCase().replace(/^SIG/, '');
  if (name !== 'KILL' && name !== 'TERM' && name !== 'STOP') throw new InvalidArgumentError('expected kill, term or stop (any case).');
  return name;
}

/** `127.0.0.1:8080` (a loopback address and port) → host and port. */
export function loopbackAddress(value: string): { host: string; port: number } {
  const match = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost):(\d{1,5})$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a loopback address and port such as 127.0.0.1:8080.');
  return { host: match[1] === 'localhost' ? '127.0.0.1' : match[1]!, port: parsePort(match[2]!) };
}

/** `--listen <addr:port>`: where a local load balancer listens, default shown as typed. */
export function listenOption(description = 'where the load balancer listens (a loopback address and port)'): Option {
  return new Option('--listen <addr:port>', description).argParser(loopbackAddress).default({ host: '127.0.0.1', port: 8080 }, '127.0.0.1:8080');
}

/** `--zones <list>`, default shown as typed. */
export function zonesOption(min: number, description = 'zones, comma-separated'): Option {
  return new Option('--zones <list>', description).argParser(zoneList(min)).default(['us-east1-b', 'us-east1-c'], 'us-east1-b,us-east1-c');
}

/** A flag's wrong use, reported the way commander reports its own ("error: …", exit 1, the help hint). */
export function usageError(command: Command, message: string, exitCode = 1): never {
  command.error(`error: ${message}`, { exitCode });
}

/** Whether the person typed this option (not its default). */
export function typed(command: Command, name: string): boolean {
  return command.getOptionValueSource(name) === 'cli';
}

/**
 * Options that apply only when `condition` holds: one usage error naming the first one
 * typed without it (`--kill applies to --target only`).
 */
export function onlyWith(command: Command, names: readonly string[], condition: boolean, why: string): void {
  if (condition) return;
  const flag = names.find((name) => typed(command, name));
  if (flag) usageError(command, `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${why}`);
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

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `30s`, `500ms`, `2m`, `1h`, or a plain number of seconds; returns ms. */
export function parseDuration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([a-z]*)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a duration such as 30s, 500ms, 2m or 1h.');
  const unit = match[2] || 's';
  if (!(unit in UNITS)) throw new InvalidArgumentError(`unknown unit "${unit}" (use ms, s, m or h).`);
  const ms = Number(match[1]) * UNITS[unit]!;
  if (ms <= 0) throw new InvalidArgumentError('must be more than zero.');
  if (!Number.isFinite(ms)) throw new InvalidArgumentError('is too long.');
  return ms;
}

/** A duration flag whose help shows its default as typed (`5s`), not in milliseconds. */
export function durationOption(flags: string, description: string, defaultMs: number, defaultText: string): Option {
  return new Option(flags, description).argParser(parseDuration).default(defaultMs, defaultText);
}

/** `--web [address]`: true (the flag alone: 127.0.0.1 and a free port) or the address given. */
export type WebFlag = true | { host: string; port: number } | undefined;

export function webOption(what: string): Option {
  return new Option(
    '--web [address]',
    `serve a live page of ${what} (127.0.0.1 and a free port unless an address such as 127.0.0.1:8090 is given; the URL printed carries the token its buttons need)`,
  ).argParser((value: string) => {
    try {
      return parseWebAddress(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  });
}

/** The address of a `--web` flag. */
export function webAddress(flag: Exclude<WebFlag, undefined>): { host: string; port: number } {
  return flag === true ? { host: '127.0.0.1', port: 0 } : flag;
}

/** One of the 195 country names the course client draws from, in any case: its own spelling. */
export function countryOption(value: string): string {
  const country = COUNTRIES.find((name) => name.toLowerCase() === value.trim().toLowerCase());
  if (country) return country;
  const guess = closestName(value.trim(), COUNTRIES);
  throw new InvalidArgumentError(`not one of the 195 country names${guess ? ` (did you mean ${guess}?)` : ' (e.g. Iran, North Korea, France)'}.`);
}

/** One folder name, or `none`. */
export function folderName(value: string): string {
  const name = value.trim();
  if (name === '' || /[/\\]|^\.\.?$/.test(name)) throw new InvalidArgumentError('expected one folder name (no slashes), or "none".');
  return name;
}

/** `gs://bucket[/prefix]`. */
export function gcsUrlOption(value: string): string {
  if (!parseGcsUrl(value.trim())) throw new InvalidArgumentError('expected a gs://bucket[/prefix] URL.');
  return value.trim();
}

/** A folder that exists. */
export function existingFolder(value: string): string {
  let isFolder = false;
  try {
    isFolder = statSync(value).isDirectory();
  } catch {
    isFolder = false;
  }
  if (!isFolder) throw new InvalidArgumentError('expected an existing folder.');
  return value;
}
