// TabSeparated lines, for servers without JSONCompactEachRow input (18.16). There the alternative is
// JSONEachRow — an object per row, keys repeated on every line — which cost the engine's main thread
// ~2.5× what an array costs (benchmarks/clickhouse/README.md, sections 2 and 3). On chDB and current
// servers JSONCompactEachRow stays: JSON.stringify of an array is faster in JS than building a TSV line,
// and chDB parses both for about the same CPU (same README, section 2).
//
// Built per column from the table's own types (DESCRIBE TABLE at open), because TSV, unlike JSON, has
// no types of its own: a DateTime64 field holding a bare integer is read by its digit count (20240601 is
// a date, 100000000 seconds), so times are written as text. Escaping (ClickHouse's TSV input rules):
// backslash, tab, newline, carriage return and NUL as \\ \t \n \r \0 in every field; inside arrays,
// strings are quoted with ' and a quote is escaped as \'. NULL is \N (NULL inside arrays).
// A type not handled here (Tuple, Map, JSON, Nested, Date, a DateTime without the UTC zone, …) makes
// the whole table fall back to JSON: tsvEncoder returns null.

export type TsvEncoder = (values: readonly unknown[]) => string

type Enc = (v: unknown) => string

const SPECIAL = /[\t\n\r\\\0]/
const SPECIAL_G = /[\t\n\r\\\0]/g
const QUOTED_G = /[\t\n\r\\\0']/g
const ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\', '\0': '\\0', "'": "\\'" }
const escapeField = (s: string): string => (SPECIAL.test(s) ? s.replace(SPECIAL_G, (c) => ESCAPES[c]) : s)
const quote = (s: string): string => `'${s.replace(QUOTED_G, (c) => ESCAPES[c])}'`

const p2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`)
/** 'YYYY-MM-DD hh:mm:ss' in UTC, then `digits` fractional digits of the millisecond value. */
function utcText(ms: number, digits: number): string {
  const d = new Date(ms)
  const base = `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`
  if (digits === 0) return base
  const frac = String(d.getUTCMilliseconds()).padStart(3, '0')
  return `${base}.${digits <= 3 ? frac.slice(0, digits) : frac.padEnd(digits, '0')}`
}

function number(v: unknown, integer: boolean): string {
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return String(v)
    // JSON would have sent null (NaN, ±Infinity): an integer column read that as 0.
    if (integer) return '0'
    return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf'
  }
  if (typeof v === 'boolean') return v ? '1' : '0'
  if (typeof v === 'bigint') return v.toString()
  return String(v)
}

/** Splits "A, B(C, D), E" at top-level commas (quotes respected). Also rowbinary.ts. */
export function splitArgs(s: string): string[] {
  const out: string[] = []
  let depth = 0
  let start = 0
  let inQuote = false
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (inQuote) {
      if (c === '\\') i++
      else if (c === "'") inQuote = false
    } else if (c === "'") inQuote = true
    else if (c === '(') depth++
    else if (c === ')') depth--
    else if (c === ',' && depth === 0) {
      out.push(s.slice(start, i).trim())
      start = i + 1
    }
  }
  out.push(s.slice(start).trim())
  return out
}

/** The arguments of `name(…)`, or null when `type` is not one. */
export function unwrap(type: string, name: string): string | null {
  return type.startsWith(`${name}(`) && type.endsWith(')') ? type.slice(name.length + 1, -1).trim() : null
}

/**
 * Encoder of one value of `type`: `quoted` for an element inside an array (strings and times in quotes,
 * NULL as NULL), else a top-level TSV field. null when the type is not handled.
 */
function valueEncoder(type: string, quoted: boolean): Enc | null {
  type = type.trim()
  const lc = unwrap(type, 'LowCardinality')
  if (lc !== null) return valueEncoder(lc, quoted)
  const nullable = unwrap(type, 'Nullable')
  if (nullable !== null) {
    const inner = valueEncoder(nullable, quoted)
    if (!inner) return null
    const nul = quoted ? 'NULL' : '\\N'
    return (v) => (v === null || v === undefined ? nul : inner(v))
  }
  const array = unwrap(type, 'Array')
  if (array !== null) {
    const el = valueEncoder(array, true)
    if (!el) return null
    const wrap = quoted ? (s: string) => s : escapeField
    return (v) => {
      if (!Array.isArray(v)) return wrap(String(v))
      let s = '['
      for (let i = 0; i < v.length; i++) s += (i > 0 ? ',' : '') + el(v[i])
      return s + ']'
    }
  }
  const nul = quoted ? 'NULL' : '\\N'
  if (/^U?Int(8|16|32|64|128|256)$/.test(type)) return (v) => (v === null || v === undefined ? nul : number(v, true))
  if (/^(Float(32|64)|BFloat16|Decimal(32|64|128|256)?\(.*\))$/.test(type)) return (v) => (v === null || v === undefined ? nul : number(v, false))
  if (type === 'Bool') return (v) => (v === null || v === undefined ? nul : v ? 'true' : 'false')
  if (type === 'String' || /^FixedString\(\d+\)$/.test(type) || /^Enum(8|16)?\(/.test(type) || type === 'UUID' || type === 'IPv4' || type === 'IPv6') {
    return quoted
      ? (v) => (v === null || v === undefined ? 'NULL' : typeof v === 'string' ? quote(v) : typeof v === 'number' || typeof v === 'boolean' ? String(v) : quote(JSON.stringify(v)))
      : (v) => (v === null || v === undefined ? '\\N' : typeof v === 'string' ? escapeField(v) : typeof v === 'number' || typeof v === 'boolean' ? String(v) : escapeField(JSON.stringify(v)))
  }
  // Times: epoch milliseconds (as the row formats hold them) written as UTC text — only for columns
  // whose zone is UTC, so the text means the same instant whatever the server's own zone.
  const dt64 = /^DateTime64\((\d+)\s*,\s*'UTC'\)$/.exec(type)
  const dt = type === "DateTime('UTC')"
  if (dt64 || dt) {
    const digits = dt64 ? Number(dt64[1]) : 0
    return (v) => {
      if (v === null || v === undefined) return nul
      if (typeof v !== 'number' || !Number.isFinite(v)) return quoted ? quote(String(v)) : escapeField(String(v))
      // DateTime (seconds) takes what JSON gave it: a number of seconds.
      const text = utcText(dt ? v * 1000 : v, digits)
      return quoted ? `'${text}'` : text
    }
  }
  return null
}

/** A TSV line encoder for columns of these types, in this order; null if any type is not handled. */
export function tsvEncoder(types: readonly string[]): TsvEncoder | null {
  const encs: Enc[] = []
  for (const t of types) {
    const e = valueEncoder(t, false)
    if (!e) return null
    encs.push(e)
  }
  const n = encs.length
  return (values) => {
    let s = encs[0](values[0])
    for (let i = 1; i < n; i++) s += '\t' + encs[i](values[i])
    return s
  }
}

const UNESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', '0': '\0', b: '\b', f: '\f', a: '\x07', v: '\v' }

/** A TSV line back as one string per field, unescaped (for dead letters: the row readable as JSON). */
export function tsvFields(line: string): string[] {
  return line.split('\t').map((f) => (f === '\\N' ? '\\N' : f.replace(/\\(.)/g, (_, c: string) => UNESCAPES[c] ?? c)))
}
