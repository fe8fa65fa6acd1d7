/**
 * Kubernetes-flavoured building blocks for TypeBox schemas.
 *
 * TypeBox's own `Union`/`Literal`/`Record` produce `anyOf`/`const`/`patternProperties`, which a
 * CRD's structural schema does not allow; these helpers produce the forms the API server accepts
 * (`enum`, `additionalProperties`, `x-kubernetes-int-or-string`) while keeping precise static types.
 * Every helper demands a description, because every field must read well in `kubectl explain`.
 */
import {
  CloneType, Type, type SchemaOptions, type Static, type TArray, type TObject, type TOptional, type TSchema, type TString, type TUnsafe,
} from '@sinclair/typebox';
import type { V1ObjectMeta } from '@kubernetes/client-node';

/** Schema options with a mandatory human-readable description. */
export type Described = SchemaOptions & { description: string };

/** One CEL rule as the API server understands it (`x-kubernetes-validations` entry). */
export interface CelRule {
  /** The CEL expression; `self` is the value of the node carrying the rule. */
  rule: string;
  /** Fixed error text shown when the rule is false. */
  message?: string;
  /** CEL expression producing the error text, for messages that quote the offending value. */
  messageExpression?: string;
  /** Path (relative to the node, starting with `.`) the error is reported at. */
  fieldPath?: string;
  /** Machine-readable error type; the API server defaults to FieldValueInvalid. */
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

declare const defaultedMarker: unique symbol;

/** A schema the API server fills in with a default when it is absent (see {@link withDefault}). */
export type TDefaulted<T extends TSchema> = TOptional<T> & { readonly [defaultedMarker]: true };

/**
 * Marks an object property as defaulted by the API server: optional for whoever writes the
 * resource (and not `required` in the CRD), always present for whoever reads it back. A scalar
 * default is also stated in the description, because `kubectl explain` does not show defaults.
 */
export function withDefault<T extends TSchema>(schema: T, value: Static<T>): TDefaulted<T> {
  const description = typeof value === 'object' || typeof schema.description !== 'string'
    ? schema.description as string | undefined
    : `${schema.description} Defaults to ${String(value)}.`;
  // CloneType's options never override the schema's own keywords, so assign after cloning.
  const copy = Object.assign(CloneType(schema), { default: value }, description === undefined ? {} : { description });
  return Type.Optional(copy) as TDefaulted<T>;
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type PresentKeys<P> = { [K in keyof P]: P[K] extends TDefaulted<TSchema> ? K : P[K] extends TOptional<TSchema> ? never : K }[keyof P];
type OptionalKeys<P> = Exclude<keyof P, PresentKeys<P>>;

/**
 * The static type of a schema as read back from the API server, after its declared defaults
 * were applied: defaulted properties are required, other optional ones stay optional.
 */
export type Defaulted<S extends TSchema> =
  S extends TObject<infer P>
    ? Simplify<{ [K in PresentKeys<P>]: Defaulted<P[K]> } & { [K in OptionalKeys<P>]?: Defaulted<P[K]> }>
    : S extends TArray<infer I> ? Defaulted<I>[]
      : Static<S>;

/** Wraps CEL rules into the schema option that carries them. */
export function celRules(...rules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/** `options` with `rules` appended to any CEL rules they already carry (helpers add their own). */
function withRules<O extends SchemaOptions>(options: O, ...rules: CelRule[]): O {
  const existing = (options['x-kubernetes-validations'] ?? []) as CelRule[];
  return { ...options, 'x-kubernetes-validations': [...rules, ...existing] };
}

/** A string restricted to `values`; statically the union of those literals. */
export function StringEnum<const T extends readonly string[]>(values: T, options: Described): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, type: 'string', enum: [...values] });
}

/** A string-keyed map (`additionalProperties`), bounded so CEL cost estimates stay finite. */
export function StringMap<V extends TSchema>(
  value: V,
  options: Described & { maxProperties: number },
): TUnsafe<Record<string, Static<V>>> {
  return Type.Unsafe<Record<string, Static<V>>>({ ...options, type: 'object', additionalProperties: value });
}

/** An integer or a string, as Kubernetes' IntOrString (e.g. `maxUnavailable: 25%` or `1`). */
export function IntOrString(options: Described): TUnsafe<number | string> {
  return Type.Unsafe<number | string>({
    ...options,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    'x-kubernetes-int-or-string': true,
  });
}

/** An object whose content the API server keeps without pruning or validating. */
export function FreeformObject(options: Described): TUnsafe<Record<string, unknown>> {
  return Type.Unsafe<Record<string, unknown>>({ ...options, type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
}

/** Any JSON value (scalar, list or object), kept as written. */
export function AnyJsonValue(options: Described): TUnsafe<unknown> {
  return Type.Unsafe<unknown>({ ...options, 'x-kubernetes-preserve-unknown-fields': true });
}

/** The object's metadata: the API server validates it itself, so the schema only types it. */
export function ObjectMeta(): TUnsafe<V1ObjectMeta> {
  return Type.Unsafe<V1ObjectMeta>({ type: 'object' });
}

/** An RFC 3339 timestamp as the operator writes it into status. */
export function Timestamp(options: Described): TString {
  return Type.String({ ...options, format: 'date-time' });
}

/**
 * Go duration syntax as CEL's `duration()` parses it. At most six integer digits per unit and 16
 * characters overall keep every accepted value inside int64 nanoseconds, so `duration()` never
 * fails on a string this pattern accepted.
 */
export const DURATION_PATTERN = '^([0-9]{1,6}([.][0-9]{1,9})?(ns|us|µs|ms|s|m|h))+$';

/** Longest duration string accepted (see {@link DURATION_PATTERN}). */
export const DURATION_MAX_LENGTH = 16;

/** CEL expression: true when the string expression `expr` is a duration this API accepts. */
export function celIsDuration(expr: string): string {
  return `${expr}.matches('${DURATION_PATTERN}')`;
}

/**
 * A Go-style duration string (`90s`, `10m`, `1h30m`), optionally bounded. Checked by CEL so the
 * error names the allowed form instead of printing a regular expression.
 */
export function Duration(options: Described & { min?: string; max?: string }): TString {
  const { min, max, ...schemaOptions } = options;
  const rules: CelRule[] = [{
    rule: celIsDuration('self'),
    message: 'must be a duration such as 30s, 10m or 1h30m (units h, m, s, ms, us, ns; at most 16 characters)',
  }];
  const bounds: string[] = [];
  if (min !== undefined) bounds.push(`duration(self) >= duration('${min}')`);
  if (max !== undefined) bounds.push(`duration(self) <= duration('${max}')`);
  if (bounds.length > 0) {
    const allowed = min !== undefined && max !== undefined ? `between ${min} and ${max}`
      : min !== undefined ? `at least ${min}` : `at most ${max}`;
    rules.push({ rule: `!${celIsDuration('self')} || (${bounds.join(' && ')})`, message: `must be ${allowed}` });
  }
  return Type.String(withRules({ ...schemaOptions, maxLength: DURATION_MAX_LENGTH }, ...rules));
}

/** RFC 1123 label (namespace and object names of at most 63 characters). */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/** A DNS-1123 label such as a namespace name, with a readable error. */
export function DnsLabel(options: Described): TString {
  return Type.String(withRules({ ...options, minLength: 1, maxLength: 63 }, {
    rule: `self.matches('${DNS_LABEL_PATTERN}')`,
    message: 'must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit',
  }));
}

/** RFC 1123 subdomain (most object names, trust domains). */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

/** A DNS-1123 subdomain such as a Secret name or a trust domain, with a readable error. */
export function DnsSubdomain(options: Described): TString {
  return Type.String(withRules({ ...options, minLength: 1, maxLength: 253 }, {
    rule: `self.matches('${DNS_SUBDOMAIN_PATTERN}')`,
    message: 'must be a DNS-1123 subdomain: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit',
  }));
}

/** A resource quantity (`500m`, `128Mi`, `2`), non-negative. */
export function Quantity(options: Described): TUnsafe<number | string> {
  return IntOrString(withRules({ ...options, maxLength: 64 }, {
    rule: "type(self) == int ? self >= 0 : (isQuantity(self) && !self.startsWith('-'))",
    message: 'must be a non-negative Kubernetes quantity such as 500m, 2, 128Mi or 1Gi',
  }));
}

/** CEL: the int-or-string quantity `expr` as a CEL quantity (ints are whole units). */
function celQuantity(expr: string): string {
  return `quantity(string(${expr}))`;
}

/** CEL: in a ResourceRequirements object, the resource keyed by `key` (an expression) is requested above its limit. */
function celRequestAboveLimit(key: string): string {
  const [request, limit] = [`self.requests[${key}]`, `self.limits[${key}]`];
  // Values that are not quantities fail their own rule; comparing them would be a runtime error.
  return `${key} in self.requests && ${key} in self.limits && isQuantity(string(${request})) && isQuantity(string(${limit}))`
    + ` && ${celQuantity(request)}.isGreaterThan(${celQuantity(limit)})`;
}

/** Resources named in request-above-limit messages; others get one rule with a fixed message. */
const NAMED_RESOURCES = ['cpu', 'memory', 'ephemeral-storage'] as const;

/**
 * Rules refusing a request above its limit (the API server would refuse every pod carrying it).
 * One rule per common resource, whose message quotes both values: a message built from a map
 * key would have no size bound, and the API server's cost estimate refuses it.
 */
function requestsWithinLimits(): CelRule[] {
  const guard = '!has(self.requests) || !has(self.limits)';
  const named = NAMED_RESOURCES.map((name): CelRule => ({
    rule: `${guard} || !(${celRequestAboveLimit(`'${name}'`)})`,
    messageExpression: `'requests.${name} (' + string(self.requests['${name}']) + ') must not exceed limits.${name} (' + string(self.limits['${name}']) + ')'`,
    fieldPath: '.requests',
  }));
  const others = NAMED_RESOURCES.map((name) => `key != '${name}'`).join(' && ');
  return [...named, {
    rule: `${guard} || !self.requests.exists(key, ${others} && ${celRequestAboveLimit('key')})`,
    message: 'each request must be at most the limit of the same resource',
    fieldPath: '.requests',
  }];
}

/**
 * Container resource requests and limits, as on a Pod. A request above its limit is refused, with
 * a message naming both values for cpu, memory and ephemeral-storage.
 */
export function ResourceRequirements(description: string) {
  const quantities = (what: string) => StringMap(
    Quantity({ description: `Quantity of the resource ${what}.` }),
    { description: `${what[0]!.toUpperCase()}${what.slice(1)} per resource name (cpu, memory, ephemeral-storage, ...).`, maxProperties: 16 },
  );
  return Type.Object({
    requests: Type.Optional(quantities('requested')),
    limits: Type.Optional(quantities('allowed at most')),
  }, { description, ...celRules(...requestsWithinLimits()) });
}

/** The operators of a label selector requirement. */
export const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** A label selector (`matchLabels` / `matchExpressions`), as on Deployments. */
export function LabelSelector(description: string) {
  return Type.Object({
    matchLabels: Type.Optional(StringMap(
      Type.String({ description: 'Label value.', maxLength: 63 }),
      { description: 'Labels that must all be present with exactly these values.', maxProperties: 32 },
    )),
    matchExpressions: Type.Optional(Type.Array(Type.Object({
      key: Type.String({ description: 'Label key the requirement applies to.', minLength: 1, maxLength: 317 }),
      operator: StringEnum(SELECTOR_OPERATORS, { description: 'How the label value relates to `values`.' }),
      values: Type.Optional(Type.Array(Type.String({ description: 'A label value.', maxLength: 63 }), {
        description: 'Values for In and NotIn (non-empty); must be empty for Exists and DoesNotExist.',
        maxItems: 64,
      })),
    }, {
      description: 'A requirement on one label.',
      ...celRules({
        rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
        messageExpression: "self.operator in ['In', 'NotIn'] ? 'values must be non-empty for operator ' + self.operator : 'values must be empty for operator ' + self.operator",
        fieldPath: '.values',
      }),
    }), { description: 'Requirements on labels that must all hold.', maxItems: 16 })),
  }, { description, 'x-kubernetes-map-type': 'atomic' });
}

/** Pod tolerations, as on a Pod spec. */
export function Tolerations(description: string) {
  return Type.Array(Type.Object({
    key: Type.Optional(Type.String({ description: 'Taint key the toleration applies to; empty with operator Exists matches all taints.', maxLength: 317 })),
    operator: Type.Optional(StringEnum(['Exists', 'Equal'], { description: 'Exists matches any value; Equal (the default) matches `value`.' })),
    value: Type.Optional(Type.String({ description: 'Taint value to match with operator Equal.', maxLength: 63 })),
    effect: Type.Optional(StringEnum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'], { description: 'Taint effect to match; empty matches all effects.' })),
    tolerationSeconds: Type.Optional(Type.Integer({ description: 'For NoExecute: how long the pod stays bound after the taint appears.', format: 'int64', minimum: 0 })),
  }, { description: 'A toleration of a node taint.' }), { description, maxItems: 32 });
}

/** A reference to a namespaced Secret. */
export function SecretReference(description: string) {
  return Type.Object({
    name: DnsSubdomain({ description: 'Name of the Secret.' }),
    namespace: DnsLabel({ description: 'Namespace of the Secret.' }),
  }, { description });
}
