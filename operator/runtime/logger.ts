/**
 * Structured JSON logs (pino) that cannot leak key material. The operator handles CA private
 * keys, so three independent layers keep them out of the output:
 * 1. redaction of well-known field names (`privateKeyPem`, `privateKey`, `*.key`, `*.data`, …);
 * 2. a sanitizer that walks every logged object at any depth: Kubernetes objects lose Secret
 *    `data`/`stringData`, `metadata.managedFields` and kubectl's last-applied annotation (which
 *    repeats a Secret's data), and fields named like private keys are censored wherever they sit;
 * 3. a last pass over each finished line through the one redaction (runtime/redact.ts: PEM, base64
 *    of PEM, DER in base64 or hex, also inside longer strings) — this also covers messages and
 *    error stacks.
 */
import pino, { type DestinationStream, type Level, type Logger } from 'pino';
import { redactKeyMaterial } from './redact.ts';

/** Settings of {@link createLogger}. */
export interface LoggerOptions {
  /** Minimum level (`trace` … `fatal`, or `silent`). Default `info`. */
  level?: Level | 'silent';
  /** Written as the `name` field of every line. */
  name?: string;
  /** Where lines go; stdout by default. Tests pass a collecting stream. */
  destination?: DestinationStream;
}

/** What replaces a redacted value. */
export const REDACTED = '[Redacted]';

/**
 * Field paths censored by pino's redaction (one level below the root; deeper occurrences are
 * handled by {@link sanitizeForLog}). `*.key` and `*.data` are blunt on purpose: a Secret's
 * `data` and a key pair's `key` are the common shapes, and a missing log detail is cheap.
 */
export const REDACT_PATHS: readonly string[] = [
  'privateKeyPem',
  'privateKey',
  'stringData',
  '*.privateKeyPem',
  '*.privateKey',
  '*.key',
  '*.data',
  '*.stringData',
  '*.items[*].data',
  '*.items[*].stringData',
];

/** Field names whose values are private keys wherever they appear. */
const SENSITIVE_FIELD = /^(private[-_]?key([-_]?(pem|der))?|(.*[-_.])?key\.pem|ca[-_]key|tls\.key|client[-_]key([-_]data)?|ssh-privatekey)$/i;

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date) && !(value instanceof Error) && !ArrayBuffer.isView(value);
}

function looksLikeSecret(value: Record<string, unknown>): boolean {
  if (value.kind !== undefined) return value.kind === 'Secret';
  // Typed client results of list items carry no kind: a `type` next to data is a Secret's shape.
  return ('data' in value || 'stringData' in value) && typeof value.type === 'string';
}

/**
 * A Kubernetes object (or list) fit for a log line: without `metadata.managedFields`, without
 * kubectl's last-applied annotation, and for Secrets without `data`/`stringData` (their key names
 * are kept as `dataKeys`, which is what one needs to debug). Anything else is returned unchanged.
 */
export function serializeKubernetesObject(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(serializeKubernetesObject);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = { ...value };
  if (Array.isArray(value.items)) out.items = value.items.map(serializeKubernetesObject);
  if (isRecord(value.metadata)) {
    const metadata: Record<string, unknown> = { ...value.metadata };
    delete metadata.managedFields;
    if (isRecord(metadata.annotations) && LAST_APPLIED in metadata.annotations) {
      const annotations = { ...metadata.annotations };
      delete annotations[LAST_APPLIED];
      metadata.annotations = annotations;
    }
    out.metadata = metadata;
  }
  if (looksLikeSecret(value)) {
    const keys = new Set([...Object.keys(isRecord(value.data) ? value.data : {}), ...Object.keys(isRecord(value.stringData) ? value.stringData : {})]);
    delete out.data;
    delete out.stringData;
    if (keys.size > 0) out.dataKeys = [...keys].sort();
  }
  return out;
}

function isKubernetesObject(value: Record<string, unknown>): boolean {
  return isRecord(value.metadata) && (typeof value.kind === 'string' || typeof value.apiVersion === 'string' || looksLikeSecret(value));
}

const MAX_DEPTH = 12;

/**
 * Returns a copy of `value` safe to log: fields named like private keys censored at any depth,
 * Kubernetes objects reduced by {@link serializeKubernetesObject} at any depth. Errors, dates and
 * buffers are left to pino's serializers (and the final PEM pass); cycles and very deep values are
 * cut off rather than walked forever.
 */
export function sanitizeForLog(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Error || value instanceof Date || ArrayBuffer.isView(value)) return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Too deep]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => sanitizeForLog(item, depth + 1, seen));
    const record = value as Record<string, unknown>;
    const source = isKubernetesObject(record) ? (serializeKubernetesObject(record) as Record<string, unknown>) : record;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(source)) {
      out[key] = SENSITIVE_FIELD.test(key) && item !== undefined && item !== null ? REDACTED : sanitizeForLog(item, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/** Top-level fields that by convention hold a Kubernetes object. */
const OBJECT_FIELDS = ['obj', 'object', 'resource', 'secret', 'desired', 'live', 'current', 'existing', 'before', 'after'];

/**
 * A pino JSON logger with the redaction described in the module comment; levels are written as
 * labels (`"level":"info"`) and times as ISO strings, which log pipelines read without help.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const serializers: Record<string, (value: unknown) => unknown> = { err: (value) => (value instanceof Error ? pino.stdSerializers.err(value) : value) };
  for (const field of OBJECT_FIELDS) serializers[field] = serializeKubernetesObject;
  const pinoOptions: pino.LoggerOptions = {
    level: options.level ?? 'info',
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    serializers,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => sanitizeForLog(object) as Record<string, unknown>,
    },
    hooks: { streamWrite: redactKeyMaterial },
  };
  if (options.name !== undefined) pinoOptions.name = options.name;
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}
