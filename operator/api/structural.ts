/**
 * Offline checks of a CRD's openAPIV3Schema: the structural-schema rules the API server enforces
 * (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema),
 * plus this project's own rules: every field is described, every CEL rule has a message, and
 * everything a CEL rule can reach is bounded so the API server's cost estimator accepts it.
 * The generator refuses to write a CRD that fails them, so mistakes surface before a cluster does.
 */

type Node = Record<string, unknown>;

/** Keywords a CRD schema may use (apiextensions.k8s.io/v1 JSONSchemaProps); anything else is a mistake. */
const ALLOWED_KEYWORDS = new Set([
  'description', 'type', 'format', 'title', 'default', 'enum', 'nullable', 'example',
  'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum', 'multipleOf',
  'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'maxProperties', 'minProperties',
  'required', 'items', 'properties', 'additionalProperties', 'allOf', 'anyOf', 'oneOf', 'not',
  'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource', 'x-kubernetes-int-or-string',
  'x-kubernetes-list-map-keys', 'x-kubernetes-list-type', 'x-kubernetes-map-type', 'x-kubernetes-validations',
]);

/** Keywords that must not appear inside anyOf/allOf/oneOf/not (value validations only). */
const FORBIDDEN_IN_VALUE_VALIDATION = ['description', 'type', 'default', 'additionalProperties', 'nullable', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource', 'x-kubernetes-int-or-string', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type', 'x-kubernetes-validations'];

const SCALAR_TYPES = new Set(['string', 'integer', 'number', 'boolean']);
const TYPES = new Set([...SCALAR_TYPES, 'object', 'array']);
const CEL_REASONS = new Set(['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate']);

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `node` is the int-or-string exception: no type, an anyOf of exactly integer and string. */
function isIntOrStringAnyOf(node: Node): boolean {
  const branches = node.anyOf;
  return node['x-kubernetes-int-or-string'] === true && Array.isArray(branches) && branches.length === 2
    && branches.every((branch) => isNode(branch) && Object.keys(branch).length === 1)
    && (branches as Node[]).map((branch) => branch.type).sort().join(',') === 'integer,string';
}

/** Whether `value` could be stored under `node` as far as type, enum and simple bounds go. */
function defaultViolations(node: Node, value: unknown, path: string): string[] {
  const problems: string[] = [];
  const type = node.type;
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  if (intOrString) {
    if (!(Number.isInteger(value) || typeof value === 'string')) problems.push(`${path}: default ${JSON.stringify(value)} is neither an integer nor a string`);
  } else if (type === 'integer' ? !Number.isInteger(value) : type === 'number' ? actual !== 'number' : type !== undefined && actual !== type) {
    problems.push(`${path}: default ${JSON.stringify(value)} is not of type ${String(type)}`);
  }
  if (Array.isArray(node.enum) && !node.enum.includes(value)) problems.push(`${path}: default ${JSON.stringify(value)} is not one of the enum values`);
  if (typeof value === 'number') {
    if (typeof node.minimum === 'number' && value < node.minimum) problems.push(`${path}: default ${value} is below minimum ${node.minimum}`);
    if (typeof node.maximum === 'number' && value > node.maximum) problems.push(`${path}: default ${value} is above maximum ${node.maximum}`);
  }
  if (typeof value === 'string') {
    if (typeof node.maxLength === 'number' && value.length > node.maxLength) problems.push(`${path}: default is longer than maxLength`);
    if (typeof node.pattern === 'string' && !new RegExp(node.pattern, 'u').test(value)) problems.push(`${path}: default does not match pattern`);
  }
  if (isNode(value) && isNode(node.properties)) {
    const properties = node.properties;
    for (const [field, fieldValue] of Object.entries(value)) {
      const fieldSchema = properties[field];
      if (!isNode(fieldSchema)) problems.push(`${path}: default sets unknown field ${field}`);
      else problems.push(...defaultViolations(fieldSchema, fieldValue, `${path}.${field}`));
    }
  }
  return problems;
}

/**
 * Why a node reachable from a CEL rule would make the cost estimator reject the rule: strings,
 * lists and maps without an upper bound are assumed to be as large as a whole request.
 */
function unboundedViolations(node: Node, path: string): string[] {
  const problems: string[] = [];
  if (node.type === 'string' && node.maxLength === undefined && node.enum === undefined && node.format !== 'date-time') {
    problems.push(`${path}: string reachable from a CEL rule needs maxLength (or enum)`);
  }
  if (node.type === 'array' && node.maxItems === undefined) problems.push(`${path}: list reachable from a CEL rule needs maxItems`);
  if (node.type === 'object' && isNode(node.additionalProperties) && node.maxProperties === undefined) {
    problems.push(`${path}: map reachable from a CEL rule needs maxProperties`);
  }
  if (isNode(node.properties)) {
    for (const [field, child] of Object.entries(node.properties)) if (isNode(child)) problems.push(...unboundedViolations(child, `${path}.${field}`));
  }
  if (isNode(node.items)) problems.push(...unboundedViolations(node.items, `${path}[*]`));
  if (isNode(node.additionalProperties)) problems.push(...unboundedViolations(node.additionalProperties, `${path}[*]`));
  return problems;
}

function celViolations(node: Node, path: string): string[] {
  const rules = node['x-kubernetes-validations'];
  if (rules === undefined) return [];
  if (!Array.isArray(rules)) return [`${path}: x-kubernetes-validations must be a list`];
  const problems: string[] = [];
  for (const [index, rule] of rules.entries()) {
    const where = `${path}: x-kubernetes-validations[${index}]`;
    if (!isNode(rule) || typeof rule.rule !== 'string' || rule.rule.length === 0) {
      problems.push(`${where} has no rule`);
      continue;
    }
    if (typeof rule.message !== 'string' && typeof rule.messageExpression !== 'string') problems.push(`${where} (${rule.rule}) has neither message nor messageExpression`);
    if (typeof rule.message === 'string' && /[\r\n]/.test(rule.message)) problems.push(`${where}: message must be a single line`);
    if (rule.fieldPath !== undefined && !(typeof rule.fieldPath === 'string' && fieldPathExists(node, rule.fieldPath))) {
      problems.push(`${where}: fieldPath ${String(rule.fieldPath)} does not name a field below this node`);
    }
    if (rule.reason !== undefined && !CEL_REASONS.has(String(rule.reason))) problems.push(`${where}: unknown reason ${String(rule.reason)}`);
  }
  problems.push(...unboundedViolations(node, path));
  return problems;
}

/** Whether a CEL rule's `fieldPath` (`.a.b`) names a declared property below `node`. */
function fieldPathExists(node: Node, fieldPath: string): boolean {
  if (!/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(fieldPath)) return false;
  let current: Node | undefined = node;
  for (const field of fieldPath.slice(1).split('.')) {
    const properties: unknown = current?.properties;
    const next: unknown = isNode(properties) ? properties[field] : undefined;
    current = isNode(next) ? next : undefined;
  }
  return current !== undefined;
}

function listViolations(node: Node, path: string): string[] {
  const listType = node['x-kubernetes-list-type'];
  if (listType === undefined) return [];
  const items = node.items;
  if (!isNode(items)) return [`${path}: x-kubernetes-list-type on a node without items`];
  if (listType === 'set' && !SCALAR_TYPES.has(String(items.type))) return [`${path}: list-type set needs scalar items`];
  if (listType === 'atomic' || listType === 'set') return [];
  if (listType !== 'map') return [`${path}: unknown x-kubernetes-list-type ${String(listType)}`];
  const keys = node['x-kubernetes-list-map-keys'];
  if (items.type !== 'object' || !isNode(items.properties)) return [`${path}: list-type map needs object items with properties`];
  if (!Array.isArray(keys) || keys.length === 0) return [`${path}: list-type map needs x-kubernetes-list-map-keys`];
  const required = Array.isArray(items.required) ? items.required : [];
  const problems: string[] = [];
  for (const key of keys as string[]) {
    const keySchema = items.properties[key];
    if (!isNode(keySchema)) problems.push(`${path}: list-map key ${key} is not a property of the items`);
    else {
      if (!SCALAR_TYPES.has(String(keySchema.type))) problems.push(`${path}: list-map key ${key} must be a scalar`);
      if (!required.includes(key) && keySchema.default === undefined) problems.push(`${path}: list-map key ${key} must be required or defaulted`);
    }
  }
  return problems;
}

/**
 * Walks `node` (a schema the API server sees at `path`) and returns every rule it breaks.
 * `inValueValidation` is set below anyOf/allOf/oneOf/not, where only value checks are allowed.
 */
function walk(node: Node, path: string, options: { inValueValidation: boolean; isProperty: boolean }): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(node)) {
    if (!ALLOWED_KEYWORDS.has(key)) problems.push(`${path}: keyword ${key} is not allowed in a CRD schema`);
  }
  if (options.inValueValidation) {
    for (const key of FORBIDDEN_IN_VALUE_VALIDATION) if (key in node) problems.push(`${path}: ${key} is not allowed inside anyOf/allOf/oneOf/not`);
  } else {
    const exempt = node['x-kubernetes-int-or-string'] === true || node['x-kubernetes-preserve-unknown-fields'] === true;
    if (node.type === undefined && !exempt) problems.push(`${path}: every node needs a type`);
    if (node.type !== undefined && !TYPES.has(String(node.type))) problems.push(`${path}: unknown type ${String(node.type)}`);
    if (node['x-kubernetes-int-or-string'] === true) {
      if (node.type !== undefined) problems.push(`${path}: x-kubernetes-int-or-string must not have a type`);
      if (node.anyOf !== undefined && !isIntOrStringAnyOf(node)) problems.push(`${path}: int-or-string anyOf must be exactly [{type: integer}, {type: string}]`);
    }
    if (options.isProperty && (typeof node.description !== 'string' || node.description.trim() === '')) {
      problems.push(`${path}: every field needs a description (kubectl explain shows it)`);
    }
    if (node.default !== undefined) problems.push(...defaultViolations(node, node.default, path));
  }
  if (node.uniqueItems === true) problems.push(`${path}: uniqueItems is not allowed; use x-kubernetes-list-type: set or map`);
  if (node.additionalProperties !== undefined) {
    if (typeof node.additionalProperties === 'boolean') problems.push(`${path}: additionalProperties must be a schema, not a boolean`);
    if (node.properties !== undefined) problems.push(`${path}: properties and additionalProperties are mutually exclusive`);
  }
  if (node.type === 'array' && !isNode(node.items)) problems.push(`${path}: arrays need items (one schema)`);
  if (Array.isArray(node.required) && isNode(node.properties)) {
    for (const field of node.required as string[]) if (!(field in node.properties)) problems.push(`${path}: required field ${field} is not declared`);
  }
  problems.push(...listViolations(node, path), ...celViolations(node, path));

  const child = { inValueValidation: options.inValueValidation, isProperty: false };
  if (isNode(node.properties)) {
    for (const [field, schema] of Object.entries(node.properties)) {
      problems.push(...(isNode(schema) ? walk(schema, `${path}.${field}`, { ...child, isProperty: true }) : [`${path}.${field}: not a schema`]));
    }
  }
  if (isNode(node.items)) problems.push(...walk(node.items, `${path}[*]`, child));
  if (isNode(node.additionalProperties)) problems.push(...walk(node.additionalProperties, `${path}[*]`, child));
  for (const keyword of ['anyOf', 'allOf', 'oneOf'] as const) {
    const branches = node[keyword];
    if (branches === undefined) continue;
    // The int-or-string anyOf is the one place branches may carry a type.
    if (keyword === 'anyOf' && isIntOrStringAnyOf(node)) continue;
    if (!Array.isArray(branches)) problems.push(`${path}: ${keyword} must be a list`);
    else branches.forEach((branch, index) => problems.push(...(isNode(branch)
      ? walk(branch, `${path}.${keyword}[${index}]`, { inValueValidation: true, isProperty: false })
      : [`${path}.${keyword}[${index}]: not a schema`])));
  }
  if (isNode(node.not)) problems.push(...walk(node.not, `${path}.not`, { inValueValidation: true, isProperty: false }));
  return problems;
}

/**
 * Every way `openAPIV3Schema` breaks the structural-schema rules or this project's schema rules;
 * empty when it is fine. Checks the metadata rule too: only name/generateName may be constrained.
 */
export function findStructuralViolations(openAPIV3Schema: Node): string[] {
  const properties = isNode(openAPIV3Schema.properties) ? openAPIV3Schema.properties : {};
  const { metadata, ...rest } = properties;
  // The API server owns metadata: the schema may say it is an object and constrain name and
  // generateName, nothing more (not even a description).
  const required = Array.isArray(openAPIV3Schema.required) ? (openAPIV3Schema.required as string[]).filter((field) => field !== 'metadata') : undefined;
  const problems = walk({ ...openAPIV3Schema, properties: rest, required }, 'openAPIV3Schema', { inValueValidation: false, isProperty: false });
  if (openAPIV3Schema.type !== 'object') problems.push('openAPIV3Schema: the root must be of type object');
  if (typeof openAPIV3Schema.description !== 'string') problems.push('openAPIV3Schema: the root needs a description');
  for (const field of ['apiVersion', 'kind']) {
    const schema = properties[field];
    if (isNode(schema) && schema.type !== 'string') problems.push(`openAPIV3Schema.${field}: must be of type string`);
  }
  if (isNode(metadata)) {
    if (metadata.type !== 'object') problems.push('openAPIV3Schema.metadata: must be of type object');
    const extraKeywords = Object.keys(metadata).filter((key) => key !== 'type' && key !== 'properties');
    if (extraKeywords.length > 0) problems.push(`openAPIV3Schema.metadata: only type and properties may be set, not ${extraKeywords.join(', ')}`);
    const metadataFields = isNode(metadata.properties) ? Object.keys(metadata.properties) : [];
    const extra = metadataFields.filter((field) => field !== 'name' && field !== 'generateName');
    if (extra.length > 0) problems.push(`openAPIV3Schema.metadata: only name and generateName may be specified, not ${extra.join(', ')}`);
  }
  return problems;
}
