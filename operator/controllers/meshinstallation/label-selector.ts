/**
 * A Kubernetes label selector (`matchLabels` and `matchExpressions`) evaluated against a set of
 * labels, as `metav1.LabelSelectorAsSelector` evaluates it: every requirement must hold, and an
 * empty selector selects everything.
 */

/** The selector as the API carries it (spec.injection.namespaceSelector, for one). */
export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: ReadonlyArray<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | string; values?: readonly string[] }>;
}

/**
 * Whether `labels` satisfy `selector`. `NotIn` holds for a label that is absent, as upstream
 * has it; an operator this code does not know selects nothing (the API server refuses one anyway).
 */
export function selectorMatches(selector: LabelSelectorSpec, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const value = labels[key];
    switch (operator) {
      case 'In': if (!has || !values.includes(value!)) return false; break;
      case 'NotIn': if (has && values.includes(value!)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}
