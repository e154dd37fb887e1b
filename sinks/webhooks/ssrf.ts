// Egress policy for webhooks (server-side request forgery): a webhook URL is chosen by a tenant, so
// without a check a tenant could make the server call its own admin ports, a cloud metadata
// endpoint (169.254.169.254) or anything on the private network.
//
// The rule: resolve the host and refuse the delivery if ANY of its addresses is not a public unicast
// address (IPv4 and IPv6; an IPv4-mapped ::ffff:a.b.c.d, an IPv4-compatible ::a.b.c.d, NAT64
// 64:ff9b::a.b.c.d and 6to4 2002:AABB:CCDD:: address is judged by the IPv4 address inside it). The
// check happens inside the connection's own DNS lookup (guardedLookup, passed as `lookup` to
// http.request), so the address checked is the address connected to: a DNS answer that changes
// between check and connect (DNS rebinding) cannot slip through. IP-literal hosts skip DNS in
// net.connect, so checkUrl() checks them before the request. Redirects are never followed.
//
// Blocked ranges (IANA special-purpose registries, RFC 6890 and updates):
//   IPv4: 0/8 this-network, 10/8, 172.16/12, 192.168/16 private, 100.64/10 shared (CGNAT), 127/8
//   loopback, 169.254/16 link-local (cloud metadata), 192.0.0/24 IETF, 192.0.2/24, 198.51.100/24,
//   203.0.113/24 documentation, 192.88.99/24 6to4 relay, 198.18/15 benchmarking, 224/4 multicast,
//   240/4 reserved and broadcast.
//   IPv6: :: unspecified, ::1 loopback, 100::/64 discard, 2001::/23 IETF protocol (Teredo, ORCHID…),
//   2001:db8::/32 documentation, fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local,
//   ff00::/8 multicast; ::/96, ::ffff:0:0/96, 64:ff9b::/96, 64:ff9b:1::/48, 2002::/16 by their IPv4.
// An operator can allow specific ranges (allowCidrs, e.g. a test receiver on 127.0.0.1/32) or all
// private ranges (allowPrivate) — never by default.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP } from 'node:net'
import { z } from 'zod'

export const egressPolicySchema = z.strictObject({
  /** Allow every private, loopback and link-local destination (development only). */
  allowPrivate: z.boolean().default(false),
  /** Ranges allowed even though private, e.g. ["127.0.0.1/32"] for a local receiver. */
  allowCidrs: z.array(z.string().refine((s) => parseCidr(s) !== null, 'not a CIDR range like 10.1.2.0/24 or fd00::/8')).default([]),
})
export type EgressPolicy = z.output<typeof egressPolicySchema>
export type EgressPolicyInput = z.input<typeof egressPolicySchema>

type Bytes = number[]

export function parseIPv4(s: string): Bytes | null {
  const parts = s.split('.')
  if (parts.length !== 4) return null
  const out: Bytes = []
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null
    const n = Number(p)
    if (n > 255) return null
    out.push(n)
  }
  return out
}

export function parseIPv6(input: string): Bytes | null {
  let s = input
  const zone = s.indexOf('%')
  if (zone >= 0) s = s.slice(0, zone)
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1)
  if (isIP(s) !== 6) return null
  let tail: Bytes = []
  const lastColon = s.lastIndexOf(':')
  if (s.indexOf('.', lastColon) >= 0) {
    const v4 = parseIPv4(s.slice(lastColon + 1))
    if (!v4) return null
    tail = v4
    s = s.slice(0, lastColon + 1) + '0:0'
  }
  const halves = s.split('::')
  const groups = (h: string) => (h.length === 0 ? [] : h.split(':'))
  const head = groups(halves[0])
  const rest = halves.length > 1 ? groups(halves[1]) : []
  const fill = 8 - head.length - rest.length
  const all = [...head, ...Array(halves.length > 1 ? fill : 0).fill('0'), ...rest]
  if (all.length !== 8) return null
  const out: Bytes = []
  for (const g of all) {
    const n = parseInt(g, 16)
    out.push(n >> 8, n & 0xff)
  }
  if (tail.length === 4) out.splice(12, 4, ...tail)
  return out
}

interface Cidr { bytes: Bytes; bits: number }

export function parseCidr(s: string): Cidr | null {
  const [addr, len, extra] = s.split('/')
  if (extra !== undefined) return null
  const bytes = parseIPv4(addr) ?? parseIPv6(addr)
  if (!bytes) return null
  const max = bytes.length * 8
  const bits = len === undefined ? max : Number(len)
  if (!Number.isInteger(bits) || bits < 0 || bits > max) return null
  return { bytes, bits }
}

function inCidr(ip: Bytes, c: Cidr): boolean {
  if (ip.length !== c.bytes.length) return false
  let bits = c.bits
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((ip[i] & mask) !== (c.bytes[i] & mask)) return false
  }
  return true
}

const cidrs = (list: Array<[string, string]>) => list.map(([c, why]) => ({ ...parseCidr(c)!, why }))

const BLOCKED_V4 = cidrs([
  ['0.0.0.0/8', 'this network'], ['10.0.0.0/8', 'private'], ['100.64.0.0/10', 'shared address space (CGNAT)'],
  ['127.0.0.0/8', 'loopback'], ['169.254.0.0/16', 'link-local (cloud metadata)'], ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'], ['192.0.2.0/24', 'documentation'], ['192.88.99.0/24', '6to4 relay anycast'],
  ['192.168.0.0/16', 'private'], ['198.18.0.0/15', 'benchmarking'], ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'], ['224.0.0.0/4', 'multicast'], ['240.0.0.0/4', 'reserved or broadcast'],
])

const BLOCKED_V6 = cidrs([
  ['::/128', 'unspecified'], ['::1/128', 'loopback'], ['100::/64', 'discard-only'], ['2001::/23', 'IETF protocol assignments (Teredo, ORCHID)'],
  ['2001:db8::/32', 'documentation'], ['fc00::/7', 'unique local (private)'], ['fe80::/10', 'link-local'], ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
])

/** IPv6 ranges that carry an IPv4 address: [range, offset of the IPv4 bytes]. */
const EMBEDS_V4: Array<[Cidr, number, string]> = [
  [parseCidr('::ffff:0:0/96')!, 12, 'IPv4-mapped'],
  [parseCidr('::/96')!, 12, 'IPv4-compatible'],
  [parseCidr('64:ff9b::/96')!, 12, 'NAT64'],
  [parseCidr('64:ff9b:1::/48')!, 12, 'local NAT64'],
  [parseCidr('2002::/16')!, 2, '6to4'],
]

/** Why an address is not a public unicast address, or null when it is. */
export function blockedReason(ip: string): string | null {
  const v4 = parseIPv4(ip)
  if (v4) {
    for (const c of BLOCKED_V4) if (inCidr(v4, c)) return `${ip} is ${c.why}`
    return null
  }
  const v6 = parseIPv6(ip)
  if (!v6) return `${ip} is not an IP address`
  for (const [range, at, what] of EMBEDS_V4) {
    if (!inCidr(v6, range)) continue
    const inner = v6.slice(at, at + 4).join('.')
    if (range.bits === 96 && what === 'IPv4-compatible' && (inner === '0.0.0.0' || inner === '0.0.0.1')) break // :: and ::1, below
    const why = blockedReason(inner)
    return why ? `${ip} is ${what} ${why}` : null
  }
  for (const c of BLOCKED_V6) if (inCidr(v6, c)) return `${ip} is ${c.why}`
  return null
}

/** null when the policy lets us connect to `ip`, else the reason it does not. */
export function checkAddress(ip: string, policy: EgressPolicy): string | null {
  const why = blockedReason(ip)
  if (why === null || policy.allowPrivate) return null
  const bytes = parseIPv4(ip) ?? parseIPv6(ip)
  if (bytes) {
    // An allowed IPv4 range also allows its IPv4-mapped form.
    const mapped = bytes.length === 16 && inCidr(bytes, EMBEDS_V4[0][0]) ? bytes.slice(12) : null
    for (const s of policy.allowCidrs) {
      const c = parseCidr(s)!
      if (inCidr(bytes, c) || (mapped && inCidr(mapped, c))) return null
    }
  }
  return why
}

export class EgressBlockedError extends Error {
  readonly code = 'EGRESS_BLOCKED'
  constructor(message: string) {
    super(message)
    this.name = 'EgressBlockedError'
  }
}

/** Checks a webhook URL's shape and, for an IP-literal host, its address. Hostnames are checked at connect (guardedLookup). */
export function checkUrl(raw: string, policy: EgressPolicy): URL {
  let url: URL
  try { url = new URL(raw) } catch { throw new EgressBlockedError(`"${raw}" is not a URL`) }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new EgressBlockedError(`${url.protocol} URLs are not allowed (http or https only)`)
  if (url.username || url.password) throw new EgressBlockedError('URLs with credentials are not allowed')
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  if (isIP(host)) {
    const why = checkAddress(host, policy)
    if (why) throw new EgressBlockedError(`webhook destination refused: ${why}`)
  }
  return url
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void

/**
 * A `lookup` for http.request / net.connect: resolves like dns.lookup, then refuses the connection
 * if any resolved address is blocked by the policy.
 */
export function guardedLookup(policy: EgressPolicy, resolve: typeof dnsLookup = dnsLookup) {
  return (hostname: string, options: { family?: number | string; all?: boolean } | number, callback: LookupCallback): void => {
    const opts = typeof options === 'number' ? { family: options } : options ?? {}
    const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : Number(opts.family ?? 0)
    resolve(hostname, { all: true, family, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, '')
      const list = addresses as LookupAddress[]
      if (list.length === 0) return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), '')
      for (const a of list) {
        const why = checkAddress(a.address, policy)
        if (why) return callback(Object.assign(new EgressBlockedError(`webhook destination ${hostname} refused: ${why}`), { errno: undefined }) as NodeJS.ErrnoException, '')
      }
      if (opts.all) callback(null, list)
      else callback(null, list[0].address, list[0].family)
    })
  }
}
