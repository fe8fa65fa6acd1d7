import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperatorMetrics } from '../runtime/metrics.ts';
import { CHART_DIR } from './chart.ts';

const dashboardFile = join(import.meta.dirname, '..', '..', CHART_DIR, 'dashboards', 'meshwright.json');

/** Every series name the operator's registry exports (histograms as their _bucket, _sum and _count). */
async function exportedNames(): Promise<Set<string>> {
  const text = await new OperatorMetrics().render();
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match as unknown as [string, string, string];
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}

/** Metric names a PromQL expression selects: identifiers that are not functions, keywords, labels or durations. */
function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names: string[] = [];
  for (const match of stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    if (match[2]) continue; // a function call
    if (/^(and|or|unless|bool|offset|inf|nan)$/i.test(match[1]!)) continue;
    names.push(match[1]!);
  }
  return names;
}

interface Panel { title: string; targets?: Array<{ expr: string }>; panels?: Panel[] }

test('PromQL metric extraction sees selectors and skips functions, groupings and variables', () => {
  assert.deepEqual(metricNamesIn('sum by (le) (rate(a_bucket{job=~"$job"}[$__rate_interval])) / sum(rate(b_count[5m]))'), ['a_bucket', 'b_count']);
  assert.deepEqual(metricNamesIn('histogram_quantile(0.99, x)'), ['x']);
});

test('every query of the Grafana dashboard names metrics the operator exports', async () => {
  const exported = await exportedNames();
  assert.ok(exported.has('meshwright_reconcile_total'), 'the registry is read');
  const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as { panels: Panel[]; templating: { list: Array<{ query?: unknown }> } };
  const exprs: Array<{ where: string; expr: string }> = [];
  const walk = (panels: Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) exprs.push({ where: panel.title, expr: target.expr });
      walk(panel.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const variable of dashboard.templating.list) {
    const query = typeof variable.query === 'object' && variable.query !== null ? (variable.query as { query?: string }).query : undefined;
    const inner = query && /label_values\(\s*([A-Za-z_:][\w:]*)/.exec(query);
    if (inner) exprs.push({ where: 'template variable', expr: inner[1]! });
  }
  assert.ok(exprs.length >= 10);
  const used = new Set<string>();
  for (const { where, expr } of exprs) {
    const names = metricNamesIn(expr);
    assert.ok(names.length > 0, `${where}: ${expr} names no metric`);
    for (const name of names) {
      assert.ok(exported.has(name), `${where}: ${name} is not exported by the operator`);
      used.add(name);
    }
  }
  // What the issue asks the dashboard to show: reconciles, errors, drift corrections, queue depth, managed objects.
  for (const name of ['meshwright_reconcile_total', 'meshwright_errors_total', 'meshwright_drift_corrections_total', 'meshwright_workqueue_depth', 'meshwright_managed_objects']) {
    assert.ok(used.has(name), `the dashboard shows ${name}`);
  }
});
