/**
 * Builds the MeshInstallation CustomResourceDefinition from the TypeBox schema, and renders it as
 * the YAML committed under `crds/`.
 */
import type { TSchema } from '@sinclair/typebox';
import { stringify } from 'yaml';
import {
  API_VERSION, CATEGORIES, CRD_NAME, GROUP, KIND, MeshInstallationSchema, PLURAL, SHORT_NAMES, SINGULAR, VERSION,
} from './meshinstallation.ts';
import { findStructuralViolations } from './structural.ts';

/** A JSON Schema node as it appears in the CRD (plain JSON, no TypeBox symbols). */
export type JsonSchema = { [keyword: string]: unknown };

/** Path of the generated CRD, relative to the repository root. */
export const CRD_FILE = `crds/${GROUP}_${PLURAL}.yaml`;

/** Keywords printed first, in this order, so the YAML reads top-down like `kubectl explain`. */
const LEADING_KEYWORDS = ['description', 'type', 'format', 'enum', 'default'];
/** Keywords printed last, so a node's own constraints come before its children. */
const TRAILING_KEYWORDS = ['properties', 'additionalProperties', 'items', 'required'];

/** Keywords whose value is a map of field names to schemas. */
const SCHEMA_MAP_KEYWORDS = new Set(['properties']);
/** Keywords whose value is one schema. */
const SCHEMA_KEYWORDS = new Set(['items', 'additionalProperties', 'not']);
/** Keywords whose value is a list of schemas. */
const SCHEMA_LIST_KEYWORDS = new Set(['anyOf', 'allOf', 'oneOf']);

/**
 * A TypeBox schema as plain JSON: symbol keys dropped, keywords in a stable, readable order
 * (`x-kubernetes-*` extensions after the node's other constraints, children last). Field order
 * inside `properties`, and values such as defaults and CEL rules, are kept as written.
 */
export function toJsonSchema(schema: TSchema | JsonSchema): JsonSchema {
  const node = schema as Record<string, unknown>;
  const rank = (key: string): number => {
    const leading = LEADING_KEYWORDS.indexOf(key);
    if (leading >= 0) return leading;
    const trailing = TRAILING_KEYWORDS.indexOf(key);
    if (trailing >= 0) return 1000 + trailing;
    return key.startsWith('x-kubernetes-') ? 900 : 100;
  };
  const ordered = Object.keys(node).sort((a, b) => rank(a) - rank(b) || (rank(a) >= 1000 ? 0 : a.localeCompare(b)));
  return Object.fromEntries(ordered.map((key) => {
    const value = node[key];
    if (SCHEMA_MAP_KEYWORDS.has(key)) {
      const fields = value as Record<string, JsonSchema>;
      return [key, Object.fromEntries(Object.keys(fields).map((field) => [field, toJsonSchema(fields[field]!)]))];
    }
    if (SCHEMA_KEYWORDS.has(key) && typeof value === 'object' && value !== null) return [key, toJsonSchema(value as JsonSchema)];
    if (SCHEMA_LIST_KEYWORDS.has(key)) return [key, (value as JsonSchema[]).map((branch) => toJsonSchema(branch))];
    return [key, plainJson(value)];
  }));
}

/** A deep copy with only what JSON can carry (TypeBox keeps its metadata under symbol keys). */
function plainJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/** A printer column of `kubectl get meshinstallations`. */
export interface PrinterColumn {
  /** Column header. */
  name: string;
  /** Column type as kubectl understands it. */
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  /** JSONPath into the object. */
  jsonPath: string;
  /** Help text. */
  description: string;
  /** 0: always shown; 1: only with `-o wide`. */
  priority?: number;
}

/** Columns of `kubectl get meshinstallations` (and `-o wide`). */
export const PRINTER_COLUMNS: PrinterColumn[] = [
  { name: 'Mesh', type: 'string', jsonPath: '.spec.mesh', description: 'The mesh installed.' },
  { name: 'Version', type: 'string', jsonPath: '.status.version', description: 'Version the control plane runs (every control-plane workload rolled out and available on it); the proxies are counted in status.dataPlane.proxyVersions.' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Whether the mesh is usable.' },
  { name: 'Proxies', type: 'integer', jsonPath: '.status.dataPlane.injectedPods', description: 'Pods running this installation\'s mesh proxy.' },
  { name: 'DataPlane', type: 'string', jsonPath: '.status.dataPlane.rollout.progress', description: 'Workloads running the current proxy out of those with injected pods (12/40) while restarts roll out.' },
  { name: 'Progress', type: 'string', jsonPath: '.status.progress', description: 'What the operator is doing: installing, upgrading (with counts), rotating, or why it is stuck.' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' },
  { name: 'Desired', type: 'string', jsonPath: '.spec.version', description: 'Version requested in spec.', priority: 1 },
  { name: 'Namespace', type: 'string', jsonPath: '.spec.namespace', description: 'Control-plane namespace.', priority: 1 },
  { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', description: 'Reason of the Ready condition.', priority: 1 },
  { name: 'Outdated', type: 'integer', jsonPath: '.status.dataPlane.outdatedPods', description: 'Injected pods whose proxy version or trust bundle is not the current one.', priority: 1 },
];

/** The CustomResourceDefinition object for MeshInstallation. */
export function buildCrd(): JsonSchema {
  const openAPIV3Schema = toJsonSchema(MeshInstallationSchema);
  const violations = findStructuralViolations(openAPIV3Schema);
  if (violations.length > 0) {
    throw new Error(`the MeshInstallation schema is not a valid structural schema:\n  ${violations.join('\n  ')}`);
  }
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'meshwright', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [...SHORT_NAMES],
        categories: [...CATEGORIES],
      },
      scope: 'Cluster',
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: PRINTER_COLUMNS.map((column) => ({ ...column })),
        schema: { openAPIV3Schema },
      }],
    },
  };
}

/** The committed YAML: a header saying how to regenerate it, then the CRD. */
export function renderCrdYaml(): string {
  const header = [
    `# ${CRD_NAME}: the ${API_VERSION} ${KIND} CustomResourceDefinition.`,
    '# GENERATED from operator/api/*.ts by `npm run generate:crd`; do not edit by hand.',
  ].join('\n');
  return `${header}\n${stringify(buildCrd(), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
