/**
 * The one redaction of key material, applied at the boundary of every sink that leaves the process:
 * each log line (logger.ts), each Event note (events.ts) and the status write (the reconciler's
 * status step). Whatever a message was built from — an API server error quoting an object, an
 * overlay's own values, a Secret's data — what reaches a person or a log store carries no key.
 *
 * It recognises key material in every encoding it travels in, also inside longer strings:
 * - PEM blocks (`-----BEGIN …-----`), also cut short (a truncated message);
 * - base64 of PEM (a Secret's `data`, a kubeconfig's `client-key-data`), at any alignment;
 * - DER in base64 (a PEM body without its armour, with or without line breaks), recognised by
 *   its ASN.1 shape: a SEQUENCE whose first element is an INTEGER (a private key's version) or a
 *   SEQUENCE (a certificate's body), long enough to be a key;
 * - DER in hex, by the same shape;
 * - any of these base64-encoded once more.
 * Certificates are redacted along with keys: telling them apart would mean parsing what may be a
 * key, and a certificate in a message is never what a person needs (fingerprints are).
 */

/** What replaces key material. */
export const REDACTED_KEY_MATERIAL = '[Redacted key material]';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[^"]*?-----END \1-----/g;
// A BEGIN line whose END was cut off: drop everything that can belong to the block, including
// JSON-escaped line breaks and legacy headers ("Proc-Type: 4,ENCRYPTED").
const PEM_UNTERMINATED = /-----BEGIN [A-Z0-9 ]+-----(?:[A-Za-z0-9+/=\s:,.-]|\\[nrt])*/g;
// Base64 text, possibly broken into lines (raw or JSON-escaped). It starts and ends with base64
// characters, so replacing it never leaves half an escape behind (JSON stays valid).
const BASE64_RUN = /[A-Za-z0-9+/]{8,}(?:(?:\\[rn]|\r?\n)+[A-Za-z0-9+/]{2,})*={0,2}/g;
const HEX_RUN = /(?:[0-9a-fA-F]{2}){48,}/g;
// base64 of "-----BEGIN" at each of the three byte alignments it can start at within encoded text
// (the characters fixed by the dashes and "BEGIN" alone, whatever comes before and after).
const BASE64_PEM_MARKERS = ['LS0tLS1CRUdJT', 'LS0tQkVHSU', 'LS0tLUJFR0lO'];
/** Shortest DER taken for key material: a P-256 key is over 100 bytes; hashes and UIDs are far shorter. */
const MIN_DER_BYTES = 48;
/** Shortest base64 run looked into (below MIN_DER_BYTES once decoded, it cannot hold a key). */
const MIN_BASE64_CHARS = 64;
/** How many times material may be base64-encoded over itself and still be found. */
const MAX_NESTING = 2;
/** Candidate DER starts tried within one run (bounds the work on long innocent text). */
const MAX_DER_CANDIDATES = 16;

/**
 * Whether `bytes` starts like DER of a key or certificate: a SEQUENCE with a definite length whose
 * first element is an INTEGER or a SEQUENCE, at least {@link MIN_DER_BYTES} long — complete, or
 * the start of one (a cut-off message).
 */
function looksLikeDer(bytes: Uint8Array): boolean {
  if (bytes.length < MIN_DER_BYTES || bytes[0] !== 0x30) return false;
  const first = bytes[1]!;
  let length: number;
  let header: number;
  if (first < 0x80) {
    [length, header] = [first, 2];
  } else {
    const octets = first & 0x7f;
    if (octets < 1 || octets > 3) return false;
    length = 0;
    for (let i = 0; i < octets; i++) length = (length << 8) | bytes[2 + i]!;
    header = 2 + octets;
    // DER uses the long form only where the short one cannot say it.
    if (length < 0x80) return false;
  }
  const element = bytes[header];
  return length + header >= MIN_DER_BYTES && (element === 0x02 || element === 0x30);
}

function base64Bytes(text: string): Buffer {
  return Buffer.from(text.slice(0, text.length - (text.length % 4)), 'base64');
}

/** Whether a base64 run (line breaks removed) is key material, at any alignment or nesting. */
function base64HoldsKeys(run: string, depth: number): boolean {
  if (BASE64_PEM_MARKERS.some((marker) => run.includes(marker))) return true;
  // DER of a key or certificate is 0x30 then its length: in base64 "MI" (long form) or "MC"…"MH"
  // (short form, 46 to 127 bytes); try each place it could begin.
  let candidates = 0;
  for (let i = run.search(/M[C-I]/); i >= 0 && candidates < MAX_DER_CANDIDATES; i = run.indexOf('M', i + 1)) {
    if (!/^M[C-I]/.test(run.slice(i, i + 2))) continue;
    candidates++;
    if (looksLikeDer(base64Bytes(run.slice(i)))) return true;
  }
  if (depth >= MAX_NESTING) return false;
  const decoded = base64Bytes(run).toString('latin1');
  return decoded.includes('-----BEGIN') || containsAt(decoded, depth + 1);
}

function hexHoldsKeys(run: string): boolean {
  return looksLikeDer(Buffer.from(run, 'hex'));
}

/**
 * A base64 run split where one encoded text ends and the next begins: a line break continues the
 * text only after a full line (64 characters in PEM, 76 in MIME), so that a word on the next line
 * ("…AB==\nend") is not taken for part of a key. Separators stay with what follows them.
 */
function encodedTexts(run: string): string[] {
  const parts = run.split(/((?:\\[rn]|\r?\n)+)/);
  const texts: string[] = [parts[0]!];
  for (let i = 1; i < parts.length; i += 2) {
    const full = [64, 76].includes(parts[i - 1]!.length);
    if (full) texts[texts.length - 1] += parts[i]! + parts[i + 1]!;
    else texts.push(parts[i]! + parts[i + 1]!);
  }
  return texts;
}

/** Whether one encoded text (see {@link encodedTexts}) is key material. */
function encodedHoldsKeys(text: string, depth: number): boolean {
  const joined = text.replace(/\\[rn]|\s/g, '');
  return joined.length >= MIN_BASE64_CHARS && base64HoldsKeys(joined, depth);
}

function containsAt(text: string, depth: number): boolean {
  if (text.includes('-----BEGIN')) return true;
  for (const run of text.match(BASE64_RUN) ?? []) if (encodedTexts(run).some((encoded) => encodedHoldsKeys(encoded, depth))) return true;
  return (text.match(HEX_RUN) ?? []).some(hexHoldsKeys);
}

/** Whether `text` holds key material in any encoding this module recognises. */
export function containsKeyMaterial(text: string): boolean {
  return containsAt(text, 0);
}

/**
 * `text` with every piece of key material replaced by {@link REDACTED_KEY_MATERIAL}. Safe on
 * serialized JSON: a replacement never crosses a string's closing quote or splits an escape.
 */
export function redactKeyMaterial(text: string): string {
  return text
    .replace(PEM_BLOCK, REDACTED_KEY_MATERIAL)
    .replace(PEM_UNTERMINATED, REDACTED_KEY_MATERIAL)
    .replace(BASE64_RUN, (run) => encodedTexts(run).map((encoded) => {
      if (!encodedHoldsKeys(encoded, 0)) return encoded;
      // A separator that begins a text belongs to what came before it: keep it.
      const separator = /^(?:\\[rn]|\r?\n)*/.exec(encoded)![0];
      return separator + REDACTED_KEY_MATERIAL;
    }).join(''))
    .replace(HEX_RUN, (run) => (hexHoldsKeys(run) ? REDACTED_KEY_MATERIAL : run));
}

/** Redacts every string inside `value` (objects and arrays, at any depth) in place. */
export function redactKeyMaterialInPlace(value: object): void {
  const entries: Array<[Record<string | number, unknown>, string | number]> = Array.isArray(value)
    ? value.map((_, i) => [value as unknown as Record<number, unknown>, i])
    : Object.keys(value).map((key) => [value as Record<string, unknown>, key]);
  for (const [holder, key] of entries) {
    const item = holder[key];
    if (typeof item === 'string') holder[key] = redactKeyMaterial(item);
    else if (item && typeof item === 'object') redactKeyMaterialInPlace(item);
  }
}
