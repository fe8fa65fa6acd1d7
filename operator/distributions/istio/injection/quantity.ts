/**
 * Kubernetes quantities in their canonical form, as the API server (and Go's `resource.Quantity`,
 * which Istio's injector serialises through) writes them: `2000m` → `2`, `1024Mi` → `1Gi`,
 * `0.5` → `500m`. The proxy's resources and the resource annotations reach the pod this way.
 */

const DECIMAL_SUFFIXES: ReadonlyArray<[string, number]> = [['n', -9], ['u', -6], ['m', -3], ['', 0], ['k', 3], ['M', 6], ['G', 9], ['T', 12], ['P', 15], ['E', 18]];
const BINARY_SUFFIXES: ReadonlyArray<[string, number]> = [['Ki', 10], ['Mi', 20], ['Gi', 30], ['Ti', 40], ['Pi', 50], ['Ei', 60]];

/** A quantity as an exact rational: `numerator / 10^scale`. */
interface Exact {
  numerator: bigint;
  scale: number;
}

function parseDecimal(number: string): Exact | undefined {
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(number);
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) return undefined;
  const fraction = match[3] ?? '';
  const numerator = BigInt(`${match[1]}${match[2] || '0'}${fraction}`);
  return { numerator, scale: fraction.length };
}

/** The decimal-SI form of `value` (an exact rational), rounded up to nano units as Kubernetes does. */
function decimalForm(value: Exact): string {
  // value = numerator / 10^scale; express as mantissa * 10^exponent with exponent >= -9.
  let mantissa = value.numerator;
  let exponent = -value.scale;
  if (exponent < -9) {
    const divisor = 10n ** BigInt(-9 - exponent);
    const rounded = mantissa / divisor + (mantissa % divisor === 0n ? 0n : mantissa > 0n ? 1n : 0n);
    mantissa = rounded;
    exponent = -9;
  }
  if (mantissa === 0n) return '0';
  // Align the exponent down to a multiple of 3, then move up while the mantissa stays whole.
  while (((exponent % 3) + 3) % 3 !== 0) {
    mantissa *= 10n;
    exponent -= 1;
  }
  while (exponent < 18 && mantissa % 1000n === 0n) {
    mantissa /= 1000n;
    exponent += 3;
  }
  const suffix = DECIMAL_SUFFIXES.find(([, e]) => e === exponent)?.[0] ?? '';
  return `${mantissa}${suffix}`;
}

/**
 * The canonical form of a quantity string; a value that is not a quantity is returned as given
 * (validation, not this function, refuses it). Binary-suffixed quantities stay binary while they
 * are whole bytes; exponent forms (`1e3`) are kept as written.
 */
export function canonicalQuantity(text: string | number): string {
  const raw = String(text).trim();
  const binary = BINARY_SUFFIXES.find(([s]) => raw.endsWith(s));
  if (binary) {
    const value = parseDecimal(raw.slice(0, -2));
    if (!value) return raw;
    // bytes = numerator * 2^power / 10^scale
    const bytesScaled = value.numerator * (1n << BigInt(binary[1]));
    const divisor = 10n ** BigInt(value.scale);
    if (bytesScaled % divisor !== 0n) return decimalForm({ numerator: bytesScaled, scale: value.scale });
    let bytes = bytesScaled / divisor;
    if (bytes === 0n) return '0';
    let power = 0;
    while (power < 60 && bytes % 1024n === 0n) {
      bytes /= 1024n;
      power += 10;
    }
    // Go writes whole bytes below 1Ki in decimal-SI form (e.g. 512 stays 512, 2048 bytes is 2Ki).
    if (power === 0) return decimalForm({ numerator: bytes, scale: 0 });
    return `${bytes}${BINARY_SUFFIXES.find(([, p]) => p === power)![0]}`;
  }
  const decimal = DECIMAL_SUFFIXES.filter(([s]) => s !== '').find(([s]) => raw.endsWith(s));
  const number = decimal ? raw.slice(0, -decimal[0].length) : raw;
  const value = parseDecimal(number);
  if (!value) return raw;
  return decimalForm({ numerator: value.numerator, scale: value.scale - (decimal?.[1] ?? 0) });
}
