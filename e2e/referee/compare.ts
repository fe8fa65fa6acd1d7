/**
 * Structural comparison of two injected workloads (the referee's and ours) and the one table of
 * named, reasoned exceptions a remaining difference may fall under. Lists whose elements carry a
 * `name` (containers, env, volumes, ports by name) are compared by name, so a difference is
 * reported where it is (`spec.template.spec.containers[istio-proxy].env[ISTIO_META_X]`), and the
 * order of such lists is compared on its own (`…containers#order`): order matters for containers.
 */

/** A field path where the two differ, and both values there (undefined: absent). */
export interface Difference {
  path: string;
  referee: unknown;
  ours: unknown;
}

/** A named, reasoned exception: differences whose path matches are expected and counted apart. */
export interface Exception {
  name: string;
  /** Matched against the whole path. */
  path: RegExp;
  reason: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const named = (list: unknown[]): list is Array<{ name: string }> => list.length > 0 && list.every((e) => isObject(e) && typeof e.name === 'string') && new Set(list.map((e) => (e as { name: string }).name)).size === list.length;

/** Every path at which `referee` and `ours` differ (empty: they agree). */
export function structuralDiff(referee: unknown, ours: unknown, path = ''): Difference[] {
  if (isObject(referee) && isObject(ours)) {
    const keys = [...new Set([...Object.keys(referee), ...Object.keys(ours)])].sort();
    return keys.flatMap((k) => structuralDiff(referee[k], ours[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(referee) && Array.isArray(ours)) {
    if (named(referee) && named(ours)) {
      const order = (l: Array<{ name: string }>) => l.map((e) => e.name);
      const byName = (l: Array<{ name: string }>) => new Map(l.map((e) => [e.name, e]));
      const a = byName(referee);
      const b = byName(ours);
      const names = [...new Set([...a.keys(), ...b.keys()])];
      const differences = names.flatMap((n) => structuralDiff(a.get(n), b.get(n), `${path}[${n}]`));
      const sharedOrder = (l: string[], other: Map<string, unknown>) => l.filter((n) => other.has(n));
      if (JSON.stringify(sharedOrder(order(referee), b)) !== JSON.stringify(sharedOrder(order(ours), a))) differences.push({ path: `${path}#order`, referee: order(referee), ours: order(ours) });
      return differences;
    }
    if (referee.length !== ours.length) return [{ path, referee, ours }];
    return referee.flatMap((v, i) => structuralDiff(v, ours[i], `${path}[${i}]`));
  }
  return JSON.stringify(referee) === JSON.stringify(ours) ? [] : [{ path, referee, ours }];
}

/** The outcome of comparing many workloads. */
export interface ComparisonSummary {
  total: number;
  /** Identical, or every difference excepted. */
  agree: number;
  /** Workloads whose only differences are excepted, by exception name. */
  excepted: Record<string, number>;
  /** Unexcepted differing paths (list keys and indices generalised), with how many workloads show each. */
  differingFields: Record<string, number>;
  /** The workloads that differ beyond the exceptions. */
  disagreeing: Array<{ index: number; differences: Difference[] }>;
}

/** A path with the names and indices in brackets generalised, for counting the same field across workloads. */
export function fieldOf(path: string): string {
  return path.replace(/\[[^\]]*\]/g, '[]');
}

/** Splits differences into excepted (by name) and not. */
export function applyExceptions(differences: Difference[], exceptions: readonly Exception[]): { excepted: Map<string, Difference[]>; remaining: Difference[] } {
  const excepted = new Map<string, Difference[]>();
  const remaining: Difference[] = [];
  for (const d of differences) {
    const exception = exceptions.find((e) => e.path.test(d.path));
    if (exception) excepted.set(exception.name, [...(excepted.get(exception.name) ?? []), d]);
    else remaining.push(d);
  }
  return { excepted, remaining };
}

/** Compares pairs (referee, ours) workload by workload. */
export function summarise(pairs: ReadonlyArray<{ index: number; referee: unknown; ours: unknown }>, exceptions: readonly Exception[]): ComparisonSummary {
  const summary: ComparisonSummary = { total: pairs.length, agree: 0, excepted: {}, differingFields: {}, disagreeing: [] };
  for (const { index, referee, ours } of pairs) {
    const { excepted, remaining } = applyExceptions(structuralDiff(referee, ours), exceptions);
    if (remaining.length === 0) {
      summary.agree++;
      for (const name of excepted.keys()) summary.excepted[name] = (summary.excepted[name] ?? 0) + 1;
      continue;
    }
    summary.disagreeing.push({ index, differences: remaining });
    for (const field of new Set(remaining.map((d) => fieldOf(d.path)))) summary.differingFields[field] = (summary.differingFields[field] ?? 0) + 1;
  }
  return summary;
}

/** A short human summary: agreement, then the most frequent differing fields. */
export function formatSummary(summary: ComparisonSummary, top = 10): string {
  const pct = summary.total === 0 ? 0 : (100 * summary.agree) / summary.total;
  const lines = [`${summary.agree}/${summary.total} agree (${pct.toFixed(1)} %)`];
  for (const [name, n] of Object.entries(summary.excepted)) lines.push(`  excepted ${name}: ${n}`);
  for (const [field, n] of Object.entries(summary.differingFields).sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  differs ${field}: ${n}`);
  return lines.join('\n');
}
