// The synthetic firehose: a deterministic (seeded) generator of short-form-video events with known
// ground truth, used by the demo, the tests, the evaluation and the benchmarks.
// The generative model, its options and the labels file are described in docs/synthetic-firehose.md.
//
// Shape of the implementation (why it looks like this):
//  - Every stochastic process (post arrivals, each post's engagement process, trend and crisis
//    injections, creator profile updates) is a "process" with the time of its next event; one binary
//    heap holds them all, so events come out in event-time order with O(log n) work per event and
//    memory bounded by the number of live posts, not by the number of future events.
//  - A post's engagement is a marked self-exciting (Hawkes) process simulated by Ogata thinning. Its
//    kernel is a mixture of three exponentials (1 min, 15 min, 3 h), the usual way to approximate a
//    power-law kernel with O(1) state (Bacry, Mastromatteo & Muzy 2015, "Hawkes processes in
//    finance", §3); the branching ratio is drawn per post from a heavy-tailed distribution, so most
//    cascades die quickly and a few are near-critical and go viral.
//  - Delivery order is a second heap keyed by delivery time = event time + jitter. Jitter is bounded
//    by outOfOrderMs, so the delivered stream is out of order by at most that bound, except for the
//    events deliberately made late (delayed by lateByMs), which the labels list.
//  - Random numbers come from separate seeded sub-streams (world, simulation, delivery), so e.g.
//    changing lateFraction changes only the delivery order, never which events exist.
import { writeFile } from 'node:fs/promises'
import { z } from 'zod'
import { parseOptions } from '../config.ts'
import { TrendwireError } from '../errors.ts'
import type { PollResult, Source, SourceBatch, SourceHooks } from '../types.ts'
import type { CreatorUpdated, Engagement, EngagementType, FirehoseEvent, Platform, PostPublished } from '../../schemas/events.ts'
import { eventTime } from '../../schemas/events.ts'
import { AliasTable, fnv1a, Rng, zipfWeights } from './prng.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** Default start of event time when none is given and pacing is off: 2024-06-01T00:00:00Z. */
export const DEFAULT_START_TIME = Date.UTC(2024, 5, 1)

// ---------------------------------------------------------------------------------------------
// Options

export const syntheticOptionsSchema = z.strictObject({
  /** Source name; partition ids are `${name}/${i}`. */
  name: z.string().min(1).default('synthetic'),
  seed: z.number().int().default(1),
  /** Epoch ms of the start of event time. Default 2024-06-01T00:00:00Z, or the wall clock when realtime. */
  startTime: z.number().int().optional(),
  /** Length of the run in event time (ms). With neither durationMs nor maxEvents the stream is unbounded. */
  durationMs: z.number().int().positive().optional(),
  /** Stop after this many delivered events. */
  maxEvents: z.number().int().positive().optional(),
  /** Target mean event rate in event time (events per event-time second), averaged over a day. */
  eventsPerSecond: z.number().positive().default(50),
  /** Pace delivery so that event time tracks the wall clock (demo). Off: as fast as possible. */
  realtime: z.boolean().default(false),
  /** With realtime: event-time seconds per wall-clock second. */
  speed: z.number().positive().default(1),
  partitions: z.number().int().min(1).max(4096).default(4),
  /** Bound on out-of-orderness of the delivered stream (ms); each event is delayed by U[0, bound]. */
  outOfOrderMs: z.number().int().min(0).default(2_000),
  /** Fraction of engagement and creator events deliberately delivered late. */
  lateFraction: z.number().min(0).max(1).default(0),
  /** How late the late events are (ms on top of their jitter); must exceed outOfOrderMs. */
  lateByMs: z.number().int().min(1).default(5 * MINUTE),
  /**
   * Event time simulated before startTime so engagement is in steady state from the start (without
   * it the engagement rate ramps up over the first hour or two). Posts published during warm-up are
   * delivered first, with their true postedAt (before startTime); their engagement before startTime
   * is simulated but not delivered. Costs ~0.1 µs per skipped engagement event.
   */
  warmupMs: z.number().int().min(0).default(0),
  creators: z.number().int().min(1).max(10_000_000).default(10_000),
  hashtags: z.number().int().min(100).max(5_000_000).default(20_000),
  sounds: z.number().int().min(10).max(5_000_000).default(5_000),
  users: z.number().int().min(1).default(1_000_000),
  /** Zipf exponent of hashtag and sound popularity. */
  zipfExponent: z.number().min(0.5).max(2).default(1.05),
  /** Pareto tail index of follower counts (smaller = heavier tail). */
  followerAlpha: z.number().min(0.5).max(5).default(1.1),
  /** Relative amplitude of the daily rhythm of posting (0 = flat); viewing follows at half of it. */
  diurnalAmplitude: z.number().min(0).max(0.95).default(0.4),
  /** Number of injected trend bursts. */
  trends: z.number().int().min(0).max(1000).default(6),
  /** Number of injected crisis episodes (negative brand mentions). */
  crises: z.number().int().min(0).max(12).default(2),
  /** Fraction of events that are creator profile updates. */
  creatorUpdateFraction: z.number().min(0).max(0.5).default(0.01),
  /** Horizon over which a post's final engagement (virality label) is counted. */
  labelHorizonMs: z.number().int().positive().default(DAY),
  /** Simulate live posts to their horizon when labels are requested at the end (exact virality labels). */
  completeLabels: z.boolean().default(true),
}).refine((o) => o.lateFraction === 0 || o.lateByMs > o.outOfOrderMs, {
  message: 'must be greater than outOfOrderMs when lateFraction > 0 (late events must fall outside the out-of-order bound)',
  path: ['lateByMs'],
})

export type SyntheticOptionsInput = z.input<typeof syntheticOptionsSchema>
export type SyntheticOptions = z.output<typeof syntheticOptionsSchema> & { startTime: number }

export function parseSyntheticOptions(input: unknown): SyntheticOptions {
  const o = parseOptions('synthetic source', syntheticOptionsSchema, input)
  const startTime = o.startTime ?? (o.realtime ? Date.now() : DEFAULT_START_TIME)
  return { ...o, startTime }
}

// ---------------------------------------------------------------------------------------------
// Labels (ground truth)

export interface TrendLabel {
  id: string
  type: 'hashtag' | 'sound'
  /** Canonical entity: the hashtag as the generator knows it (may carry accents), or the sound id. */
  entity: string
  /** normalizeTerm(entity) for hashtags; the sound id for sounds. */
  normalized: string
  /** True if the entity did not exist before the trend. */
  isNew: boolean
  /** Event time (ms) the extra usage starts rising from zero. */
  onset: number
  /** Event time (ms) of peak extra usage. */
  peak: number
  /** Event time (ms) the injection stops (extra rate ≈ 2% of peak). */
  end: number
  /** Extra posts per minute using the entity at the peak (on top of its baseline). */
  peakRate: number
  /** Expected posts per minute using the entity without the trend (0 for new entities). */
  baselineRate: number
  /** Posts the trend injected (generated, including any after the stream end). */
  posts: number
}

export interface CrisisLabel {
  id: string
  brand: string
  /** The hashtag crisis posts carry (#boycott<brand>): a burst in its own right. */
  hashtag: string
  onset: number
  peak: number
  end: number
  /** Crisis posts per minute at the peak. */
  peakRate: number
  posts: number
  /** Negative comments mentioning the brand generated on crisis posts. */
  negativeComments: number
  /** Words the negative texts use (for keyword alert rules). */
  negativeWords: string[]
}

export interface PostLabel {
  postId: string
  platform: Platform
  creatorId: string
  postedAt: number
  /** Engagement events of any type in [postedAt, postedAt + horizon], delivered or not. */
  finalEngagement: number
  /** In the top 1% of complete posts of its platform by finalEngagement. */
  top1pct: boolean
  /** False when the post's horizon was not simulated to its end (unbounded or unfinished run). */
  complete: boolean
  /** Published during warm-up (before startTime): its early engagement was not delivered. */
  warmup: boolean
  trend: string | null
  crisis: string | null
}

export interface LateLabel {
  /** Index of the event in the global delivery order (= NDJSON line number, 0-based, of `generate`). */
  index: number
  partition: string
  /** Index within its partition (the source position just before it). */
  offset: number
  kind: FirehoseEvent['kind']
  /** partitionKey(e). */
  key: string
  type: EngagementType | null
  at: number
}

export interface FirehoseLabels {
  version: 1
  seed: number
  startTime: number
  /** Largest event time delivered. */
  endTime: number
  /** Events delivered. */
  events: number
  partitions: string[]
  horizonMs: number
  outOfOrderMs: number
  lateByMs: number
  trends: TrendLabel[]
  crises: CrisisLabel[]
  /** Minimum finalEngagement of the top 1% per platform (null: no complete posts). */
  top1pctThreshold: Record<Platform, number | null>
  posts: PostLabel[]
  late: LateLabel[]
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

/**
 * The term normalisation the generator's surface variants are designed for: NFKD, strip combining
 * marks, lower-case, drop a leading '#', drop one trailing 's' (plural). Canonical hashtags never end
 * in 's' and are unique under this function, so it maps every variant back to its canonical tag.
 */
export function normalizeTerm(s: string): string {
  let t = s.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase()
  if (t.startsWith('#')) t = t.slice(1)
  if (t.length >= 3 && t.endsWith('s')) t = t.slice(0, -1)
  return t
}

const CURATED_TAGS = [
  'fyp', 'foryou', 'viral', 'dance', 'comedy', 'funny', 'cooking', 'recipe', 'food', 'café', 'fútbol',
  'football', 'anime', 'makeup', 'skincare', 'gym', 'fitness', 'travel', 'pet', 'dog', 'cat', 'asmr',
  'music', 'cover', 'challenge', 'tutorial', 'diy', 'fashion', 'ootd', 'outfit', 'beauty', 'gaming',
  'minecraft', 'art', 'drawing', 'nature', 'beach', 'summer', 'love', 'couple', 'family', 'baby',
  'school', 'study', 'motivation', 'lifehack', 'tech', 'science', 'history', 'car', 'jalapeño',
  'crème', 'niño', 'ラーメン', 'kpop', 'booktok', 'storytime', 'duet', 'transition', 'vlog',
]
const SYLLABLES = [
  'ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vi', 'zo', 'be', 'da', 'fi', 'go', 'ha', 'ji', 'ku', 'le', 'ma',
  'no', 'pa', 'ri', 'sa', 'te', 'vo', 'wa', 'ye', 'zu', 'chi', 'sho', 'tra', 'bri', 'kle', 'dro', 'fla',
  'gri', 'pre', 'sta', 'plo', 'que', 'nor', 'mun',
]
const TAG_SUFFIXES = ['', '', '', '', 'core', 'tok', 'life', 'vibe', 'hack', 'challenge', 'art', 'day']
const ACCENTS: Record<string, string> = { e: 'é', a: 'á', n: 'ñ', u: 'ü', o: 'ô', i: 'í' }

function syllableName(i: number): string {
  // Bijective base-40 with at least two syllables: distinct indices give distinct syllable sequences.
  let x = i + SYLLABLES.length
  let s = ''
  while (x > 0) {
    x -= 1
    s = SYLLABLES[x % SYLLABLES.length] + s
    x = Math.floor(x / SYLLABLES.length)
  }
  return s
}

/** Canonical hashtags by popularity rank, unique under normalizeTerm, none ending in 's'. */
function buildHashtags(n: number, rng: Rng): { names: string[]; normalized: Set<string> } {
  const names: string[] = []
  const seen = new Set<string>()
  const add = (name: string): void => {
    const k = normalizeTerm(name)
    if (name.endsWith('s') || seen.has(k) || k !== normalizeTerm(k)) return
    seen.add(k)
    names.push(name)
  }
  for (const t of CURATED_TAGS) if (names.length < n) add(t)
  for (let i = 0; names.length < n; i++) {
    let name = syllableName(i) + TAG_SUFFIXES[i % TAG_SUFFIXES.length]
    if (rng.chance(0.08)) {
      // Give some names a diacritic so accent folding matters.
      const pos = name.search(/[eanuoi]/)
      if (pos >= 0) name = name.slice(0, pos) + ACCENTS[name[pos]] + name.slice(pos + 1)
    }
    add(name)
  }
  // Shuffle the synthetic part so popularity rank is not alphabetical; curated head stays on top.
  const head = Math.min(CURATED_TAGS.length, names.length)
  for (let i = names.length - 1; i > head; i--) {
    const j = head + rng.int(i - head + 1)
    const t = names[i]; names[i] = names[j]; names[j] = t
  }
  return { names, normalized: seen }
}

const LANGUAGES = ['en', 'es', 'pt', 'fr', 'de', 'ja', 'ko', 'id'] as const
const LANGUAGE_WEIGHTS = [0.5, 0.15, 0.1, 0.06, 0.05, 0.05, 0.04, 0.05]
const WORDS: Record<string, string[]> = {
  en: ['when', 'you', 'finally', 'get', 'the', 'best', 'day', 'ever', 'pov', 'me', 'trying', 'this', 'new', 'recipe', 'at', '3am', 'why', 'is', 'nobody', 'talking', 'about', 'wait', 'for', 'it', 'part', '2', "can't", 'stop', 'watching', 'my', 'mom', 'said'],
  es: ['cuando', 'por', 'fin', 'mi', 'mejor', 'día', 'nueva', 'receta', 'esperen', 'parte', 'nadie', 'habla', 'de', 'esto', 'qué', 'increíble', 'mamá', 'amigos', 'canción'],
  pt: ['quando', 'você', 'finalmente', 'melhor', 'dia', 'nova', 'receita', 'espera', 'parte', 'ninguém', 'fala', 'disso', 'incrível', 'mãe', 'amigos', 'não', 'acredito'],
  fr: ['quand', 'tu', 'enfin', 'meilleur', 'jour', 'nouvelle', 'recette', 'attends', 'partie', 'personne', 'parle', 'de', 'ça', 'incroyable', 'mère', 'été', 'très'],
  de: ['wenn', 'du', 'endlich', 'bester', 'Tag', 'neues', 'Rezept', 'warte', 'Teil', 'niemand', 'redet', 'darüber', 'unglaublich', 'Mutter', 'schön', 'für', 'über'],
  ja: ['今日', 'は', '最高', 'の', '一日', '新しい', 'レシピ', '待って', '続き', 'みんな', '見て', 'かわいい', 'すごい'],
  ko: ['오늘', '최고의', '하루', '새로운', '레시피', '기다려', '다음', '편', '대박', '귀여워', '진짜'],
  id: ['ketika', 'akhirnya', 'hari', 'terbaik', 'resep', 'baru', 'tunggu', 'bagian', 'tidak', 'ada', 'yang', 'bahas', 'keren', 'banget', 'mama'],
}
const COMMENTS: Record<string, string[]> = {
  en: ['lol', 'this is fire 🔥', 'so good 😍', 'no way 😂', 'who else is here from the fyp', 'the ending 💀', 'need part 2', 'obsessed', 'facts 💯', "i'm crying 😭", 'tutorial please 🙏', 'saving this'],
  es: ['jajaja', 'qué bueno 😍', 'no puede ser 😂', 'parte 2 por favor', 'me encanta', 'increíble 🔥'],
  pt: ['kkkkk', 'muito bom 😍', 'não acredito 😂', 'parte 2 por favor', 'amei', 'incrível 🔥'],
  fr: ['mdr', 'trop bien 😍', 'pas possible 😂', 'la suite svp', "j'adore", 'incroyable 🔥'],
  de: ['haha', 'so gut 😍', 'kann nicht sein 😂', 'Teil 2 bitte', 'liebe es', 'krass 🔥'],
  ja: ['草', '最高😍', 'やばい😂', '続き見たい', 'かわいい', 'すごい🔥'],
  ko: ['ㅋㅋㅋㅋ', '대박 😍', '말도 안돼 😂', '다음 편 주세요', '너무 좋아', '미쳤다 🔥'],
  id: ['wkwkwk', 'keren banget 😍', 'gak mungkin 😂', 'part 2 dong', 'suka banget', 'mantap 🔥'],
}
const EMOJI = ['😂', '🔥', '😍', '💀', '✨', '🙏', '😭', '👀', '💯', '🥹', '❤️', '🤣']
export const BRANDS = [
  'Nimbus Cola', 'Zestly', 'Orbita Air', 'Kiko Café', 'Vantor Mobile', 'Lumé Beauty', 'Brightpath Bank',
  'Pixelon', 'Toroa Foods', 'Quokka Shoes', 'Halcyon Hotels', 'Sparq Energy',
]
const NEGATIVE_TEMPLATES = [
  '{b} is a scam 😡', 'boycott {b}', 'never buying {b} again', '{b} lied to us', 'shame on {b} 🤮',
  '{b} refund me now', 'worst experience ever with {b}', 'disgusting, {b} should be ashamed',
  '{b} es una estafa', 'qué vergüenza {b} 😡', "{b} c'est une arnaque", 'nunca mais compro {b}',
]
export const NEGATIVE_WORDS = ['scam', 'boycott', 'never', 'lied', 'shame', 'refund', 'worst', 'disgusting', 'ashamed', 'estafa', 'vergüenza', 'arnaque', 'nunca']
const POSITIVE_BRAND_TEMPLATES = ['love my {b} 😍', '{b} ad lol', 'where can i buy this {b}', '{b} always delivers 🔥']
const PLATFORM_WEIGHTS = [0.5, 0.3, 0.2]
const PLATFORM_LIST: Platform[] = ['tiktok', 'reels', 'shorts']
const PLATFORM_PREFIX = ['tt', 'rl', 'yt']
const FIRST_NAMES = ['Ana', 'Léa', 'Max', 'Yuki', 'Min-jun', 'João', 'Zoë', 'Omar', 'Priya', 'Chloé', 'Sven', 'Aiko', 'Mateo', 'Nia']

// ---------------------------------------------------------------------------------------------
// Model constants

/** Engagement kernel: mixture of exponentials (time scales, weights) approximating a power law. */
const KERNEL_TAU = [MINUTE, 15 * MINUTE, 3 * HOUR]
const KB0 = 1 / KERNEL_TAU[0]
const KB1 = 1 / KERNEL_TAU[1]
const KB2 = 1 / KERNEL_TAU[2]
const KW0 = 0.5
const KW1 = 0.35
const KW2 = 0.15
/** Immigrant (organic exposure) events per post ∝ (followers / 1000)^FOLLOWER_EXPONENT. */
const FOLLOWER_EXPONENT = 0.8
const EXPOSURE_SCALE = 8
const EXPOSURE_SIGMA = 0.8
/** Peak hour (UTC) of the daily rhythm. */
const DIURNAL_PEAK_HOUR = 20
const MEAN_TAGS = 2.5
const USER_ID_CACHE = 1 << 21

/** sin of the daily phase, one value per minute of the UTC day (a lookup is much cheaper than sin). */
const DIURNAL_SIN = Float64Array.from({ length: 1440 }, (_, m) => Math.sin(2 * Math.PI * (m / 1440 - DIURNAL_PEAK_HOUR / 24 + 0.25)))

function diurnal(t: number, amp: number): number {
  const m = Math.floor(t / MINUTE) % 1440
  return 1 + amp * DIURNAL_SIN[m < 0 ? m + 1440 : m]
}

const P_POST = 0
const P_ARRIVALS = 1
const P_TREND = 2
const P_CRISIS = 3
const P_CREATOR = 4

/** A live post: its engagement process state. Also a heap entry (kind P_POST). */
class Post {
  readonly kind = P_POST
  next = 0
  // Hawkes state at time `now`: excitation of the three kernel components (events per ms).
  now: number
  e0 = 0
  e1 = 0
  e2 = 0
  count = 0
  lastDelivery = -Infinity
  readonly platform: Platform
  constructor(
    readonly id: string,
    readonly platformIdx: number,
    readonly creator: number,
    readonly partition: number,
    readonly t0: number,
    readonly horizonEnd: number,
    /** Expected organic (immigrant) events. */
    readonly exposure: number,
    readonly tauB: number,
    /** Branching ratio: expected direct offspring per event. */
    readonly branching: number,
    readonly quality: number,
    readonly durationSec: number,
    readonly language: string,
    // Cumulative probabilities of the non-view engagement types.
    readonly cLike: number,
    readonly cComment: number,
    readonly cShare: number,
    readonly cSave: number,
    readonly cFollow: number,
    readonly trend: number,
    readonly crisis: number,
    readonly warmup: boolean,
  ) {
    this.now = t0
    this.platform = PLATFORM_LIST[platformIdx]
  }
}

/** Any other process: post arrivals, a trend or crisis injection, creator updates. */
class Proc {
  next = 0
  constructor(readonly kind: number, readonly idx: number) {}
}

type HeapItem = Post | Proc

/** Binary min-heap of processes keyed by next event time. */
class ProcHeap {
  keys: number[] = []
  items: HeapItem[] = []
  get size(): number { return this.keys.length }
  push(key: number, item: HeapItem): void {
    const keys = this.keys
    const items = this.items
    let i = keys.length
    keys.push(key); items.push(item)
    while (i > 0) {
      const p = (i - 1) >> 1
      if (keys[p] <= key) break
      keys[i] = keys[p]; items[i] = items[p]
      i = p
    }
    keys[i] = key; items[i] = item
  }
  /** Replace the top with (key, item) and restore heap order. */
  replaceTop(key: number, item: HeapItem): void {
    const keys = this.keys
    const items = this.items
    const n = keys.length
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && keys[r] < keys[l] ? r : l
      if (keys[c] >= key) break
      keys[i] = keys[c]; items[i] = items[c]
      i = c
    }
    keys[i] = key; items[i] = item
  }
  popTop(): void {
    const lastKey = this.keys.pop()!
    const lastItem = this.items.pop()!
    if (this.keys.length > 0) this.replaceTop(lastKey, lastItem)
  }
}

/** Reorder buffer: min-heap by (delivery time, sequence). */
class DeliveryHeap {
  d: number[] = []
  s: number[] = []
  ev: FirehoseEvent[] = []
  part: number[] = []
  late: boolean[] = []
  get size(): number { return this.d.length }
  private less(i: number, d: number, s: number): boolean {
    const di = this.d[i]
    return di < d || (di === d && this.s[i] < s)
  }
  private put(i: number, d: number, s: number, ev: FirehoseEvent, part: number, late: boolean): void {
    this.d[i] = d; this.s[i] = s; this.ev[i] = ev; this.part[i] = part; this.late[i] = late
  }
  private move(to: number, from: number): void {
    this.d[to] = this.d[from]; this.s[to] = this.s[from]; this.ev[to] = this.ev[from]; this.part[to] = this.part[from]; this.late[to] = this.late[from]
  }
  push(d: number, s: number, ev: FirehoseEvent, part: number, late: boolean): void {
    let i = this.d.length
    this.d.push(d); this.s.push(s); this.ev.push(ev); this.part.push(part); this.late.push(late)
    while (i > 0) {
      const p = (i - 1) >> 1
      if (this.less(p, d, s)) break
      this.move(i, p)
      i = p
    }
    this.put(i, d, s, ev, part, late)
  }
  /** Remove the top (the caller has read it). */
  pop(): void {
    const d = this.d.pop()!
    const s = this.s.pop()!
    const ev = this.ev.pop()!
    const part = this.part.pop()!
    const late = this.late.pop()!
    const n = this.d.length
    if (n === 0) return
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && this.less(r, this.d[l], this.s[l]) ? r : l
      if (!this.less(c, d, s)) break
      this.move(i, c)
      i = c
    }
    this.put(i, d, s, ev, part, late)
  }
}

/** Partition of a key: FNV-1a of partitionKey(e) modulo the partition count (our Kafka-style partitioner). */
export function partitionOf(key: string, partitions: number): number {
  return fnv1a(key) % partitions
}

interface TrendPlan {
  label: TrendLabel
  /** Hashtag index in the vocabulary, or -1 (sound, or a new hashtag). */
  tag: number
  /** Surface-able canonical name for hashtags. */
  name: string
  sound: string | null
  rise: number
  decay: number
  peakPerMs: number
}

interface CrisisPlan {
  label: CrisisLabel
  brand: string
  rise: number
  decay: number
  peakPerMs: number
}

// ---------------------------------------------------------------------------------------------
// The generator

/**
 * The firehose as a pull iterator over the delivered stream: call next() until it returns false;
 * after a true, `event`, `partition`, `deliveryTime`, `late`, `index` and `offset` describe the event.
 */
export class FirehoseGenerator {
  readonly options: SyntheticOptions
  readonly partitionIds: string[]

  // Current delivered event.
  event: FirehoseEvent | null = null
  partition = 0
  deliveryTime = 0
  late = false
  /** Global delivery index of the current event. */
  index = -1
  /** Index of the current event within its partition. */
  offset = -1

  private readonly sim: Rng
  private readonly del: Rng
  private readonly heap = new ProcHeap()
  private readonly buffer = new DeliveryHeap()
  private readonly endTime: number
  private readonly maxEvents: number
  private seq = 0
  private postSeq = 0
  private delivered = 0
  private maxDeliveredTime = -Infinity
  private readonly partitionCounts: number[]
  private genDone = false

  // World
  private readonly tags: string[]
  private readonly tagNormalized: Set<string>
  private readonly tagAlias: AliasTable
  private readonly soundAlias: AliasTable
  private readonly creatorAlias: AliasTable
  private readonly creatorFollowers: Float64Array
  private readonly creatorPlatform: Uint8Array
  private readonly creatorLang: Uint8Array
  private readonly creatorLastDelivery: Float64Array
  private readonly creatorIds: string[]
  private readonly postRatePerMs: number
  private readonly creatorRatePerMs: number
  private readonly dMax: number
  private readonly amp: number
  private readonly dMaxView: number
  private readonly ampView: number
  private readonly trendPlans: TrendPlan[] = []
  private readonly crisisPlans: CrisisPlan[] = []

  /** Lazily filled cache of user id strings (users are drawn with a skew, so most draws hit). */
  private readonly userIds: (string | undefined)[] = []

  // Labels
  private readonly labelledPosts: Post[] = []
  private readonly lateLabels: LateLabel[] = []
  private labelsCompleted = false

  constructor(input: SyntheticOptionsInput | SyntheticOptions) {
    const o = (this.options = parseSyntheticOptions(input))
    this.partitionIds = Array.from({ length: o.partitions }, (_, i) => `${o.name}/${i}`)
    this.partitionCounts = new Array(o.partitions).fill(0)
    this.sim = new Rng(o.seed, 'simulation')
    this.del = new Rng(o.seed, 'delivery')
    const world = new Rng(o.seed, 'world')
    this.amp = o.diurnalAmplitude
    this.dMax = 1 + o.diurnalAmplitude
    this.ampView = o.diurnalAmplitude / 2
    this.dMaxView = 1 + this.ampView
    this.endTime = o.durationMs !== undefined ? o.startTime + o.durationMs : Infinity
    this.maxEvents = o.maxEvents ?? Infinity

    // Vocabulary: hashtags and sounds with Zipf popularity.
    const vocab = buildHashtags(o.hashtags, world)
    this.tags = vocab.names
    this.tagNormalized = vocab.normalized
    this.tagAlias = new AliasTable(zipfWeights(this.tags.length, o.zipfExponent))
    this.soundAlias = new AliasTable(zipfWeights(o.sounds, o.zipfExponent))

    // Creators: Pareto followers, log-normal posting activity, a platform and a language each.
    const nc = o.creators
    this.creatorFollowers = new Float64Array(nc)
    this.creatorPlatform = new Uint8Array(nc)
    this.creatorLang = new Uint8Array(nc)
    this.creatorLastDelivery = new Float64Array(nc).fill(-Infinity)
    this.creatorIds = new Array(nc)
    const activity = new Float64Array(nc)
    const platformAlias = new AliasTable(PLATFORM_WEIGHTS)
    const langAlias = new AliasTable(LANGUAGE_WEIGHTS)
    for (let c = 0; c < nc; c++) {
      this.creatorFollowers[c] = Math.min(2e8, Math.floor(world.pareto(200, o.followerAlpha)))
      activity[c] = world.logNormal(0, 1)
      this.creatorPlatform[c] = platformAlias.sample(world)
      this.creatorLang[c] = langAlias.sample(world)
      this.creatorIds[c] = `${PLATFORM_PREFIX[this.creatorPlatform[c]]}_c${c.toString(36)}`
    }
    this.creatorAlias = new AliasTable(activity)

    // Calibrate the post rate so the mean event rate is eventsPerSecond: expected events per post
    // = E[exposure] · E[1/(1-branching)] · E[diurnal_post · diurnal_view] (exposure and branching
    // are independent; a post's exposure mostly falls near its posting time).
    let wSum = 0
    let fSum = 0
    for (let c = 0; c < nc; c++) { wSum += activity[c]; fSum += activity[c] * Math.pow(this.creatorFollowers[c] / 1000, FOLLOWER_EXPONENT) }
    const cal = new Rng(o.seed, 'calibration')
    let ampSum = 0
    const N = 8192
    for (let i = 0; i < N; i++) {
      const q = drawQuality(cal, 0)
      ampSum += 1 / (1 - drawBranching(cal, q))
    }
    const meanEventsPerPost = EXPOSURE_SCALE * (fSum / wSum) * Math.exp((EXPOSURE_SIGMA * EXPOSURE_SIGMA) / 2) * (ampSum / N) * (1 + (this.amp * this.ampView) / 2)
    const perMs = o.eventsPerSecond / 1000
    this.postRatePerMs = (perMs * (1 - o.creatorUpdateFraction)) / (meanEventsPerPost + 1)
    this.creatorRatePerMs = perMs * o.creatorUpdateFraction

    this.planTrends(world)
    this.planCrises(world)

    // Processes.
    const simStart = o.startTime - o.warmupMs
    const arrivals = new Proc(P_ARRIVALS, 0)
    this.schedule(arrivals, simStart, true)
    if (this.creatorRatePerMs > 0) this.schedule(new Proc(P_CREATOR, 0), o.startTime, true)
    this.trendPlans.forEach((t, i) => this.schedule(new Proc(P_TREND, i), t.label.onset, true))
    this.crisisPlans.forEach((c, i) => this.schedule(new Proc(P_CRISIS, i), c.label.onset, true))
  }

  /** Length of event time used to place trends and crises: the duration, or its expectation. */
  private plannedSpan(): number {
    const o = this.options
    if (o.durationMs !== undefined) return o.durationMs
    if (o.maxEvents !== undefined) return Math.max(MINUTE, (o.maxEvents / o.eventsPerSecond) * 1000)
    return DAY
  }

  private planTrends(world: Rng): void {
    const o = this.options
    const D = this.plannedSpan()
    const postsPerMin = this.postRatePerMs * MINUTE
    for (let i = 0; i < o.trends; i++) {
      const isSound = world.chance(0.3)
      const isNew = world.chance(0.4)
      const rise = world.logRange(Math.min(10 * MINUTE, D / 12), Math.min(3 * HOUR, D / 5))
      const decay = world.logRange(Math.min(20 * MINUTE, D / 12), Math.min(6 * HOUR, D / 4))
      const onset = Math.floor(o.startTime + D * world.range(0.08, 0.5))
      const peak = Math.floor(onset + rise)
      const end = Math.floor(peak + 4 * decay)
      const share = world.logRange(0.01, 0.08)
      let entity: string
      let normalized: string
      let tag = -1
      let sound: string | null = null
      let baselineRate = 0
      if (isSound) {
        if (isNew) {
          entity = `snd_${(o.sounds + i).toString(36)}`
        } else {
          const rank = Math.floor(world.logRange(20, Math.min(o.sounds, 5000)))
          entity = `snd_${rank.toString(36)}`
          baselineRate = postsPerMin * 0.7 * zipfProbability(rank, o.sounds, o.zipfExponent)
        }
        sound = entity
        normalized = entity
      } else {
        if (isNew) {
          let name = ''
          for (let k = 0; ; k++) {
            name = syllableName(o.hashtags * 3 + 7919 * (i + 1) + k) + world.pick(['challenge', 'core', 'trend', 'dance', 'ñ'])
            if (!this.tagNormalized.has(normalizeTerm(name)) && !name.endsWith('s')) break
          }
          this.tagNormalized.add(normalizeTerm(name))
          entity = name
        } else {
          tag = Math.floor(world.logRange(20, Math.min(this.tags.length, 5000)))
          entity = this.tags[tag]
          baselineRate = postsPerMin * MEAN_TAGS * zipfProbability(tag, this.tags.length, o.zipfExponent)
        }
        normalized = normalizeTerm(entity)
      }
      // At least 3× the entity's own baseline at the peak: a trend is a multiple of normal usage.
      const peakRate = Math.max(share * postsPerMin, 3 * baselineRate)
      const label: TrendLabel = {
        id: `trend-${i}`, type: isSound ? 'sound' : 'hashtag', entity, normalized, isNew,
        onset, peak, end, peakRate, baselineRate, posts: 0,
      }
      this.trendPlans.push({ label, tag, name: entity, sound, rise, decay, peakPerMs: peakRate / MINUTE })
    }
  }

  private planCrises(world: Rng): void {
    const o = this.options
    const D = this.plannedSpan()
    const brands = BRANDS.slice()
    const postsPerMin = this.postRatePerMs * MINUTE
    for (let i = 0; i < o.crises; i++) {
      const brand = brands.splice(world.int(brands.length), 1)[0]
      const rise = world.logRange(Math.min(5 * MINUTE, D / 15), Math.min(HOUR, D / 6))
      const decay = world.logRange(Math.min(10 * MINUTE, D / 15), Math.min(3 * HOUR, D / 5))
      const onset = Math.floor(o.startTime + D * world.range(0.15, 0.6))
      const peak = Math.floor(onset + rise)
      const peakRate = Math.max(0.5, world.logRange(0.01, 0.04) * postsPerMin)
      const label: CrisisLabel = {
        id: `crisis-${i}`, brand, hashtag: `boycott${normalizeTerm(brand).replace(/[^\p{L}\p{N}]/gu, '')}`,
        onset, peak, end: Math.floor(peak + 4 * decay), peakRate, posts: 0, negativeComments: 0,
        negativeWords: NEGATIVE_WORDS,
      }
      this.crisisPlans.push({ label, brand, rise, decay, peakPerMs: peakRate / MINUTE })
    }
  }

  // --- scheduling -----------------------------------------------------------------------------

  /** Compute the next event time of a non-post process after `from`; push (first) or replace the top. */
  private schedule(p: Proc, from: number, first: boolean): void {
    const t = this.nextProcTime(p, from)
    if (t === Infinity) { if (!first) this.heap.popTop(); return }
    p.next = t
    if (first) this.heap.push(t, p)
    else this.heap.replaceTop(t, p)
  }

  /** Thinning for the non-homogeneous Poisson processes. */
  private nextProcTime(p: Proc, from: number): number {
    const rng = this.sim
    switch (p.kind) {
      case P_ARRIVALS: {
        const max = this.postRatePerMs * this.dMax
        let t = from
        for (;;) {
          t += rng.exp(1 / max)
          if (rng.float() * this.dMax <= diurnal(t, this.amp)) return t
        }
      }
      case P_CREATOR:
        return from + rng.exp(1 / this.creatorRatePerMs)
      case P_TREND:
      case P_CRISIS: {
        const plan = p.kind === P_TREND ? this.trendPlans[p.idx] : this.crisisPlans[p.idx]
        const { onset, peak, end } = plan.label
        let t = from
        for (;;) {
          t += rng.exp(1 / plan.peakPerMs)
          if (t >= end) return Infinity
          const shape = t < peak ? ((t - onset) / (peak - onset)) ** 2 : Math.exp(-(t - peak) / plan.decay)
          if (rng.float() <= shape) return t
        }
      }
    }
    return Infinity
  }

  /**
   * Ogata thinning for a post's Hawkes intensity
   *   λ(t) = exposure · e^{-(t-t0)/τ}/τ · diurnal(t) + Σ_k e_k(t),  e_k decaying at rate 1/τ_k,
   * each event adding branching · w_k/τ_k to e_k (so the kernel integrates to the branching ratio).
   * Between events λ is bounded by its value now with diurnal at its maximum.
   */
  private advancePost(p: Post, rng: Rng): number {
    let now = p.now
    let e0 = p.e0
    let e1 = p.e1
    let e2 = p.e2
    const invTau = 1 / p.tauB
    const base = p.exposure * invTau
    const dMax = this.dMaxView
    const amp = this.ampView
    for (;;) {
      const mu = base * Math.exp((p.t0 - now) * invTau)
      const bound = mu * dMax + e0 + e1 + e2
      if (bound < 1e-15) return Infinity
      const t = now - Math.log(rng.float()) / bound
      if (t > p.horizonEnd) return Infinity
      const dt = t - now
      e0 *= Math.exp(-dt * KB0)
      e1 *= Math.exp(-dt * KB1)
      e2 *= Math.exp(-dt * KB2)
      const lam = base * Math.exp((p.t0 - t) * invTau) * diurnal(t, amp) + e0 + e1 + e2
      now = t
      if (rng.float() * bound <= lam) {
        const n = p.branching
        p.now = t
        p.e0 = e0 + n * KW0 * KB0
        p.e1 = e1 + n * KW1 * KB1
        p.e2 = e2 + n * KW2 * KB2
        return t
      }
    }
  }

  // --- one simulation step --------------------------------------------------------------------

  private nextGenTime(): number {
    if (this.genDone) return Infinity
    if (this.heap.size === 0) { this.genDone = true; return Infinity }
    const t = this.heap.keys[0]
    if (t >= this.endTime) { this.genDone = true; return Infinity }
    return t
  }

  /** Run the earliest process once; may add one event to the reorder buffer. */
  private step(): void {
    const heap = this.heap
    const t = heap.keys[0]
    const item = heap.items[0]
    const at = Math.floor(t)
    switch (item.kind) {
      case P_POST: {
        const p = item as Post
        p.count++
        if (at >= this.options.startTime) {
          const ev = this.makeEngagement(p, at)
          this.enqueue(ev, at, p.partition, true, p)
        } else if (this.sim.float() >= p.cSave && this.sim.float() < (p.cFollow - p.cSave) / (1 - p.cSave)) {
          // Warm-up: not delivered, so no event object; only a follow has a lasting effect.
          this.creatorFollowers[p.creator]++
        }
        const next = this.advancePost(p, this.sim)
        p.next = next
        if (next === Infinity) heap.popTop()
        else heap.replaceTop(next, p)
        return
      }
      case P_ARRIVALS: {
        const post = this.newPost(t, -1, -1)
        this.schedule(item as Proc, t, false)
        this.startPost(post, t)
        return
      }
      case P_TREND: {
        const post = this.newPost(t, (item as Proc).idx, -1)
        this.trendPlans[(item as Proc).idx].label.posts++
        this.schedule(item as Proc, t, false)
        this.startPost(post, t)
        return
      }
      case P_CRISIS: {
        const post = this.newPost(t, -1, (item as Proc).idx)
        this.crisisPlans[(item as Proc).idx].label.posts++
        this.schedule(item as Proc, t, false)
        this.startPost(post, t)
        return
      }
      case P_CREATOR: {
        const c = this.creatorAlias.sample(this.sim)
        const ev: CreatorUpdated = {
          kind: 'creator',
          creatorId: this.creatorIds[c],
          platform: PLATFORM_LIST[this.creatorPlatform[c]],
          followers: this.creatorFollowers[c],
          at,
          displayName: this.sim.chance(0.3) ? `${this.sim.pick(FIRST_NAMES)} ${this.sim.pick(EMOJI)}` : null,
        }
        this.schedule(item as Proc, t, false)
        this.enqueueCreator(ev, at, c)
        return
      }
    }
  }

  private startPost(p: Post, t: number): void {
    const ev = this.postEvent
    this.postEvent = null
    // Engagement starts after publication; the first event is drawn from the post's own process.
    const next = this.advancePost(p, this.sim)
    p.next = next
    if (next !== Infinity) this.heap.push(next, p)
    this.enqueue(ev!, Math.floor(t), p.partition, false, p)
    this.labelledPosts.push(p)
  }

  // --- delivery -------------------------------------------------------------------------------

  private enqueue(ev: FirehoseEvent, at: number, partition: number, mayBeLate: boolean, p: Post): void {
    const o = this.options
    const jitter = o.outOfOrderMs > 0 ? this.del.int(o.outOfOrderMs + 1) : 0
    if (mayBeLate && o.lateFraction > 0 && this.del.float() < o.lateFraction) {
      this.buffer.push(at + o.lateByMs + jitter, this.seq++, ev, partition, true)
      return
    }
    // Never before an earlier event of the same post: a post's on-time events stay in order
    // (and its PostPublished first). Still within the bound: lastDelivery <= t_prev + bound <= t + bound.
    let d = at + jitter
    if (d < p.lastDelivery) d = p.lastDelivery
    p.lastDelivery = d
    this.buffer.push(d, this.seq++, ev, partition, false)
  }

  private enqueueCreator(ev: CreatorUpdated, at: number, c: number): void {
    const o = this.options
    const partition = partitionOf(ev.creatorId, o.partitions)
    const jitter = o.outOfOrderMs > 0 ? this.del.int(o.outOfOrderMs + 1) : 0
    if (o.lateFraction > 0 && this.del.float() < o.lateFraction) {
      this.buffer.push(at + o.lateByMs + jitter, this.seq++, ev, partition, true)
      return
    }
    let d = at + jitter
    if (d < this.creatorLastDelivery[c]) d = this.creatorLastDelivery[c]
    this.creatorLastDelivery[c] = d
    this.buffer.push(d, this.seq++, ev, partition, false)
  }

  /** Advance to the next delivered event. False at the end of a bounded stream. */
  next(): boolean {
    if (this.delivered >= this.maxEvents) { this.event = null; return false }
    const buf = this.buffer
    for (;;) {
      const tn = this.nextGenTime()
      // Every event generated from now on has delivery >= floor(tn), and a larger sequence number.
      if (buf.size > 0 && buf.d[0] <= Math.floor(tn)) break
      if (tn === Infinity) {
        if (buf.size > 0) break
        this.event = null
        return false
      }
      this.step()
    }
    const ev = buf.ev[0]
    const part = buf.part[0]
    this.event = ev
    this.partition = part
    this.deliveryTime = buf.d[0]
    this.late = buf.late[0]
    buf.pop()
    this.index = this.delivered++
    this.offset = this.partitionCounts[part]++
    const et = eventTime(ev)
    if (et > this.maxDeliveredTime) this.maxDeliveredTime = et
    if (this.late) {
      this.lateLabels.push({
        index: this.index,
        partition: this.partitionIds[part],
        offset: this.offset,
        kind: ev.kind,
        key: ev.kind === 'creator' ? ev.creatorId : ev.postId,
        type: ev.kind === 'engagement' ? ev.type : null,
        at: et,
      })
    }
    return true
  }

  /** Delivery time of the next event without consuming it (Infinity at the end). */
  peekDeliveryTime(): number {
    if (this.delivered >= this.maxEvents) return Infinity
    const buf = this.buffer
    for (;;) {
      const tn = this.nextGenTime()
      if (buf.size > 0 && buf.d[0] <= Math.floor(tn)) return buf.d[0]
      if (tn === Infinity) return buf.size > 0 ? buf.d[0] : Infinity
      this.step()
    }
  }

  /** Partition of the next event without consuming it (-1 at the end). */
  peekPartition(): number {
    return this.peekDeliveryTime() === Infinity ? -1 : this.buffer.part[0]
  }

  /** Events delivered so far. */
  get count(): number { return this.delivered }


  // --- building events ------------------------------------------------------------------------

  /** The PostPublished built by the last newPost(), handed to startPost(). */
  private postEvent: PostPublished | null = null

  private newPost(t: number, trend: number, crisis: number): Post {
    const rng = this.sim
    const o = this.options
    const c = this.creatorAlias.sample(rng)
    const platformIdx = this.creatorPlatform[c]
    const lang = LANGUAGES[this.creatorLang[c]]
    const id = `${PLATFORM_PREFIX[platformIdx]}_p${(this.postSeq++).toString(36)}`
    const partition = partitionOf(id, o.partitions)
    const quality = drawQuality(rng, trend >= 0 ? 0.5 : 0)
    const branching = drawBranching(rng, quality)
    let exposure = EXPOSURE_SCALE * Math.pow(this.creatorFollowers[c] / 1000, FOLLOWER_EXPONENT) * rng.logNormal(0, EXPOSURE_SIGMA)
    if (trend >= 0) exposure *= 1.5
    if (crisis >= 0) exposure *= 3
    const tauB = 30 * MINUTE * rng.logNormal(0, 0.6)
    const durationSec = Math.round(Math.min(180, Math.max(5, rng.logNormal(Math.log(22), 0.7))))
    // Engagement mix: the non-view types as fractions of events, scaled by quality.
    const like = 0.06 + 0.12 * quality
    const comment = crisis >= 0 ? 0.12 : 0.006 + 0.02 * quality
    const share = 0.004 + 0.02 * quality * quality
    const save = 0.003 + 0.01 * quality
    const follow = 0.001 + 0.004 * quality
    const cLike = like
    const cComment = cLike + comment
    const cShare = cComment + share
    const cSave = cShare + save
    const cFollow = cSave + follow

    // Hashtags (Zipf) with surface variants; the trend's tag if any.
    const nTags = Math.min(8, rng.poisson(MEAN_TAGS))
    const canon: string[] = []
    for (let k = 0; k < nTags; k++) {
      const name = this.tags[this.tagAlias.sample(rng)]
      if (!canon.includes(name)) canon.push(name)
    }
    let soundId: string | null = rng.chance(0.7) ? `snd_${this.soundAlias.sample(rng).toString(36)}` : null
    if (trend >= 0) {
      const plan = this.trendPlans[trend]
      if (plan.sound !== null) soundId = plan.sound
      else if (!canon.includes(plan.name)) canon.splice(rng.int(canon.length + 1), 0, plan.name)
    }
    let brandText = ''
    if (crisis >= 0) {
      const plan = this.crisisPlans[crisis]
      canon.unshift(plan.label.hashtag)
      brandText = negativeText(rng, plan.brand)
    } else if (rng.chance(0.005)) {
      const b = rng.pick(BRANDS)
      canon.unshift('ad')
      brandText = positiveText(rng, b)
    }
    const hashtags = canon.map((h) => surfaceVariant(rng, h))
    const caption = buildCaption(rng, lang, brandText, hashtags)

    const post = new Post(
      id, platformIdx, c, partition, t, t + o.labelHorizonMs, exposure, tauB, branching, quality, durationSec, lang,
      cLike, cComment, cShare, cSave, cFollow, trend, crisis, t < o.startTime,
    )
    this.postEvent = {
      kind: 'post',
      postId: id,
      platform: PLATFORM_LIST[platformIdx],
      creatorId: this.creatorIds[c],
      creatorFollowers: this.creatorFollowers[c],
      postedAt: Math.floor(t),
      caption,
      hashtags,
      soundId,
      durationSec,
      language: lang,
      embedding: null,
    }
    return post
  }

  private makeEngagement(p: Post, at: number): Engagement {
    const rng = this.sim
    const u = rng.float()
    let type: EngagementType
    let watch: number | null = null
    let text: string | null = null
    if (u >= p.cFollow) {
      type = 'view'
      const full = rng.float() < 0.2 + 0.5 * p.quality
      const frac = full ? 1 + (rng.float() < 0.25 ? rng.float() * 2 : 0) : rng.float()
      watch = Math.round(p.durationSec * frac * 10) / 10
    } else if (u < p.cLike) type = 'like'
    else if (u < p.cComment) {
      type = 'comment'
      text = this.commentText(p)
    } else if (u < p.cShare) type = 'share'
    else if (u < p.cSave) type = 'save'
    else {
      type = 'follow'
      this.creatorFollowers[p.creator]++
    }
    const r = rng.float()
    const user = Math.floor(this.options.users * r * r)
    let userId = user < USER_ID_CACHE ? this.userIds[user] : undefined
    if (userId === undefined) {
      userId = `u${user.toString(36)}`
      if (user < USER_ID_CACHE) this.userIds[user] = userId
    }
    return {
      kind: 'engagement',
      postId: p.id,
      platform: p.platform,
      type,
      at,
      watchTimeSec: watch,
      // Field order of Engagement.avsc, so objects of one kind share one shape whatever their source.
      userId,
      commentText: text,
    }
  }

  private commentText(p: Post): string {
    const rng = this.sim
    if (p.crisis >= 0 && rng.float() < 0.7) {
      const plan = this.crisisPlans[p.crisis]
      plan.label.negativeComments++
      return negativeText(rng, plan.brand)
    }
    const r = rng.float()
    // Background brand chatter, mostly positive, so brand alert rules have a baseline.
    if (r < 0.003) return negativeText(rng, rng.pick(BRANDS))
    if (r < 0.02) return positiveText(rng, rng.pick(BRANDS))
    const list = COMMENTS[rng.float() < 0.85 ? p.language : 'en']
    return rng.pick(list)
  }

  // --- labels ---------------------------------------------------------------------------------

  /** True when the stream has delivered its last event. */
  get finished(): boolean {
    return this.peekDeliveryTime() === Infinity
  }

  /**
   * Ground truth for what has been delivered so far. When the stream is finished and completeLabels
   * is on, live posts are first simulated (without emitting) to the end of their horizon, so every
   * post's finalEngagement is exact; after that the generator delivers nothing more.
   */
  labels(): FirehoseLabels {
    const o = this.options
    const finished = this.finished
    // Posts are labelled once their PostPublished is delivered; those still in the reorder buffer are not.
    const undelivered = new Set<string>()
    const buf = this.buffer
    for (let i = 0; i < buf.size; i++) { const e = buf.ev[i]; if (e.kind === 'post') undelivered.add(e.postId) }
    const labelled = undelivered.size === 0 ? this.labelledPosts : this.labelledPosts.filter((p) => !undelivered.has(p.id))
    if (finished && o.completeLabels && !this.labelsCompleted) {
      this.labelsCompleted = true
      const rng = new Rng(o.seed, 'label-completion')
      for (const item of this.heap.items) {
        if (item.kind !== P_POST) continue
        const p = item as Post
        if (undelivered.has(p.id)) continue
        // The event at p.next was already drawn (accepted by thinning) but not emitted: count it too.
        p.count++
        while (this.advancePost(p, rng) !== Infinity) p.count++
        p.next = Infinity
      }
      this.heap.keys.length = 0
      this.heap.items.length = 0
    }
    const posts: PostLabel[] = labelled.map((p) => ({
      postId: p.id,
      platform: p.platform,
      creatorId: this.creatorIds[p.creator],
      postedAt: Math.floor(p.t0),
      finalEngagement: p.count,
      top1pct: false,
      complete: this.labelsCompleted || p.next === Infinity,
      warmup: p.warmup,
      trend: p.trend >= 0 ? `trend-${p.trend}` : null,
      crisis: p.crisis >= 0 ? `crisis-${p.crisis}` : null,
    }))
    const top1pctThreshold = { tiktok: null, reels: null, shorts: null } as Record<Platform, number | null>
    for (const platform of PLATFORM_LIST) {
      const mine = posts.filter((x) => x.platform === platform && x.complete)
      if (mine.length === 0) continue
      mine.sort((a, b) => b.finalEngagement - a.finalEngagement || a.postedAt - b.postedAt)
      const k = Math.ceil(mine.length * 0.01)
      for (let i = 0; i < k; i++) mine[i].top1pct = true
      top1pctThreshold[platform] = mine[k - 1].finalEngagement
    }
    const endTime = this.maxDeliveredTime === -Infinity ? o.startTime : this.maxDeliveredTime
    return {
      version: 1,
      seed: o.seed,
      startTime: o.startTime,
      endTime,
      events: this.delivered,
      partitions: this.partitionIds,
      horizonMs: o.labelHorizonMs,
      outOfOrderMs: o.outOfOrderMs,
      lateByMs: o.lateByMs,
      trends: this.trendPlans.map((t) => ({ ...t.label })).filter((t) => t.onset <= endTime),
      crises: this.crisisPlans.map((c) => ({ ...c.label })).filter((c) => c.onset <= endTime),
      top1pctThreshold,
      posts,
      late: this.lateLabels.slice(),
    }
  }
}

function drawQuality(rng: Rng, boost: number): number {
  return 1 / (1 + Math.exp(-(rng.normal() + boost)))
}

/**
 * Heavy-tailed branching ratio: median ≈ 0.3, about 0.6% of posts above 0.85 (near-critical:
 * cascades 7–25× their organic exposure). Capped below 1 so every cascade is finite.
 */
function drawBranching(rng: Rng, quality: number): number {
  const z = 1.1 * rng.normal() + 1.5 * (quality - 0.5) - 0.8
  return 0.96 / (1 + Math.exp(-z))
}

function zipfProbability(rank: number, n: number, s: number): number {
  // Harmonic number H(n, s), approximated by its integral plus the first terms exactly.
  let h = 0
  const exact = Math.min(n, 1000)
  for (let i = 1; i <= exact; i++) h += 1 / Math.pow(i, s)
  if (n > exact) h += s === 1 ? Math.log(n / exact) : (Math.pow(n, 1 - s) - Math.pow(exact, 1 - s)) / (1 - s)
  return 1 / Math.pow(rank + 1, s) / h
}

function surfaceVariant(rng: Rng, tag: string): string {
  const r = rng.float()
  if (r < 0.7) return tag
  if (r < 0.8) return tag.charAt(0).toUpperCase() + tag.slice(1)
  if (r < 0.84) return tag.toUpperCase()
  if (r < 0.92) return tag + 's'
  // Accent folded (a no-op for tags without diacritics).
  return tag.normalize('NFKD').replace(/\p{M}+/gu, '')
}

function negativeText(rng: Rng, brand: string): string {
  return rng.pick(NEGATIVE_TEMPLATES).replace('{b}', brand)
}

function positiveText(rng: Rng, brand: string): string {
  return rng.pick(POSITIVE_BRAND_TEMPLATES).replace('{b}', brand)
}

function buildCaption(rng: Rng, lang: string, brandText: string, hashtags: string[]): string {
  const words = WORDS[lang]
  const n = 2 + rng.int(7)
  let s = brandText
  for (let i = 0; i < n; i++) {
    const w = rng.pick(words)
    s += s.length === 0 ? w : (lang === 'ja' ? w : ' ' + w)
    if (rng.float() < 0.12) s += rng.pick(EMOJI)
  }
  for (const h of hashtags) {
    s += ' #' + h
    // Sometimes an emoji glued to the tag: the tokenizer has to split it off.
    if (rng.float() < 0.1) s += rng.pick(EMOJI)
  }
  return s
}

// ---------------------------------------------------------------------------------------------
// Plain synchronous API (benchmarks, tests, the generate command)

/** Yields the delivered stream in arrays of up to chunkSize events; returns the labels at the end. */
export function* iterateEvents(opts: SyntheticOptionsInput, chunkSize = 65_536): Generator<FirehoseEvent[], FirehoseLabels, void> {
  const g = new FirehoseGenerator(opts)
  if (g.options.durationMs === undefined && g.options.maxEvents === undefined) {
    throw new TrendwireError('CONFIG_INVALID', 'synthetic source: iterateEvents needs durationMs or maxEvents (the stream is unbounded otherwise)')
  }
  let chunk: FirehoseEvent[] = []
  while (g.next()) {
    chunk.push(g.event!)
    if (chunk.length >= chunkSize) { yield chunk; chunk = [] }
  }
  if (chunk.length > 0) yield chunk
  return g.labels()
}

export interface GeneratedFirehose {
  events: FirehoseEvent[]
  /** Partition index of each event. */
  partitions: Uint16Array
  labels: FirehoseLabels
}

/** The whole bounded stream in memory, in delivery order, with its labels. */
export function generateEvents(opts: SyntheticOptionsInput): GeneratedFirehose {
  const g = new FirehoseGenerator(opts)
  if (g.options.durationMs === undefined && g.options.maxEvents === undefined) {
    throw new TrendwireError('CONFIG_INVALID', 'synthetic source: generateEvents needs durationMs or maxEvents (the stream is unbounded otherwise)')
  }
  const events: FirehoseEvent[] = []
  let parts = new Uint16Array(1024)
  while (g.next()) {
    if (events.length === parts.length) { const p = new Uint16Array(parts.length * 2); p.set(parts); parts = p }
    parts[events.length] = g.partition
    events.push(g.event!)
  }
  return { events, partitions: parts.slice(0, events.length), labels: g.labels() }
}

export async function writeLabelsFile(path: string, labels: FirehoseLabels): Promise<void> {
  await writeFile(path, JSON.stringify(labels) + '\n')
}

// ---------------------------------------------------------------------------------------------
// Source

/** Position of a synthetic partition: events delivered in it, and the run's resolved start time. */
export interface SyntheticPosition {
  n: number
  /** Kept so a realtime run without an explicit startTime regenerates the same stream on restore. */
  startTime: number
}

/**
 * The firehose as a Source. A partition's position is the number of events delivered in it (plus
 * the run's start time). open() regenerates the stream from the seed and skips that many events per
 * partition: the generator is deterministic, so what follows is exactly the remainder, provided the
 * options are the same. Regeneration costs one pass over the prefix at generation speed (a few
 * seconds per million events, paid in the first poll); checkpointing the generator state itself
 * would avoid that but would tie checkpoints to its internals.
 */
export class SyntheticSource implements Source<FirehoseEvent> {
  readonly name: string
  private opts: SyntheticOptions
  private gen: FirehoseGenerator
  private skip: number[]
  private pos: number[]
  private paused = false
  private closed = false
  private wallStart = NaN
  private finishedReported = false

  constructor(opts: SyntheticOptionsInput) {
    this.opts = parseSyntheticOptions(opts)
    this.name = this.opts.name
    this.gen = new FirehoseGenerator(this.opts)
    this.skip = new Array(this.opts.partitions).fill(0)
    this.pos = new Array(this.opts.partitions).fill(0)
  }

  get options(): SyntheticOptions { return this.opts }
  get partitionIds(): string[] { return this.gen.partitionIds }

  async open(positions: Record<string, unknown> | null, hooks?: SourceHooks): Promise<void> {
    const ids = this.gen.partitionIds
    const counts = new Array(ids.length).fill(0)
    let startTime: number | undefined
    if (positions) {
      for (const [k, v] of Object.entries(positions)) {
        const i = ids.indexOf(k)
        if (i < 0) continue // another source's partition
        const p = v as Partial<SyntheticPosition> | null
        if (!p || !Number.isInteger(p.n) || p.n! < 0 || !Number.isInteger(p.startTime)) {
          throw new TrendwireError('CHECKPOINT_CORRUPT', `synthetic source: position of ${k} must be { n, startTime } integers, got ${JSON.stringify(v)}`)
        }
        if (startTime !== undefined && p.startTime !== startTime) {
          throw new TrendwireError('CHECKPOINT_CORRUPT', `synthetic source: partitions disagree on startTime (${startTime} vs ${p.startTime})`)
        }
        startTime = p.startTime
        counts[i] = p.n
      }
    }
    if (startTime !== undefined && startTime !== this.opts.startTime) this.opts = { ...this.opts, startTime }
    this.gen = new FirehoseGenerator(this.opts)
    this.skip = counts.slice()
    this.pos = counts.slice()
    this.finishedReported = false
    // Fresh start: event time startTime maps to now. Resume: mapped lazily at the first new event.
    this.wallStart = positions ? NaN : Date.now()
    hooks?.onAssign(ids)
  }

  async poll(maxRecords: number): Promise<PollResult<FirehoseEvent>> {
    if (this.closed) throw new TrendwireError('SOURCE_FAILED', 'synthetic source: poll after close')
    const g = this.gen
    const o = this.opts
    const byPart: (SourceBatch<FirehoseEvent> | undefined)[] = new Array(o.partitions)
    const batches: SourceBatch<FirehoseEvent>[] = []
    let n = 0
    let waited = false
    while (n < maxRecords && !this.paused) {
      const d = g.peekDeliveryTime()
      if (d === Infinity) break
      const part = g.peekPartition()
      if (this.skip[part] > 0) {
        g.next()
        this.skip[part]--
        continue
      }
      if (o.realtime) {
        if (Number.isNaN(this.wallStart)) this.wallStart = Date.now() - Math.max(0, d - o.startTime) / o.speed
        const due = this.wallStart + (d - o.startTime) / o.speed
        const now = Date.now()
        if (due > now) {
          // Nothing due: wait briefly once (at most 100 ms) when nothing is ready yet, then return.
          if (n > 0 || waited) break
          waited = true
          await new Promise((r) => setTimeout(r, Math.min(100, due - now)))
          continue
        }
      }
      g.next()
      const ev = g.event!
      let b = byPart[part]
      if (!b) { b = byPart[part] = { partition: g.partitionIds[part], values: [], times: [] }; batches.push(b) }
      b.values.push(ev)
      b.times.push(eventTime(ev))
      this.pos[part]++
      n++
    }
    const done = g.peekDeliveryTime() === Infinity
    const result: PollResult<FirehoseEvent> = { batches, done }
    if (done && !this.finishedReported) {
      this.finishedReported = true
      result.finished = g.partitionIds.slice()
    }
    return result
  }

  positions(): Record<string, unknown> {
    const out: Record<string, SyntheticPosition> = {}
    const ids = this.gen.partitionIds
    for (let i = 0; i < ids.length; i++) out[ids[i]] = { n: this.pos[i], startTime: this.opts.startTime }
    return out
  }

  pause(): void { this.paused = true }
  resume(): void { this.paused = false }
  async close(): Promise<void> { this.closed = true }

  /** Ground truth for the stream so far (see FirehoseGenerator.labels). */
  labels(): FirehoseLabels { return this.gen.labels() }

  async writeLabels(path: string): Promise<void> {
    await writeLabelsFile(path, this.labels())
  }
}
