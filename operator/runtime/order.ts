/**
 * Orders strings by UTF-16 code units. For Kubernetes names (DNS labels and subdomains: lowercase
 * letters, digits, '-', '.') it is the order localeCompare gives, without ICU's collation: that
 * costs a collator call per comparison (sorting a thousand namespaces every pass) and loads the
 * collation data into the process.
 */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
