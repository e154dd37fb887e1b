// How well an embedding separates similar from dissimilar texts: labelled pairs, ROC AUC, and
// accuracy at a threshold. Used by tests/operators/embeddings.test.ts and the figures in
// docs/search-and-state.md.
//
// Two labelled sets:
//  - firehosePairs(seed): posts of a synthetic firehose run (a seed the co-occurrence model was not
//    trained on). Similar = two posts of the same injected trend or crisis (labels.posts[].trend /
//    .crisis). Dissimilar = (random) two posts not in the same trend or crisis; (hard) the same but
//    with the same language and platform, so shared caption words and ubiquitous tags do not help.
//  - HANDWRITTEN_PAIRS: pairs written and labelled by hand, in four groups: surface variants of one
//    tag, paraphrases sharing a key term, same-topic pairs sharing *no* token (needs semantics the
//    embedding does not have: reported, not hidden), and unrelated pairs, some sharing only #fyp-like tags.
import { iterateEvents, type SyntheticOptionsInput } from '../../streams/sources/synthetic.ts'
import { Rng } from '../../streams/sources/prng.ts'
import type { PostPublished } from '../../schemas/events.ts'
import type { PostText } from './features.ts'

export interface LabelledPair {
  a: PostText
  b: PostText
  similar: boolean
  group: string
}

/** ROC AUC: probability a random similar pair scores above a random dissimilar one (ties count ½). */
export function rocAuc(scores: readonly number[], similar: readonly boolean[]): number {
  const idx = scores.map((_, i) => i).sort((i, j) => scores[i] - scores[j])
  let pos = 0
  let neg = 0
  let rankSum = 0
  for (let k = 0; k < idx.length;) {
    let e = k
    while (e + 1 < idx.length && scores[idx[e + 1]] === scores[idx[k]]) e++
    const avgRank = (k + e) / 2 + 1
    for (let m = k; m <= e; m++) if (similar[idx[m]]) rankSum += avgRank
    k = e + 1
  }
  for (const s of similar) s ? pos++ : neg++
  if (pos === 0 || neg === 0) return NaN
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg)
}

/** Accuracy of "similar iff score ≥ threshold". */
export function accuracyAt(scores: readonly number[], similar: readonly boolean[], threshold: number): number {
  let ok = 0
  for (let i = 0; i < scores.length; i++) if ((scores[i] >= threshold) === similar[i]) ok++
  return ok / scores.length
}

/** The threshold with the best accuracy on these pairs (fit it on one set, apply it to another). */
export function bestThreshold(scores: readonly number[], similar: readonly boolean[]): { threshold: number; accuracy: number } {
  const cands = [...new Set(scores)].sort((a, b) => a - b)
  let best = { threshold: 0, accuracy: -1 }
  for (const t of cands) {
    const acc = accuracyAt(scores, similar, t)
    if (acc > best.accuracy) best = { threshold: t, accuracy: acc }
  }
  return best
}

export interface FirehosePairsOptions {
  firehose?: SyntheticOptionsInput
  /** Pairs of each kind. */
  pairs?: number
}

export interface FirehosePairs {
  positives: LabelledPair[]
  randomNegatives: LabelledPair[]
  hardNegatives: LabelledPair[]
  posts: number
  groups: number
}

/** Labelled pairs from a synthetic run (see the header). Deterministic for given options. */
export function firehosePairs(o: FirehosePairsOptions = {}): FirehosePairs {
  const firehose = o.firehose ?? { seed: 2, maxEvents: 300_000, eventsPerSecond: 2_000, trends: 20, crises: 6 }
  const n = o.pairs ?? 400
  const posts: PostPublished[] = []
  const it = iterateEvents(firehose)
  let r = it.next()
  while (!r.done) {
    for (const e of r.value) if (e.kind === 'post') posts.push(e)
    r = it.next()
  }
  const labels = r.value
  const groupOf = new Map<string, string>()
  for (const p of labels.posts) {
    const g = p.crisis ?? p.trend
    if (g) groupOf.set(p.postId, g)
  }
  const groups = new Map<string, PostPublished[]>()
  const grouped: PostPublished[] = []
  for (const p of posts) {
    const g = groupOf.get(p.postId)
    if (!g) continue
    grouped.push(p)
    let l = groups.get(g)
    if (!l) groups.set(g, (l = []))
    l.push(p)
  }
  const byLangPlatform = new Map<string, PostPublished[]>()
  for (const p of posts) {
    const k = p.language + '/' + p.platform
    let l = byLangPlatform.get(k)
    if (!l) byLangPlatform.set(k, (l = []))
    l.push(p)
  }
  const rng = new Rng(typeof firehose.seed === 'number' ? firehose.seed : 0, 'embedding-pairs')
  const names = [...groups.keys()].filter((g) => groups.get(g)!.length >= 2).sort()
  const positives: LabelledPair[] = []
  for (let i = 0; i < n; i++) {
    const g = names[rng.int(names.length)]
    const l = groups.get(g)!
    const a = rng.int(l.length)
    let b = rng.int(l.length - 1)
    if (b >= a) b++
    positives.push({ a: l[a], b: l[b], similar: true, group: g.startsWith('crisis') ? 'firehose/same-crisis' : 'firehose/same-trend' })
  }
  const sameGroup = (x: PostPublished, y: PostPublished): boolean => {
    const gx = groupOf.get(x.postId)
    return gx !== undefined && gx === groupOf.get(y.postId)
  }
  const randomNegatives: LabelledPair[] = []
  while (randomNegatives.length < n) {
    // half of them involve a trend/crisis post, so the two sets are comparable
    const a = rng.chance(0.5) ? grouped[rng.int(grouped.length)] : posts[rng.int(posts.length)]
    const b = posts[rng.int(posts.length)]
    if (a === b || sameGroup(a, b)) continue
    randomNegatives.push({ a, b, similar: false, group: 'firehose/random' })
  }
  const hardNegatives: LabelledPair[] = []
  while (hardNegatives.length < n) {
    const a = grouped[rng.int(grouped.length)]
    const l = byLangPlatform.get(a.language + '/' + a.platform)!
    const b = l[rng.int(l.length)]
    if (a === b || sameGroup(a, b)) continue
    hardNegatives.push({ a, b, similar: false, group: 'firehose/same-language-platform' })
  }
  return { positives, randomNegatives, hardNegatives, posts: posts.length, groups: names.length }
}

const p = (caption: string, soundId: string | null = null): PostText => ({ caption, hashtags: [], soundId })

/** Written and labelled by hand (see the header for the groups). */
export const HANDWRITTEN_PAIRS: readonly LabelledPair[] = [
  // one tag, different surface forms
  { a: p('morning vibes #Cafés ☕'), b: p('best #cafe in town'), similar: true, group: 'variants' },
  { a: p('#DANCE with my mom'), b: p('#dance tutorial part 2'), similar: true, group: 'variants' },
  { a: p('#Fútbol highlights'), b: p('#futbol goals 🔥'), similar: true, group: 'variants' },
  { a: p('#ラーメン 最高'), b: p('#ラーメン 今日は'), similar: true, group: 'variants' },
  { a: p('#BookTok favourite reads'), b: p('#booktok tbr pile'), similar: true, group: 'variants' },
  { a: p('#OOTD summer'), b: p('#ootd💯 office look'), similar: true, group: 'variants' },
  { a: p('#jalapeños on everything'), b: p('#Jalapeno poppers'), similar: true, group: 'variants' },
  { a: p('new transition', 'snd_3ve'), b: p('pov you finally', 'snd_3ve'), similar: true, group: 'variants' },
  // paraphrases sharing a key term
  { a: p('#dancechallenge with friends'), b: p('trying the #dance challenge'), similar: true, group: 'paraphrase' },
  { a: p('Nimbus Cola is a scam 😡 #boycottnimbuscola'), b: p('never buying Nimbus Cola again #BoycottNimbusCola'), similar: true, group: 'paraphrase' },
  { a: p('Zestly es una estafa'), b: p('Zestly lied to us'), similar: true, group: 'paraphrase' },
  { a: p('Kiko Café refund me now'), b: p('shame on Kiko Cafe 🤮 #boycottkikocafe'), similar: true, group: 'paraphrase' },
  { a: p('easy pasta #recipe #cooking'), b: p('quick #recipes for dinner'), similar: true, group: 'paraphrase' },
  { a: p('#makeup tutorial for beginners'), b: p('#makeuptutorial everyday look'), similar: true, group: 'paraphrase' },
  { a: p('#gym leg day'), b: p('#gym workout routine #fitness'), similar: true, group: 'paraphrase' },
  { a: p('#catsoftiktok being dramatic'), b: p('my #cat knocked it over'), similar: true, group: 'paraphrase' },
  { a: p('#travelvlog tokyo'), b: p('#travel vlog day 3'), similar: true, group: 'paraphrase' },
  { a: p('#minecraft build hack'), b: p('#Minecraft survival part 3'), similar: true, group: 'paraphrase' },
  // same topic, no shared token: needs world knowledge the embedding does not have
  { a: p('#gym leg day'), b: p('#fitness routine'), similar: true, group: 'semantic' },
  { a: p('#cooking'), b: p('#recipe'), similar: true, group: 'semantic' },
  { a: p('#football'), b: p('#fútbol'), similar: true, group: 'semantic' },
  { a: p('#dog zoomies'), b: p('#pet funny moments'), similar: true, group: 'semantic' },
  { a: p('#skincare night routine'), b: p('#beauty products haul'), similar: true, group: 'semantic' },
  { a: p('Quokka Shoes refund me now'), b: p('Quokka Shoes worst experience ever'), similar: true, group: 'paraphrase' },
  // unrelated
  { a: p('#dance challenge'), b: p('#cooking recipe'), similar: false, group: 'unrelated' },
  { a: p('Nimbus Cola is a scam'), b: p('love my Zestly 😍'), similar: false, group: 'unrelated' },
  { a: p('#fútbol highlights'), b: p('#makeup tutorial'), similar: false, group: 'unrelated' },
  { a: p('#gym motivation'), b: p('#booktok reading list'), similar: false, group: 'unrelated' },
  { a: p('#ラーメン 最高'), b: p('#minecraft build'), similar: false, group: 'unrelated' },
  { a: p('new transition', 'snd_3ve'), b: p('new transition', 'snd_47'), similar: false, group: 'unrelated' },
  { a: p('#anime edit'), b: p('#skincare routine'), similar: false, group: 'unrelated' },
  { a: p('#travel vlog'), b: p('#gaming setup'), similar: false, group: 'unrelated' },
  { a: p('boycott Pixelon #boycottpixelon'), b: p('#cat being funny'), similar: false, group: 'unrelated' },
  { a: p('Quokka Shoes lied to us #boycottquokkashoes'), b: p('Sparq Energy is a scam #boycottsparqenergy'), similar: false, group: 'unrelated' },
  { a: p('#beach summer'), b: p('#school study'), similar: false, group: 'unrelated' },
  { a: p('#tech review'), b: p('#baby first steps'), similar: false, group: 'unrelated' },
  { a: p('#car drift'), b: p('#art drawing'), similar: false, group: 'unrelated' },
  { a: p('#comedy skit'), b: p('#nature hike'), similar: false, group: 'unrelated' },
  // unrelated but sharing ubiquitous tags
  { a: p('#fyp #viral my dog'), b: p('#fyp #viral pasta recipe'), similar: false, group: 'unrelated-shared-fyp' },
  { a: p('#foryou #fyp dance'), b: p('#foryou #fyp science facts'), similar: false, group: 'unrelated-shared-fyp' },
  { a: p('#viral #trend makeup'), b: p('#viral #trend football'), similar: false, group: 'unrelated-shared-fyp' },
  { a: p('#fyp #duet kpop'), b: p('#fyp #duet history'), similar: false, group: 'unrelated-shared-fyp' },
]

export interface PairScores {
  scores: number[]
  similar: boolean[]
  groups: string[]
}

export function scorePairs(pairs: readonly LabelledPair[], embed: (t: PostText) => Float32Array): PairScores {
  const scores: number[] = []
  const similar: boolean[] = []
  const groups: string[] = []
  for (const x of pairs) {
    const a = embed(x.a)
    const b = embed(x.b)
    let dot = 0
    for (let j = 0; j < a.length; j++) dot += a[j] * b[j]
    scores.push(dot)
    similar.push(x.similar)
    groups.push(x.group)
  }
  return { scores, similar, groups }
}
