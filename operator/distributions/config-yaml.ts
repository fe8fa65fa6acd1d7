/**
 * YAML embedded in ConfigMaps that the meshes' Go code reads (Linkerd's `linkerd-config` values,
 * Istio's mesh config).
 *
 * Those readers follow YAML 1.1 (go-yaml v2, also behind sigs.k8s.io/yaml), where plain `off`,
 * `on`, `yes`, `no`, `y`, `n` (in any of their case variants) are booleans, `~` is null, `0777` is
 * octal and `1:20` is a base-60 number. Written the YAML 1.2 way they stay unquoted, so
 * `logHTTPHeaders: off` reaches Linkerd as `false`. Upstream's own renders quote them
 * (`logHTTPHeaders: "off"`): they are written by a YAML 1.1 writer.
 */
import { stringify, type CreateNodeOptions, type DocumentOptions, type SchemaOptions, type ToStringOptions } from 'yaml';

/** Options of `yaml`'s stringify other than the YAML version, which this module fixes. */
export type ConfigYamlOptions = Omit<DocumentOptions, 'version'> & SchemaOptions & CreateNodeOptions & ToStringOptions;

/**
 * `value` as YAML that a YAML 1.1 reader and a YAML 1.2 reader read alike: the 1.1 schema quotes
 * every string it would otherwise resolve to another type. No `%YAML` directive is written.
 */
export function configYaml(value: unknown, options: ConfigYamlOptions = {}): string {
  return stringify(value, { ...options, version: '1.1' });
}
