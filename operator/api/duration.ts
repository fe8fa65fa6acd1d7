/**
 * Go-style duration strings (`30s`, `1h30m`, `87600h`), as the API accepts them (see
 * DURATION_PATTERN), turned into milliseconds.
 */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in `duration`; throws on a string the API would have rejected. */
export function parseDuration(duration: string): number {
  const parts = [...duration.matchAll(/([0-9]+(?:[.][0-9]+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) throw new Error(`"${duration}" is not a duration such as 30s, 10m or 1h30m`);
  return parts.reduce((total, [, value, unit]) => total + Number(value) * UNIT_MS[unit!]!, 0);
}
