// Tenants, their API keys, brands and subscriptions: the API's own state (the engine's results are
// in LiveState). In memory, optionally persisted to one JSON file, rewritten atomically (temporary
// file, fsync, rename) on every change; changes are rare (admin and brand edits), reads are hot.
//
// API keys: "tw_<keyId>_<secret>", with a 12-hex-digit key id and 32 random bytes of secret
// (base64url). Stored: the key id, a 16-byte random salt and SHA-256(salt ‖ secret). A slow hash
// (scrypt) protects guessable passwords; these secrets are 256 random bits, so one SHA-256 is as good
// and keeps every request cheap. Verification looks the key id up (a map) and compares hashes with
// crypto.timingSafeEqual. The key is returned once, at creation, and never again.
//
// Webhook secrets are stored as they are: the server needs them to sign. The file is created 0600.
//
// The store is also the alert rules' Watchlist (operators/alerts/types.ts) and the webhook sink's
// WebhookTargets (sinks/webhooks/sink.ts): brands and subscriptions edited over the API take effect
// on the next batch.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Platform } from '../../schemas/events.ts'
import type { AlertRule } from '../../schemas/outputs.ts'
import type { AlertThresholds, WatchedBrand, Watchlist } from '../../operators/alerts/types.ts'
import type { WebhookTarget, WebhookTargets } from '../../sinks/webhooks/sink.ts'
import type { BucketLimit } from '../../sinks/webhooks/token-bucket.ts'
import { TrendwireError } from '../../streams/errors.ts'

export type TenantKind = 'brand' | 'team'

export interface Tenant {
  id: string
  name: string
  kind: TenantKind
  rateLimit: BucketLimit | null
  createdAt: number
}

export interface ApiKeyRecord {
  id: string
  tenantId: string
  salt: string
  hash: string
  prefix: string
  createdAt: number
  lastUsedAt: number | null
  revoked: boolean
}

export interface Brand {
  id: string
  tenantId: string
  name: string
  aliases: string[]
  createdAt: number
  updatedAt: number
}

export interface Subscription {
  id: string
  brandId: string
  tenantId: string
  name: string
  keywords: string[]
  hashtags: string[]
  categories: AlertRule[]
  platforms: Platform[]
  thresholds: AlertThresholds
  webhookUrl: string | null
  webhookSecret: string | null
  active: boolean
  createdAt: number
  updatedAt: number
}

export type PublicSubscription = Omit<Subscription, 'webhookSecret'>
export type PublicKey = Omit<ApiKeyRecord, 'salt' | 'hash'>

export interface Principal {
  tenant: Tenant
  keyId: string
}

interface FileData {
  version: 1
  tenants: Tenant[]
  keys: ApiKeyRecord[]
  brands: Brand[]
  subscriptions: Subscription[]
}

export interface StoreOptions {
  /** JSON file to persist to; in memory only when absent. */
  path?: string
  now?: () => number
}

const id = (prefix: string, bytes = 9) => `${prefix}_${randomBytes(bytes).toString('base64url')}`
const sha256 = (salt: Buffer, secret: string) => createHash('sha256').update(salt).update(secret).digest()
const KEY_RE = /^tw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/
const DUMMY_SALT = randomBytes(16)

export function publicKey(k: ApiKeyRecord): PublicKey {
  const { salt: _s, hash: _h, ...rest } = k
  return rest
}

export function publicSubscription(s: Subscription): PublicSubscription {
  const { webhookSecret: _w, ...rest } = s
  return rest
}

export class TenantStore extends EventEmitter implements Watchlist, WebhookTargets {
  private tenants = new Map<string, Tenant>()
  private keys = new Map<string, ApiKeyRecord>()
  private brandsById = new Map<string, Brand>()
  private subs = new Map<string, Subscription>()
  private watch: WatchedBrand[] | null = null
  version = 0
  private readonly now: () => number

  constructor(private readonly opts: StoreOptions = {}) {
    super()
    this.now = opts.now ?? Date.now
    if (opts.path) this.load(opts.path)
  }

  private load(path: string): void {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw new TrendwireError('CONFIG_INVALID', `tenant store: cannot read ${path}: ${(err as Error).message}`, { cause: err })
    }
    let data: FileData
    try {
      data = JSON.parse(text) as FileData
    } catch (err) {
      throw new TrendwireError('CONFIG_INVALID', `tenant store: ${path} is not valid JSON`, { cause: err })
    }
    if (data.version !== 1) throw new TrendwireError('CONFIG_INVALID', `tenant store: ${path} has unknown version ${data.version}`)
    for (const t of data.tenants) this.tenants.set(t.id, t)
    for (const k of data.keys) this.keys.set(k.id, k)
    for (const b of data.brands) this.brandsById.set(b.id, b)
    for (const s of data.subscriptions) this.subs.set(s.id, s)
    this.version++
  }

  private changed(): void {
    this.version++
    this.watch = null
    this.persist()
    this.emit('change', this.version)
  }

  private persist(): void {
    const path = this.opts.path
    if (!path) return
    const data: FileData = { version: 1, tenants: [...this.tenants.values()], keys: [...this.keys.values()], brands: [...this.brandsById.values()], subscriptions: [...this.subs.values()] }
    mkdirSync(dirname(path), { recursive: true })
    const tmp = `${path}.tmp`
    const fd = openSync(tmp, 'w', 0o600)
    try {
      writeSync(fd, JSON.stringify(data))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  }

  // --- tenants and keys ---------------------------------------------------------------------------

  createTenant(input: { name: string; kind: TenantKind; rateLimit?: BucketLimit | null }): { tenant: Tenant; key: string; keyInfo: PublicKey } {
    const tenant: Tenant = { id: id('tnt'), name: input.name, kind: input.kind, rateLimit: input.rateLimit ?? null, createdAt: this.now() }
    this.tenants.set(tenant.id, tenant)
    const { key, record } = this.newKey(tenant.id)
    this.changed()
    return { tenant, key, keyInfo: publicKey(record) }
  }

  listTenants(): Tenant[] {
    return [...this.tenants.values()]
  }

  getTenant(tenantId: string): Tenant | null {
    return this.tenants.get(tenantId) ?? null
  }

  /** Deletes the tenant with its keys, brands and subscriptions. */
  deleteTenant(tenantId: string): boolean {
    if (!this.tenants.delete(tenantId)) return false
    for (const [k, v] of this.keys) if (v.tenantId === tenantId) this.keys.delete(k)
    for (const [k, v] of this.brandsById) if (v.tenantId === tenantId) this.brandsById.delete(k)
    for (const [k, v] of this.subs) if (v.tenantId === tenantId) this.subs.delete(k)
    this.changed()
    this.emit('keysRevoked', tenantId)
    return true
  }

  private newKey(tenantId: string): { key: string; record: ApiKeyRecord } {
    const keyId = randomBytes(6).toString('hex')
    const secret = randomBytes(32).toString('base64url')
    const salt = randomBytes(16)
    const record: ApiKeyRecord = {
      id: keyId, tenantId, salt: salt.toString('base64'), hash: sha256(salt, secret).toString('base64'),
      prefix: `tw_${keyId}_${secret.slice(0, 4)}…`, createdAt: this.now(), lastUsedAt: null, revoked: false,
    }
    this.keys.set(keyId, record)
    return { key: `tw_${keyId}_${secret}`, record }
  }

  createKey(tenantId: string): { key: string; keyInfo: PublicKey } | null {
    if (!this.tenants.has(tenantId)) return null
    const { key, record } = this.newKey(tenantId)
    this.changed()
    return { key, keyInfo: publicKey(record) }
  }

  listKeys(tenantId: string): PublicKey[] {
    return [...this.keys.values()].filter((k) => k.tenantId === tenantId).map(publicKey)
  }

  revokeKey(tenantId: string, keyId: string): boolean {
    const k = this.keys.get(keyId)
    if (!k || k.tenantId !== tenantId) return false
    k.revoked = true
    this.changed()
    this.emit('keysRevoked', tenantId, keyId)
    return true
  }

  /** The tenant a presented key belongs to, or null (unknown, malformed, wrong secret, revoked). */
  verifyKey(presented: string): Principal | null {
    const m = KEY_RE.exec(presented)
    const rec = m ? this.keys.get(m[1]) : undefined
    // Hash even when the key id is unknown, so timing does not tell which key ids exist.
    const salt = rec ? Buffer.from(rec.salt, 'base64') : DUMMY_SALT
    const got = sha256(salt, m ? m[2] : presented)
    const want = rec ? Buffer.from(rec.hash, 'base64') : sha256(DUMMY_SALT, 'x')
    const equal = timingSafeEqual(got, want)
    if (!rec || !equal || rec.revoked) return null
    const tenant = this.tenants.get(rec.tenantId)
    if (!tenant) return null
    rec.lastUsedAt = this.now()
    return { tenant, keyId: rec.id }
  }

  keyActive(keyId: string): boolean {
    const k = this.keys.get(keyId)
    return !!k && !k.revoked && this.tenants.has(k.tenantId)
  }

  // --- brands -----------------------------------------------------------------------------------------

  createBrand(tenantId: string, input: { name: string; aliases: string[] }): Brand {
    const t = this.now()
    const b: Brand = { id: id('brd'), tenantId, name: input.name, aliases: input.aliases, createdAt: t, updatedAt: t }
    this.brandsById.set(b.id, b)
    this.changed()
    return b
  }

  listBrands(tenantId: string): Brand[] {
    return [...this.brandsById.values()].filter((b) => b.tenantId === tenantId)
  }

  /** The brand, if it exists and belongs to the tenant (a brand of another tenant is "not found"). */
  getBrand(tenantId: string, brandId: string): Brand | null {
    const b = this.brandsById.get(brandId)
    return b && b.tenantId === tenantId ? b : null
  }

  brandTenant(brandId: string): string | null {
    return this.brandsById.get(brandId)?.tenantId ?? null
  }

  updateBrand(tenantId: string, brandId: string, patch: { name?: string; aliases?: string[] }): Brand | null {
    const b = this.getBrand(tenantId, brandId)
    if (!b) return null
    if (patch.name !== undefined) b.name = patch.name
    if (patch.aliases !== undefined) b.aliases = patch.aliases
    b.updatedAt = this.now()
    this.changed()
    return b
  }

  deleteBrand(tenantId: string, brandId: string): boolean {
    if (!this.getBrand(tenantId, brandId)) return false
    this.brandsById.delete(brandId)
    for (const [k, s] of this.subs) if (s.brandId === brandId) this.subs.delete(k)
    this.changed()
    return true
  }

  // --- subscriptions ----------------------------------------------------------------------------------

  createSubscription(tenantId: string, brandId: string, input: Omit<Subscription, 'id' | 'brandId' | 'tenantId' | 'webhookSecret' | 'createdAt' | 'updatedAt'>): Subscription | null {
    if (!this.getBrand(tenantId, brandId)) return null
    const t = this.now()
    const s: Subscription = {
      ...input, id: id('sub'), brandId, tenantId, webhookSecret: input.webhookUrl ? newSecret() : null, createdAt: t, updatedAt: t,
    }
    this.subs.set(s.id, s)
    this.changed()
    return s
  }

  listSubscriptions(tenantId: string, brandId: string): Subscription[] {
    return [...this.subs.values()].filter((s) => s.tenantId === tenantId && s.brandId === brandId)
  }

  getSubscription(tenantId: string, brandId: string, subscriptionId: string): Subscription | null {
    const s = this.subs.get(subscriptionId)
    return s && s.tenantId === tenantId && s.brandId === brandId ? s : null
  }

  /** Applies a patch; returns the subscription and, when a webhook URL was set for the first time, its new secret. */
  updateSubscription(tenantId: string, brandId: string, subscriptionId: string, patch: Partial<Omit<Subscription, 'id' | 'brandId' | 'tenantId' | 'webhookSecret' | 'createdAt' | 'updatedAt' | 'thresholds'>> & { thresholds?: Partial<AlertThresholds> }): { sub: Subscription; newSecret: string | null } | null {
    const s = this.getSubscription(tenantId, brandId, subscriptionId)
    if (!s) return null
    const { thresholds, ...rest } = patch
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = v
    if (thresholds) s.thresholds = { ...s.thresholds, ...Object.fromEntries(Object.entries(thresholds).filter(([, v]) => v !== undefined)) }
    let fresh: string | null = null
    if (s.webhookUrl && !s.webhookSecret) s.webhookSecret = fresh = newSecret()
    if (!s.webhookUrl) s.webhookSecret = null
    s.updatedAt = this.now()
    this.changed()
    return { sub: s, newSecret: fresh }
  }

  rotateWebhookSecret(tenantId: string, brandId: string, subscriptionId: string): string | null {
    const s = this.getSubscription(tenantId, brandId, subscriptionId)
    if (!s || !s.webhookUrl) return null
    s.webhookSecret = newSecret()
    s.updatedAt = this.now()
    this.changed()
    return s.webhookSecret
  }

  deleteSubscription(tenantId: string, brandId: string, subscriptionId: string): boolean {
    if (!this.getSubscription(tenantId, brandId, subscriptionId)) return false
    this.subs.delete(subscriptionId)
    this.changed()
    return true
  }

  // --- Watchlist and WebhookTargets -------------------------------------------------------------------

  brands(): readonly WatchedBrand[] {
    if (this.watch) return this.watch
    const out: WatchedBrand[] = []
    for (const b of this.brandsById.values()) {
      const subscriptions = [...this.subs.values()]
        .filter((s) => s.brandId === b.id && s.active)
        .map((s) => ({ id: s.id, categories: s.categories, platforms: s.platforms, keywords: s.keywords, hashtags: s.hashtags, thresholds: s.thresholds }))
      if (subscriptions.length > 0) out.push({ brandId: b.id, tenantId: b.tenantId, name: b.name, aliases: b.aliases, subscriptions })
    }
    this.watch = out
    return out
  }

  webhookTarget(subscriptionId: string): WebhookTarget | null {
    const s = this.subs.get(subscriptionId)
    if (!s || !s.active || !s.webhookUrl || !s.webhookSecret) return null
    return { url: s.webhookUrl, secret: s.webhookSecret }
  }

  /** Watched hashtags and keywords of a brand (active subscriptions), for the live feed's watchlist filter. */
  watchTerms(brandId: string): { hashtags: string[]; keywords: string[] } {
    const hashtags: string[] = []
    const keywords: string[] = []
    for (const s of this.subs.values()) {
      if (s.brandId !== brandId || !s.active) continue
      hashtags.push(...s.hashtags)
      keywords.push(...s.keywords)
    }
    return { hashtags, keywords }
  }
}

function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`
}
