// The built-in script provider: templates filled from the brand profile and the live trend context.
// Works offline and is deterministic: every choice comes from a seeded xoshiro128** stream
// (streams/sources/prng.ts) labelled with the attempt number, so the same profile, seed and context
// give the same script, and a retry explores different templates.
//
// Shape of a Reel (timing in seconds, L = lengthSec):
//   hook        [0, h)            h = 2 for L ≤ 10, else 3
//   beats       [h, L − c)        ≈ 6 s each, 1–8 of them, boundaries on half seconds
//   call to act [L − c, L)        c = 2 (L ≤ 10), 3 (L ≤ 30), else 4
// Voice-over words are budgeted per segment by its duration at the configured pace and filled with
// whole template sentences, then short fillers, so the total lands inside the validator's range.
// Templates whose rendered text contains a banned word or an unsafe term are skipped.
import { Rng } from '../../streams/sources/prng.ts'
import { CTA_TEMPLATES, HOOK_TYPES, SECTORS, UNSAFE_TERMS, type Goal } from './catalog.ts'
import type { RelevantTrend } from './context.ts'
import type { ProviderRequest, ScriptProvider } from './provider.ts'
import type { Beat, CitedPost, ScriptDraft } from './schemas.ts'
import { containsTerm, firstWords, fold, hashtagContains, toHashtagBody, wordCount } from './text.ts'

interface Vars {
  brand: string
  t: string        // primary trend, spoken ("the matcha trend" style label without '#')
  tTag: string     // primary trend as written on screen (#matcha)
  t2: string       // a second trend or the sector topic
  topic: string
  audience: string
  growth: string
  uses: string
  n: string
}

const HOOKS: Record<string, readonly string[]> = {
  question: ['Why is everyone suddenly into {t}?', 'Have you seen what {t} is doing to your feed?', 'Are you still sleeping on {t}?'],
  pov: ['POV: you just found the {t} trick that works.', 'POV: {brand} tries {t} for the first time.', 'POV: your feed is all {t} now.'],
  'bold-claim': ['This is the only {t} video you need today.', '{t} just got a serious upgrade.', 'Nobody does {t} like this.'],
  stat: ['{t} posts grew {growth} percent in the last window.', '{uses} creators jumped on {t} in minutes.', '{t} is up {growth} percent right now.'],
  'before-after': ['Before {t}: boring. After: this.', 'Here is the after. Now watch the before.', 'Same day, before and after {t}.'],
  'myth-bust': ['Stop doing {t} like everyone else.', 'You have been doing {t} wrong.', 'The biggest {t} myth, busted.'],
  challenge: ['We tried the {t} trend with {brand}.', 'The {t} challenge, {brand} edition.', 'Our team took on {t}. Here goes.'],
  list: ['{n} ways to try {t} today.', '{n} things nobody tells you about {t}.', '{n} quick {t} ideas, go.'],
}
const HOOK_SCREEN: Record<string, readonly string[]> = {
  question: ['Why {tTag}?', 'Seen {tTag} yet?'],
  pov: ['POV: {tTag}', 'POV: {brand} x {tTag}'],
  'bold-claim': ['The {tTag} video', '{tTag}, upgraded'],
  stat: ['{tTag} +{growth}%', '{uses} creators on {tTag}'],
  'before-after': ['Before / after {tTag}', 'Wait for the after'],
  'myth-bust': ['{tTag}: myth busted', 'Stop doing this'],
  challenge: ['{tTag} challenge', '{brand} tries {tTag}'],
  list: ['{n} {tTag} ideas', '{n} things about {tTag}'],
}

// Beat sentences by narrative role: the first beat sets up, the last pays off, the ones between
// demonstrate and prove. A beat draws from its role first, then from the others.
type Role = 'setup' | 'demo' | 'proof' | 'payoff'
const BEAT_LINES: Record<Role, readonly string[]> = {
  setup: [
    'Here is how {brand} does {t} in under a minute.',
    'First, set up the shot the way the top {t} posts do.',
    'This one is for {audience}.',
    'It takes two minutes and zero special gear.',
    'Quick cut to the result, no long intro.',
  ],
  demo: [
    'The trick most people miss is the timing on the beat.',
    'Now add the {brand} twist that makes it yours.',
    'Close-up on the detail that makes people replay it.',
    'Watch what happens when {t} meets {t2}.',
    'Pair it with {topic} and it lands even better.',
    'The secret is doing less, not more.',
  ],
  proof: [
    'Creators on {t2} are seeing the same thing right now.',
    'Everything you see here is real, nothing staged.',
    'Our team tried it three times before it clicked.',
    'Here is the reaction when we showed the team.',
  ],
  payoff: [
    'That is the part people keep saving.',
    'Now do it again, faster, on the beat.',
    'Simple, right? That is the whole point.',
  ],
}
const TONE_LINES: Record<string, readonly string[]> = {
  playful: ['Okay, this part is fun.', 'Wait for it.', 'Tell me that is not cute.'],
  bold: ['No filler.', 'Straight to it.', 'We do not do boring.'],
  warm: ['Here is a little secret.', 'We made this for you.', 'Take a breath, then try it.'],
  expert: ['Here is why it works.', 'Small detail, big difference.', 'The data backs this up.'],
  deadpan: ['Yes, really.', 'We are as surprised as you.', 'This is fine.'],
  inspiring: ['You have got this.', 'Start small, start today.', 'Your turn next.'],
}
const FILLERS: readonly string[] = ['Watch this.', 'Look closely.', 'Right here.', 'Stay with me.', 'Here we go.', 'See that?']
const VISUALS: readonly string[] = [
  'Creator talks straight to camera, tight framing',
  'Close-up of the product in hand',
  'Quick cuts matched to the beat',
  'Split screen: before on the left, after on the right',
  'Over-the-shoulder shot of the process',
  'Reaction shot, then a fast zoom',
  'B-roll of {topic}, natural light',
  'Text pops on the beat drop',
]
const BEAT_SCREEN: Record<Role, readonly string[]> = {
  setup: ['The setup', 'How it works', 'Step one'],
  demo: ['The {brand} twist', 'Watch the timing', 'The detail', 'Step two'],
  proof: ['Real result', 'Nothing staged', 'It works'],
  payoff: ['Save this part', 'Your turn', 'That is it'],
}

function roleOf(i: number, n: number): Role {
  if (i === 0) return 'setup'
  if (i === n - 1) return 'payoff'
  return i % 2 === 1 ? 'demo' : 'proof'
}
const CTA_SCREEN: Record<Goal, string> = {
  awareness: 'Save + share', engagement: 'Comment below', followers: 'Follow for more',
  traffic: 'Link in bio', sales: 'Shop via link in bio', 'app-installs': 'Get the app',
}
/** Calls to action short enough for a 2 s end card. */
const CTA_SHORT: Record<Goal, string> = {
  awareness: 'Save and share.', engagement: 'Comment below.', followers: 'Follow for more.',
  traffic: 'Tap the link.', sales: 'Shop the link.', 'app-installs': 'Get the app.',
}
const SOUND_BY_TONE: Record<string, string> = {
  playful: 'Original voice-over on a bouncy, upbeat instrumental', bold: 'Original voice-over on a punchy bass-heavy beat',
  warm: 'Original voice-over on soft acoustic guitar', expert: 'Original voice-over on a minimal lo-fi beat',
  deadpan: 'Original voice-over, no music, with one well-timed sound effect', inspiring: 'Original voice-over on a rising cinematic build',
}
const PLATFORM_TAG: Record<string, string> = { tiktok: '#fyp', reels: '#reels', shorts: '#shorts' }

export interface Segments { hookEnd: number; beats: Array<[number, number]>; ctaStart: number }

/** Segment boundaries for a Reel of `lengthSec` (see the header). */
export function planSegments(lengthSec: number): Segments {
  const hookEnd = lengthSec <= 10 ? 2 : 3
  const cta = lengthSec <= 10 ? 2 : lengthSec <= 30 ? 3 : 4
  const ctaStart = lengthSec - cta
  const middle = ctaStart - hookEnd
  const n = Math.max(1, Math.min(8, Math.round(middle / 6)))
  const beats: Array<[number, number]> = []
  let start = hookEnd
  for (let i = 0; i < n; i++) {
    const end = i === n - 1 ? ctaStart : Math.round((hookEnd + (middle * (i + 1)) / n) * 2) / 2
    beats.push([start, end])
    start = end
  }
  return { hookEnd, beats, ctaStart }
}

function render(tpl: string, v: Vars): string {
  const t = tpl.replace(/\{(\w+)\}/g, (_, k: string) => (v as unknown as Record<string, string>)[k] ?? '')
  // a sentence that starts with a trend name ("cooking just got…") starts with a capital
  return t.charAt(0).toUpperCase() + t.slice(1)
}

/** Spoken label of a trend: hashtags and terms as words, sounds as "this sound". */
function spoken(t: RelevantTrend): string {
  return t.entityType === 'sound' ? 'this sound' : t.entity
}

function shuffled<T>(xs: readonly T[], rng: Rng): T[] {
  const a = xs.slice()
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const t = a[i]; a[i] = a[j]; a[j] = t
  }
  return a
}

export class BuiltinProvider implements ScriptProvider {
  readonly name = 'builtin'
  readonly model = 'templates-v1'

  async generate(req: ProviderRequest): Promise<ScriptDraft> {
    return buildScript(req)
  }
}

/** The built-in generator as a pure function of the request. */
export function buildScript(req: ProviderRequest): ScriptDraft {
  const { profile: p } = req
  const rng = new Rng(req.seed, `reel|${req.attempt}`)
  // avoid: banned words, unsafe terms, and anything the previous attempt was rejected for
  const avoid = [...p.bannedWords, ...(req.unsafeTerms ?? UNSAFE_TERMS), ...req.feedback.flatMap((f) => (f.term ? [f.term] : []))]
  const safe = (s: string): boolean => !avoid.some((a) => containsTerm(s, a))
  const sector = SECTORS.find((s) => s.id === p.sector)!

  const speakable = req.trends.filter((t) => t.entityType !== 'sound')
  const primary = speakable[0]
  const secondary = speakable[1]
  const soundTrend = req.trends.find((t) => t.entityType === 'sound' && t.platform === p.platform) ?? req.trends.find((t) => t.entityType === 'sound')
  const v: Vars = {
    brand: p.name,
    t: primary ? spoken(primary) : sector.topic,
    tTag: primary ? (primary.entityType === 'hashtag' ? `#${toHashtagBody(primary.entity) || primary.entity}` : primary.entity) : sector.topic,
    t2: secondary ? spoken(secondary) : sector.topic,
    topic: sector.topic,
    audience: firstWords(p.audience, 8),
    growth: primary ? String(Math.max(1, Math.round(primary.growth * 100))) : '100',
    uses: primary ? String(Math.max(2, primary.signal.uniqueCreators || primary.signal.uses)) : 'Dozens of',
    n: String(2 + rng.int(2)),
  }

  // hook
  const hookType = req.hookType ?? pickHookType(p.goal, primary, rng)
  const seg = planSegments(p.lengthSec)
  const [minW, maxW] = req.wordRange
  const target = Math.round((minW + maxW) / 2)
  const wps = target / p.lengthSec
  /** words that fit in `sec` seconds (the validator allows 1.6 × the pace + 2; keep a margin) */
  const fits = (sec: number): number => Math.floor(sec * wps * 1.5) + 1
  /** a random safe template of the pool that fits in maxWords, else the shortest safe one */
  const pick = (pool: readonly string[], maxWords = Infinity): string => {
    const ok = shuffled(pool, rng).map((t) => render(t, v)).filter(safe)
    return ok.find((t) => wordCount(t) <= maxWords) ?? ok.sort((a, b) => wordCount(a) - wordCount(b))[0] ?? ''
  }
  const hookVo = pick(HOOKS[hookType] ?? HOOKS.question, fits(seg.hookEnd))
  const hookScreen = pick(HOOK_SCREEN[hookType] ?? HOOK_SCREEN.question) || firstWords(hookVo, 5)

  // call to action, per goal; short Reels get the short form
  const ctaScreen = CTA_SCREEN[p.goal]
  const ctaFull = pick(CTA_TEMPLATES[p.goal].map((t) => t.replace('{trend}', '{t}')), fits(p.lengthSec - seg.ctaStart))
  const ctaVo = ctaFull && wordCount(ctaFull) <= fits(p.lengthSec - seg.ctaStart) ? ctaFull : CTA_SHORT[p.goal]

  // beats: fill each beat's word budget with whole sentences, then fillers
  let budgetLeft = target - wordCount(hookVo) - wordCount(ctaVo)
  const pools: Record<Role, string[]> = { setup: [], demo: [], proof: [], payoff: [] }
  for (const role of Object.keys(pools) as Role[]) pools[role] = shuffled(BEAT_LINES[role], rng).map((t) => render(t, v)).filter(safe)
  const toneLines = shuffled(TONE_LINES[p.tone] ?? [], rng).filter(safe)
  const fillers = shuffled(FILLERS, rng).filter(safe)
  const visuals = shuffled(VISUALS, rng).map((t) => render(t, v))
  const posts = req.posts.slice(0, 2)
  const beats: Beat[] = []
  const taken = new Set<string>()
  for (let i = 0; i < seg.beats.length; i++) {
    const [start, end] = seg.beats[i]
    const role = roleOf(i, seg.beats.length)
    const budget = i === seg.beats.length - 1 ? budgetLeft : Math.round((budgetLeft * (end - start)) / (seg.ctaStart - start))
    const limit = Math.min(budget + 1, fits(end - start))
    // candidates in preference order: own role, a tone line, the other roles, then short fillers
    const others = (['setup', 'demo', 'proof', 'payoff'] as Role[]).filter((r) => r !== role).flatMap((r) => pools[r])
    const candidates = [...pools[role], ...toneLines.slice(0, 1), ...others, ...toneLines.slice(1)]
    const parts: string[] = []
    let n = 0
    for (const line of candidates) {
      if (n >= budget - 1) break
      const w = wordCount(line)
      if (taken.has(line) || n + w > limit) continue
      parts.push(line); taken.add(line); n += w
    }
    for (const f of fillers) {
      if (n >= budget - 1 || n + wordCount(f) > limit) break
      if (taken.has(f)) continue
      parts.push(f); taken.add(f); n += wordCount(f)
    }
    budgetLeft -= n
    const ref = posts[i]
    const visual = ref ? `${visuals[i % visuals.length]} (framing like top post ${ref.postId}: "${firstWords(ref.caption, 6)}")` : visuals[i % visuals.length]
    const screen = shuffled(BEAT_SCREEN[role], rng).map((t) => render(t, v)).filter(safe)[0] ?? ''
    beats.push({ startSec: start, endSec: end, visual, onScreenText: screen, voiceOver: parts.join(' ') })
  }

  // hashtags: live trend tags first, then the brand, a tag from similar top posts, the sector, the platform
  const tags = hashtagsFor(p, req.trends, req.posts, sector.keywords, avoid, req.hashtagsMax)
  const primaryIds = [primary, secondary, soundTrend].filter((t): t is RelevantTrend => !!t)
  // cited: the trends the script is built on, plus live (not declining) trends whose hashtag it uses
  const tagged = req.trends.filter((t) => t.stage !== 'declining' && tags.some((h) => fold(h) === fold(t.entity)))
  const usedTrendIds = [...new Set([...primaryIds.map((t) => t.id), ...tagged.map((t) => t.id)])]

  return {
    title: `${p.name} × ${primary ? v.tTag : sector.topic}: ${HOOK_TYPES.find((h) => h.id === hookType)?.label ?? hookType} hook`,
    hook: { type: hookType, voiceOver: hookVo, onScreenText: hookScreen, endSec: seg.hookEnd },
    beats,
    callToAction: { voiceOver: ctaVo, onScreenText: ctaScreen, startSec: seg.ctaStart },
    caption: [hookScreen, `${p.name} on ${v.t}.`, ctaVo].filter(safe).join(' '),
    hashtags: tags.slice(0, Math.max(req.hashtagsMin, Math.min(req.hashtagsMax, tags.length))),
    sound: soundTrend
      ? { soundId: soundTrend.entity, description: `Trending sound ${soundTrend.entity} on ${soundTrend.platform} (${soundTrend.stage}, score ${soundTrend.score.toFixed(1)})` }
      : { soundId: null, description: SOUND_BY_TONE[p.tone] ?? SOUND_BY_TONE.playful },
    usedTrendIds,
    usedPostIds: posts.map((x) => x.postId),
  }
}

function pickHookType(goal: Goal, primary: RelevantTrend | undefined, rng: Rng): string {
  // a number hook needs a real number; growth only means something for a live trend
  const pool = HOOK_TYPES.map((h) => h.id).filter((id) => id !== 'stat' || (primary && primary.growth > 0.2))
  const preferred: Record<Goal, string[]> = {
    awareness: ['bold-claim', 'pov', 'stat'], engagement: ['question', 'myth-bust', 'challenge'], followers: ['list', 'pov', 'challenge'],
    traffic: ['list', 'myth-bust', 'question'], sales: ['before-after', 'bold-claim', 'pov'], 'app-installs': ['before-after', 'list', 'stat'],
  }
  const pref = preferred[goal].filter((id) => pool.includes(id))
  return rng.chance(0.7) && pref.length ? rng.pick(pref) : rng.pick(pool)
}

function hashtagsFor(p: ProviderRequest['profile'], trends: readonly RelevantTrend[], posts: readonly CitedPost[], sectorKeywords: readonly string[], avoid: readonly string[], max: number): string[] {
  const out: string[] = []
  const seen = new Set<string>()
  const add = (body: string): void => {
    const b = toHashtagBody(body)
    if (b.length < 2 || b.length > 30 || seen.has(fold(b))) return
    if (avoid.some((a) => hashtagContains(b, a, 4))) return
    seen.add(fold(b))
    out.push(`#${b}`)
  }
  for (const t of trends) if (t.entityType === 'hashtag' && out.length < 2) add(t.entity)
  add(p.name)
  // the most common hashtag among similar high-performing posts
  const counts = new Map<string, number>()
  for (const post of posts) for (const h of post.hashtags) counts.set(fold(h), (counts.get(fold(h)) ?? 0) + 1)
  const topPostTag = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]
  if (topPostTag) add(topPostTag[0])
  for (const k of sectorKeywords.slice(0, 2)) add(k)
  add(PLATFORM_TAG[p.platform] ?? '#reels')
  return out.slice(0, max)
}
