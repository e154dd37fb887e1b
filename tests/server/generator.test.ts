// The Reel generator: the validator catches each kind of failure; the built-in provider is
// deterministic for a seed and cites live trends; the loop retries and then reports; the
// OpenAI-compatible provider against an in-process FAKE of /v1/chat/completions (no real model runs
// here); the HTTP routes validate input and name the field.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import type { TrendSignal } from '../../schemas/outputs.ts'
import type { PostPublished } from '../../schemas/events.ts'
import { TrendwireError } from '../../streams/errors.ts'
import { Runner } from '../../streams/runner.ts'
import { ArraySource } from '../../streams/sources/array.ts'
import pino from 'pino'
import type { FirehoseEvent } from '../../schemas/events.ts'
import {
  buildScript, followFeed, generatorRouter, performanceFromScores, postIndexTopology, vectorPostSearch, InMemoryPostIndex, OpenAIChatProvider, parseDraft, planSegments, ReelGenerator, TrendContext, validateScript, wordRange,
  FAILURE_KINDS, HOOK_TYPES, SECTORS,
  type FailureKind, type ProviderRequest, type ScriptDraft, type ScriptProvider, type ValidationRules, type GenerateRequest,
} from '../../server/generator/index.ts'

// ---------------------------------------------------------------------------------------------
// fixtures

function signal(entity: string, o: Partial<TrendSignal> = {}): TrendSignal {
  return {
    entityType: 'hashtag', entity, platform: 'reels', windowStart: 540_000, windowEnd: 600_000, uses: 40, uniqueCreators: 31,
    totalEngagement: 900, growth: 2.4, baseline: 3, observed: 40, deviation: 6, score: 6, stage: 'rising', contributingPostIds: ['rl_p1'], revision: 0, ...o,
  }
}

function post(postId: string, caption: string, hashtags: string[]): PostPublished {
  return { kind: 'post', postId, platform: 'reels', creatorId: 'c1', creatorFollowers: 1000, postedAt: 0, caption, hashtags, soundId: null, durationSec: 20, language: 'en', embedding: null }
}

function liveContext(): { context: TrendContext; posts: InMemoryPostIndex } {
  const context = new TrendContext()
  context.ingest([
    signal('coffee', { score: 8 }),
    signal('matcha', { score: 5, stage: 'emerging' }),
    signal('kalovibe', { score: 12 }),
    signal('boycottnimbuscola', { score: 20 }),
    signal('snd_4f', { entityType: 'sound', score: 9 }),
    signal('coffee', { platform: 'tiktok', score: 3 }),
  ])
  const posts = new InMemoryPostIndex()
  posts.add(post('rl_p1', 'best coffee ever at 3am #coffee', ['coffee', 'morning']), 120)
  posts.add(post('rl_p2', 'matcha but make it iced #matcha', ['matcha']), 80)
  posts.add(post('rl_p3', 'my dog tries skateboarding', ['dog']), 500)
  return { context, posts }
}

const profile = {
  name: 'Kiko Café', sector: 'food-beverage', tone: 'playful', audience: 'Gen Z coffee lovers in big cities',
  bannedWords: ['cheap'], goal: 'sales', platform: 'reels', lengthSec: 30, keywords: ['matcha'],
} as const satisfies Partial<GenerateRequest>

function request(o: Partial<GenerateRequest> = {}): GenerateRequest {
  return { ...profile, bannedWords: [...profile.bannedWords], keywords: [...profile.keywords], ...o }
}

function providerRequest(o: Partial<ProviderRequest> = {}): ProviderRequest {
  const { context, posts } = liveContext()
  const p = request()
  const trends = context.relevant(p, 6).trends
  return {
    profile: p, seed: 7, attempt: 1, trends, posts: posts.similar({ text: 'coffee matcha', platform: 'reels', k: 4 }),
    wordRange: wordRange(p.lengthSec, 2.3, 0.2), hashtagsMin: 3, hashtagsMax: 5, feedback: [], ...o,
  }
}

function rulesFor(req: ProviderRequest, o: Partial<ValidationRules> = {}): ValidationRules {
  return {
    lengthSec: req.profile.lengthSec, wordsPerSecond: 2.3, wordTolerance: 0.2, hashtagsMin: 3, hashtagsMax: 5, bannedWords: req.profile.bannedWords,
    knownTrendIds: new Set(req.trends.map((t) => t.id)), knownPostIds: new Set(req.posts.map((p) => p.postId)), ...o,
  }
}

const kinds = (d: ScriptDraft, r: ValidationRules): FailureKind[] => [...new Set(validateScript(d, r).failures.map((f) => f.kind))].sort()

// ---------------------------------------------------------------------------------------------
// validation

test('validator: a built-in script passes; each failure kind is caught on its own', () => {
  const req = providerRequest()
  const rules = rulesFor(req)
  const good = buildScript(req)
  assert.deepEqual(validateScript(good, rules).failures, [])
  const edit = (f: (d: ScriptDraft) => void): ScriptDraft => { const d = structuredClone(good); f(d); return d }
  const seen = new Set<FailureKind>()
  const expect = (d: ScriptDraft, want: FailureKind[], r: ValidationRules = rules): void => {
    assert.deepEqual(kinds(d, r), want.sort(), JSON.stringify(validateScript(d, r).failures))
    for (const k of want) seen.add(k)
  }

  expect(edit((d) => { d.hook.voiceOver = ' '; d.hook.onScreenText = '' }), wordCountOutside(good, rules, (d) => d.hook.voiceOver) ? ['missing_hook', 'word_count'] : ['missing_hook'])
  // word count: pad one beat far beyond the pace (also a timing failure for that beat), or cut everything
  expect(edit((d) => { for (const b of d.beats) b.voiceOver = '' }), ['word_count'])
  expect(edit((d) => { d.beats[0].voiceOver += ' and then some more words to say'.repeat(12) }), ['timing', 'word_count'])
  // timing alone: a gap between beats, a beat running past the end
  expect(edit((d) => { d.beats[1].startSec += 2 }), ['timing'])
  expect(edit((d) => { d.callToAction.startSec = d.beats[d.beats.length - 1].endSec + 3 }), ['timing'])
  // banned words, in prose (plural-folded, case-folded) and inside a hashtag
  expect(edit((d) => { d.beats[0].voiceOver = d.beats[0].voiceOver.replace(/\.$/, ', so CHEAPS.').replace(/^\w+ /, '') }), ['banned_word'])
  expect(edit((d) => { d.hashtags[d.hashtags.length - 1] = '#cheapeats' }), ['banned_word'])
  // unsafe terms, in prose and in a hashtag; near-misses are not flagged
  expect(edit((d) => { d.caption += ' Miracle results.' }), ['unsafe_term'])
  expect(edit((d) => { d.hashtags[0] = '#boycottnimbuscola' }), ['unsafe_term'])
  expect(edit((d) => { d.caption += ' A secure method.'; d.hashtags[d.hashtags.length - 1] = '#method' }), [])
  // hashtags: count, format, duplicates
  expect(edit((d) => { d.hashtags = d.hashtags.slice(0, 2) }), ['hashtag_count'])
  expect(edit((d) => { d.hashtags = [...d.hashtags, '#one', '#two'] }), ['hashtag_count'])
  expect(edit((d) => { d.hashtags[0] = 'coffee' }), ['hashtag_format'])
  expect(edit((d) => { d.hashtags[0] = '#iced coffee' }), ['hashtag_format'])
  expect(edit((d) => { d.hashtags[1] = d.hashtags[0].toUpperCase() }), ['hashtag_format'])
  // call to action: missing, or asking for nothing
  expect(edit((d) => { d.callToAction.voiceOver = ''; d.callToAction.onScreenText = '' }), wordCountOutside(good, rules, (d) => d.callToAction.voiceOver) ? ['missing_cta', 'word_count'] : ['missing_cta'])
  expect(edit((d) => { d.callToAction.voiceOver = 'What a day it has been.'; d.callToAction.onScreenText = 'Wow' }), ['missing_cta'])
  // grounding
  expect(edit((d) => { d.usedTrendIds.push('hashtag:reels:madeup') }), ['unknown_citation'])
  expect(edit((d) => { d.usedPostIds = ['rl_nope'] }), ['unknown_citation'])
  expect(edit((d) => { d.usedTrendIds = [] }), ['no_citation'])

  // schema: not JSON, or not a script
  const notJson = parseDraft('{"title": "x", ')
  assert.ok('failures' in notJson && notJson.failures[0].kind === 'schema' && /not JSON/.test(notJson.failures[0].message))
  const { callToAction: _c, ...noCta } = good
  const noCtaParsed = parseDraft(JSON.stringify(noCta))
  assert.ok('failures' in noCtaParsed && noCtaParsed.failures.some((f) => f.kind === 'schema' && f.where === 'callToAction'))
  seen.add('schema')
  assert.deepEqual([...seen].sort(), [...FAILURE_KINDS].sort(), 'every failure kind exercised')
})

/** Whether clearing a field's words takes the script out of its word range. */
function wordCountOutside(d: ScriptDraft, r: ValidationRules, field: (d: ScriptDraft) => string): boolean {
  const words = field(d).split(/\s+/).filter(Boolean).length
  const total = validateScript(d, r).wordCount - words
  return total < wordRange(r.lengthSec, r.wordsPerSecond, r.wordTolerance)[0]
}

test('validator: word range is lengthSec × pace ± tolerance, at least ±3 words', () => {
  assert.deepEqual(wordRange(30, 2.3, 0.2), [55, 83])
  assert.deepEqual(wordRange(7, 2.3, 0.2), [12, 20], '16.1 ± 3.22')
  assert.deepEqual(wordRange(3, 2, 0.1), [3, 9], '6 ± 3: the ±3-word floor')
  assert.deepEqual(wordRange(60, 2, 0.1), [108, 132])
})

// ---------------------------------------------------------------------------------------------
// context

test('trend context: relevance = match + score, platform and stage weighted; unsafe trends excluded; revisions replace', () => {
  const { context } = liveContext()
  const r = context.relevant(request(), 10)
  const ids = r.trends.map((t) => t.id)
  assert.equal(ids[0], 'hashtag:reels:matcha', 'brand keyword beats sector match')
  assert.equal(r.trends.find((t) => t.id === 'hashtag:reels:coffee')?.match, 'sector')
  assert.ok(ids.indexOf('hashtag:reels:coffee') < ids.indexOf('hashtag:reels:kalovibe'), 'a sector match beats a stronger unrelated trend')
  assert.ok(ids.indexOf('hashtag:reels:coffee') < ids.indexOf('hashtag:tiktok:coffee'), 'own platform first')
  assert.ok(!ids.includes('hashtag:reels:boycottnimbuscola'))
  assert.deepEqual(r.excluded, [{ id: 'hashtag:reels:boycottnimbuscola', reason: 'entity contains "boycott"' }])
  // banned words exclude trends too
  assert.ok(!context.relevant(request({ bannedWords: ['coffee'] }), 10).trends.some((t) => t.entity === 'coffee'))

  // a late revision of the same window replaces the signal; a newer window moves history on
  context.ingest([signal('matcha', { score: 1, revision: 1, stage: 'declining' })])
  assert.equal(context.get('hashtag:reels:matcha')!.latest.stage, 'declining')
  assert.deepEqual(context.get('hashtag:reels:matcha')!.history.map((p) => p.score), [1])
  context.ingest([signal('matcha', { score: 7, windowStart: 600_000, windowEnd: 660_000 })])
  assert.deepEqual(context.get('hashtag:reels:matcha')!.history.map((p) => p.score), [1, 7])
  // the sink adapter feeds the same context
  const sink = context.sink()
  void sink.write({ values: [signal('latte', { score: 4, windowEnd: 660_000 })], times: [660_000] }, { checkpointId: 0, metrics: { inc() {}, set() {} } })
  assert.ok(context.get('hashtag:reels:latte'))
  assert.equal(context.latestWindowEnd, 660_000)

  // following the live feed's records (the FeedBus shape): trends in, other streams ignored
  let listener: ((rs: Array<{ stream: string; data: unknown }>) => void) | null = null
  const unsubscribe = followFeed(context, { subscribe: (l) => { listener = l; return () => { listener = null } } })
  listener!([{ stream: 'scores', data: {} }, { stream: 'trends', data: signal('oatmilk', { windowEnd: 720_000 }) }])
  assert.ok(context.get('hashtag:reels:oatmilk'))
  unsubscribe()
  assert.equal(listener, null)
})

// ---------------------------------------------------------------------------------------------
// built-in provider

test('built-in generator: deterministic for a seed, different across seeds, cites trends and posts', async () => {
  const { context, posts } = liveContext()
  const gen = new ReelGenerator({ context, posts })
  const a = await gen.generate(request({ seed: 42 }))
  const b = await gen.generate(request({ seed: 42 }))
  assert.ok(a.ok && b.ok)
  assert.deepEqual(stripTimes(a), stripTimes(b))
  const others = await Promise.all([1, 2, 3, 4].map((seed) => gen.generate(request({ seed }))))
  assert.ok(others.some((o) => o.ok && JSON.stringify(o.script) !== JSON.stringify(a.script)), 'another seed gives another script')

  const s = a.script
  assert.ok(s.hook.voiceOver && s.beats.length >= 1 && s.callToAction.voiceOver)
  assert.ok(s.citations.trends.length >= 1, 'cites live trends')
  assert.ok(s.citations.trends.every((t) => context.get(t.id)), 'only trends from the context')
  assert.ok(!s.citations.trends.some((t) => t.entity.includes('boycott')))
  assert.ok(s.citations.posts.length >= 1 && s.citations.posts.every((p) => ['rl_p1', 'rl_p2'].includes(p.postId)), 'cites similar posts, not the unrelated one')
  assert.ok(s.hashtags.includes('#matcha') && s.hashtags.includes('#kikocafe'), s.hashtags.join(' '))
  assert.equal(s.sound.soundId, 'snd_4f', 'the trending sound on the platform')
  assert.equal(a.validation.ok, true)
  assert.equal(s.voiceOver.split(/\s+/).length, a.validation.wordCount)
  assert.ok(a.context.excludedTrends.some((t) => t.id.includes('boycott')))
})

test('built-in generator: valid at every length, hook type, tone and goal; honours banned words; works with an empty context', async () => {
  const { context, posts } = liveContext()
  const live = new ReelGenerator({ context, posts })
  const empty = new ReelGenerator({ context: new TrendContext() })
  let firstTry = 0
  let n = 0
  for (const [i, len] of [7, 9, 12, 15, 22, 30, 45, 60, 75, 90].entries()) {
    for (const hook of HOOK_TYPES) {
      const req = request({ seed: i * 31 + 5, lengthSec: len, hookType: hook.id, bannedWords: ['cheap', 'secret', 'team'], tone: (['playful', 'bold', 'warm', 'expert', 'deadpan', 'inspiring'] as const)[i % 6], goal: (['awareness', 'engagement', 'followers', 'traffic', 'sales', 'app-installs'] as const)[(i + hook.id.length) % 6] })
      for (const gen of [live, empty]) {
        const r = await gen.generate(req)
        n++
        assert.ok(r.ok, `${len}s ${hook.id}: ${JSON.stringify(r.attempts)}`)
        if (r.attempts.length === 1) firstTry++
        assert.equal(r.script.hook.type, hook.id)
        assert.ok(!/\b(secret|team)\b/i.test(JSON.stringify(r.script)))
        if (gen === empty) assert.deepEqual(r.script.citations.trends, [])
      }
    }
  }
  assert.ok(firstTry / n > 0.95, `${firstTry}/${n} valid at the first attempt`)
  // segment plan covers the whole length without gaps
  for (const len of [7, 10, 11, 30, 31, 90]) {
    const s = planSegments(len)
    assert.equal(s.beats[0][0], s.hookEnd)
    assert.equal(s.beats[s.beats.length - 1][1], s.ctaStart)
    for (let i = 1; i < s.beats.length; i++) assert.equal(s.beats[i][0], s.beats[i - 1][1])
  }
})

function stripTimes<T extends { attempts: Array<{ ms: number }> }>(r: T): T {
  return { ...r, attempts: r.attempts.map((a) => ({ ...a, ms: 0 })) }
}

// ---------------------------------------------------------------------------------------------
// retries

class ScriptedProvider implements ScriptProvider {
  readonly name = 'scripted'
  calls: ProviderRequest[] = []
  constructor(private readonly steps: Array<(req: ProviderRequest) => unknown>) {}
  async generate(req: ProviderRequest): Promise<unknown> {
    this.calls.push(req)
    const step = this.steps[Math.min(this.calls.length - 1, this.steps.length - 1)]
    return step(req)
  }
}

const withBannedWord = (req: ProviderRequest): ScriptDraft => { const d = buildScript(req); d.caption += ' So cheap!'; return d }
const unavailable = (): never => { throw new TrendwireError('SINK_UNAVAILABLE', 'HTTP 503: overloaded') }
const unauthorized = (): never => { throw new TrendwireError('SINK_REJECTED', 'HTTP 401: bad key') }

test('retries: feeds failures back, succeeds on a later attempt, or reports every attempt', async () => {
  const { context, posts } = liveContext()
  const fixed = new ScriptedProvider([withBannedWord, buildScript])
  let gen = new ReelGenerator({ context, posts, providers: { scripted: fixed }, config: { provider: 'scripted' } })
  const ok = await gen.generate(request({ seed: 3 }))
  assert.ok(ok.ok)
  assert.equal(ok.attempts.length, 2)
  assert.deepEqual(ok.attempts[0].failures.map((f) => f.kind), ['banned_word'])
  assert.deepEqual(fixed.calls[1].feedback.map((f) => f.term), ['cheap'], 'the second attempt is told what failed')
  assert.equal(fixed.calls[1].attempt, 2)

  const never = new ScriptedProvider([withBannedWord])
  gen = new ReelGenerator({ context, posts, providers: { scripted: never }, config: { provider: 'scripted', maxAttempts: 4 } })
  const bad = await gen.generate(request({ seed: 3 }))
  assert.ok(!bad.ok)
  assert.equal(bad.error.code, 'validation_failed')
  assert.equal(bad.attempts.length, 4)
  assert.ok(bad.attempts.every((a) => !a.ok && a.failures.some((f) => f.kind === 'banned_word' && f.term === 'cheap')))
  assert.match(bad.error.message, /no valid script after 4 attempt\(s\): "cheap" appears in caption/)
  assert.ok(bad.lastDraft)

  const flaky = new ScriptedProvider([unavailable, buildScript])
  gen = new ReelGenerator({ context, posts, providers: { scripted: flaky }, config: { provider: 'scripted' } })
  const recovered = await gen.generate(request({ seed: 3 }))
  assert.ok(recovered.ok)
  assert.deepEqual(recovered.attempts[0].providerError, { code: 'SINK_UNAVAILABLE', message: 'HTTP 503: overloaded', retryable: true })

  const denied = new ScriptedProvider([unauthorized, buildScript])
  gen = new ReelGenerator({ context, posts, providers: { scripted: denied }, config: { provider: 'scripted' } })
  const stopped = await gen.generate(request({ seed: 3 }))
  assert.ok(!stopped.ok)
  assert.equal(stopped.error.code, 'provider_failed')
  assert.equal(stopped.attempts.length, 1, 'a non-retryable error stops at once')

  const garbage = new ScriptedProvider([() => 'Sure! Here is your script: ...'])
  gen = new ReelGenerator({ context, posts, providers: { scripted: garbage }, config: { provider: 'scripted', maxAttempts: 2 } })
  const unparsed = await gen.generate(request({ seed: 3 }))
  assert.ok(!unparsed.ok)
  assert.ok(unparsed.attempts.every((a) => a.failures[0].kind === 'schema'))
})

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible provider, against a FAKE /v1/chat/completions (in process, not a real model)

interface FakeCall { auth: string | undefined; body: { model: string; response_format: { type: string }; seed: number; messages: Array<{ role: string; content: string }> } }

/** A fake chat-completions endpoint: answers each call with the next scripted response. */
async function fakeChatServer(answers: Array<(call: FakeCall) => { status: number; body: unknown }>): Promise<{ url: string; calls: FakeCall[]; close(): Promise<void> }> {
  const calls: FakeCall[] = []
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    let raw = ''
    for await (const c of req) raw += c
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') { res.writeHead(404).end(); return }
    const call: FakeCall = { auth: req.headers.authorization, body: JSON.parse(raw) }
    calls.push(call)
    const a = answers[Math.min(calls.length - 1, answers.length - 1)](call)
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/v1`, calls, close: () => new Promise((r) => server.close(() => r())) }
}

/** What a cooperative model would answer: a script built from the prompt, citing its first trend and post. */
function modelAnswer(call: FakeCall, mutate: (d: ScriptDraft) => void = () => {}): { status: number; body: unknown } {
  const user = JSON.parse(call.body.messages[1].content) as { brand: { name: string; lengthSec: number }; trends: Array<{ id: string; entity: string }>; similarPosts: Array<{ id: string }> }
  const L = user.brand.lengthSec
  const t = user.trends[0]
  const sentence = `Here is the ${t.entity} trick everyone keeps saving.`
  const beatWords = Math.round(L * 2.3) - 8 - 7
  const vo: string[] = []
  while (vo.join(' ').split(' ').length < beatWords) vo.push(sentence)
  const d: ScriptDraft = {
    title: `${user.brand.name} x ${t.entity}`,
    hook: { type: 'question', voiceOver: `Why is everyone suddenly into ${t.entity}?`, onScreenText: `Why #${t.entity}?`, endSec: 3 },
    beats: [{ startSec: 3, endSec: L - 3, visual: 'Close-up', onScreenText: 'The trick', voiceOver: vo.join(' ') }],
    callToAction: { voiceOver: 'Tap the link in bio to shop now.', onScreenText: 'Shop now', startSec: L - 3 },
    caption: `${t.entity}, our way.`, hashtags: [`#${t.entity}`, '#kikocafe', '#coffee'],
    sound: { soundId: null, description: 'upbeat' },
    usedTrendIds: [t.id], usedPostIds: user.similarPosts.slice(0, 1).map((p) => p.id),
  }
  mutate(d)
  return { status: 200, body: { id: 'chatcmpl-fake', object: 'chat.completion', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: JSON.stringify(d) } }] } }
}

test('OpenAI-compatible provider (fake endpoint): request shape, JSON mode, grounded answer, feedback on retry', async () => {
  const fake = await fakeChatServer([
    (c) => modelAnswer(c, (d) => { d.callToAction = { voiceOver: 'What a day.', onScreenText: 'Wow', startSec: d.callToAction.startSec } }),
    (c) => modelAnswer(c),
  ])
  try {
    const { context, posts } = liveContext()
    const gen = new ReelGenerator({ context, posts, config: { provider: 'openai', openai: { baseUrl: fake.url, model: 'fake-model', apiKey: 'sk-test' } } })
    const r = await gen.generate(request({ seed: 11, lengthSec: 20 }))
    assert.ok(r.ok, JSON.stringify(r.attempts))
    assert.equal(r.provider, 'openai')
    assert.equal(r.model, 'fake-model')
    assert.equal(r.attempts.length, 2)
    assert.deepEqual(r.attempts[0].failures.map((f) => f.kind), ['missing_cta'])
    assert.deepEqual(r.script.citations.trends.map((t) => t.id), ['hashtag:reels:matcha'])
    assert.deepEqual(r.script.citations.posts.map((p) => p.postId), [JSON.parse(fake.calls[1].body.messages[1].content).similarPosts[0].id])

    const [first, second] = fake.calls
    assert.equal(first.auth, 'Bearer sk-test')
    assert.equal(first.body.model, 'fake-model')
    assert.deepEqual(first.body.response_format, { type: 'json_object' })
    assert.equal(first.body.messages[0].role, 'system')
    assert.match(first.body.messages[0].content, /between 36 and 56 words/)
    const prompt = JSON.parse(first.body.messages[1].content)
    assert.ok(prompt.trends.some((t: { id: string }) => t.id === 'hashtag:reels:coffee'))
    assert.ok(!prompt.trends.some((t: { entity: string }) => t.entity.includes('boycott')), 'unsafe trends never reach the model')
    assert.deepEqual(prompt.bannedWords, ['cheap'])
    assert.equal(prompt.previousAttemptProblems, undefined)
    const retryPrompt = JSON.parse(second.body.messages[1].content)
    assert.match(retryPrompt.previousAttemptProblems[0], /call to action asks for nothing/)
    assert.notEqual(second.body.seed, first.body.seed)
  } finally { await fake.close() }
})

test('OpenAI-compatible provider (fake endpoint): 5xx and 429 are retried, 401 is not, bad bodies are reported', async () => {
  const { context, posts } = liveContext()
  const make = (url: string) => new ReelGenerator({ context, posts, config: { provider: 'openai', openai: { baseUrl: url, model: 'm' } } })

  let fake = await fakeChatServer([() => ({ status: 503, body: { error: { message: 'overloaded' } } }), () => ({ status: 429, body: { error: { message: 'slow down' } } }), (c) => modelAnswer(c)])
  try {
    const r = await make(fake.url).generate(request({ seed: 1 }))
    assert.ok(r.ok)
    assert.deepEqual(r.attempts.map((a) => a.providerError?.message.replace(/^.*: HTTP/, 'HTTP')), ['HTTP 503: overloaded', 'HTTP 429: slow down', undefined])
    assert.equal(fake.calls[0].auth, undefined, 'no key configured: no Authorization header')
  } finally { await fake.close() }

  fake = await fakeChatServer([() => ({ status: 401, body: { error: { message: 'Incorrect API key provided' } } })])
  try {
    const r = await make(fake.url).generate(request({ seed: 1 }))
    assert.ok(!r.ok)
    assert.equal(r.error.code, 'provider_failed')
    assert.match(r.error.message, /HTTP 401: Incorrect API key provided/)
    assert.equal(fake.calls.length, 1)
  } finally { await fake.close() }

  fake = await fakeChatServer([() => ({ status: 200, body: { choices: [{ message: { content: '{"title": "half' } }] } })])
  try {
    const r = await make(fake.url).generate(request({ seed: 1 }))
    assert.ok(!r.ok)
    assert.equal(r.error.code, 'validation_failed')
    assert.equal(r.attempts.length, 3)
    assert.ok(r.attempts.every((a) => a.failures[0].kind === 'schema'))
  } finally { await fake.close() }

  // nothing listening: a network error is retryable and ends as provider_failed
  const closed = await fakeChatServer([() => ({ status: 200, body: {} })])
  await closed.close()
  const r = await make(closed.url).generate(request({ seed: 1 }))
  assert.ok(!r.ok)
  assert.equal(r.error.code, 'provider_failed')
  assert.equal(r.attempts.length, 3)

  assert.throws(() => new OpenAIChatProvider({ baseUrl: 'not a url', model: 'm' }), /generator.openai: invalid options: baseUrl/)
  assert.throws(() => new ReelGenerator({ context, config: { provider: 'openai' } }), /generator: invalid options: provider: "openai" is not configured/)
})

// ---------------------------------------------------------------------------------------------
// HTTP

async function listen(app: express.Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = await new Promise<Server>((r) => { const s = app.listen(0, '127.0.0.1', () => r(s)) })
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) }
}

test('HTTP: sectors, hook types, generate, batch; 400 names the field; 422 reports the attempts', async () => {
  const { context, posts } = liveContext()
  const never = new ScriptedProvider([withBannedWord])
  const app = express()
  app.use(generatorRouter({ context, posts, providers: { openai: never } }))
  const srv = await listen(app)
  const post = (path: string, body: unknown) => fetch(srv.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  try {
    const sectors = await (await fetch(`${srv.url}/api/sectors`)).json() as { sectors: Array<{ id: string }> }
    assert.deepEqual(sectors.sectors.map((s) => s.id), SECTORS.map((s) => s.id))
    const hooks = await (await fetch(`${srv.url}/api/hook-types`)).json() as { hookTypes: Array<{ id: string; example: string }> }
    assert.deepEqual(hooks.hookTypes.map((h) => h.id), HOOK_TYPES.map((h) => h.id))

    const res = await post('/api/generate-reel', { ...profile, seed: 9 })
    assert.equal(res.status, 200)
    const body = await res.json() as { ok: boolean; seed: number; script: { hook: unknown; beats: unknown[]; callToAction: unknown; citations: { trends: unknown[] } } }
    assert.ok(body.ok && body.seed === 9 && body.script.beats.length > 0 && body.script.citations.trends.length > 0)

    const bad = async (b: unknown, field: string, msg: RegExp) => {
      const r = await post('/api/generate-reel', b)
      assert.equal(r.status, 400)
      const e = (await r.json() as { error: { code: string; field: string; message: string } }).error
      assert.equal(e.code, 'invalid_request')
      assert.equal(e.field, field)
      assert.match(e.message, msg)
    }
    await bad({ ...profile, lengthSec: 600 }, 'body.lengthSec', /body\.lengthSec: Too big/)
    await bad({ ...profile, sector: 'crypto' }, 'body.sector', /body\.sector: Invalid option/)
    await bad({ ...profile, bannedWords: ['ok', ''] }, 'body.bannedWords.1', /body\.bannedWords\.1:/)
    await bad({ ...profile, colour: 'red' }, 'body.colour', /unknown field/)
    const { name: _n, ...noName } = profile
    await bad(noName, 'body.name', /body\.name:/)
    await bad('{"name": ', 'body', /not valid JSON/)
    await bad({ ...profile, variations: 2 }, 'body.variations', /unknown field/)

    const batch = await post('/api/generate-reel/batch', { ...profile, seed: 100, variations: 3 })
    assert.equal(batch.status, 200)
    const bb = await batch.json() as { ok: number; results: Array<{ ok: true; seed: number; script: { hook: { type: string } } }> }
    assert.equal(bb.ok, 3)
    assert.deepEqual(bb.results.map((r) => r.seed), [100, 101, 102])
    assert.equal(new Set(bb.results.map((r) => r.script.hook.type)).size, 3, 'variations use different hook types')
    const tooMany = await post('/api/generate-reel/batch', { ...profile, variations: 50 })
    assert.equal(tooMany.status, 400)

    const failed = await post('/api/generate-reel', { ...profile, provider: 'openai' })
    assert.equal(failed.status, 422)
    const fb = await failed.json() as { ok: boolean; error: { code: string }; attempts: Array<{ failures: Array<{ kind: string }> }> }
    assert.equal(fb.error.code, 'validation_failed')
    assert.equal(fb.attempts.length, 3)
  } finally { await srv.close() }
})

test('similar posts from a VectorIndex: nearest posts re-ranked by live performance, unknown performance left out', async () => {
  const calls: unknown[] = []
  const index = {
    async search(query: string, opts?: { k?: number; kind?: string; filter?: unknown }) {
      calls.push({ query, ...opts })
      return [
        { kind: 'post' as const, id: 'a', distance: 0.1, platform: 'reels' as const, language: 'en', time: 0, text: 'iced matcha #matcha #summer', model: 'm', version: 0 },
        { kind: 'post' as const, id: 'b', distance: 0.3, platform: 'reels' as const, language: 'en', time: 0, text: 'matcha latte art #latte', model: 'm', version: 0 },
        { kind: 'post' as const, id: 'c', distance: 0.05, platform: 'reels' as const, language: 'en', time: 0, text: 'matcha, no score yet', model: 'm', version: 0 },
        { kind: 'post' as const, id: 'd', distance: 0.2, platform: 'reels' as const, language: 'en', time: 0, text: 'barely seen', model: 'm', version: 0 },
      ]
    },
  }
  const scores: Record<string, number> = { a: 10, b: 5_000, d: 0.5 }
  const live = { async postScore(id: string) { return id in scores ? { postId: id, platform: 'reels' as const, at: 0, predictedFinalEngagement: scores[id], probTop1Pct: 0.1, modelVersion: 'x', topFeatures: [] } : null } }
  const search = vectorPostSearch(index, performanceFromScores(live), { candidates: 3 })
  const got = await search.similar({ text: 'matcha coffee', platform: 'reels', k: 2 })
  assert.deepEqual(calls, [{ query: 'matcha coffee', kind: 'post', k: 6, filter: { platform: 'reels' } }])
  assert.deepEqual(got.map((p) => p.postId), ['b', 'a'], '0.7·log(5001) > 0.9·log(11); c has no score, d performs below 1')
  assert.deepEqual(got[1], { postId: 'a', platform: 'reels', caption: 'iced matcha #matcha #summer', hashtags: ['matcha', 'summer'], engagement: 10, similarity: 0.9 })

  // plugged into the generator, the posts are cited
  const { context } = liveContext()
  const gen = new ReelGenerator({ context, posts: search })
  const r = await gen.generate(request({ seed: 5 }))
  assert.ok(r.ok && r.script.citations.posts.some((p) => p.postId === 'b'))
})

test('HTTP: with authorize, the routes answer 401 without a valid key', async () => {
  const { context } = liveContext()
  const app = express()
  app.use(generatorRouter({ context, authorize: (req) => req.headers.authorization === 'Bearer good' }))
  const srv = await listen(app)
  try {
    const no = await fetch(`${srv.url}/api/sectors`)
    assert.equal(no.status, 401)
    assert.deepEqual(await no.json(), { error: { code: 'unauthorized', message: 'missing or invalid API key' } })
    const bad = await fetch(`${srv.url}/api/generate-reel`, { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body: JSON.stringify(profile) })
    assert.equal(bad.status, 401)
    const ok = await fetch(`${srv.url}/api/generate-reel`, { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/json' }, body: JSON.stringify({ ...profile, seed: 1 }) })
    assert.equal(ok.status, 200)
  } finally { await srv.close() }
})

test('post index topology: posts indexed from the firehose, engagement counted, searchable', async () => {
  const index = new InMemoryPostIndex()
  const e = (postId: string, at: number): FirehoseEvent => ({ kind: 'engagement', postId, platform: 'reels', type: 'like', at, watchTimeSec: null, commentText: null, userId: 'u' })
  const records: Array<[FirehoseEvent, number]> = [
    [post('rl_a', 'iced matcha at home #matcha', ['matcha']), 1_000],
    [post('rl_b', 'my dog on a skateboard #dog', ['dog']), 1_100],
    [e('rl_a', 2_000), 2_000], [e('rl_a', 2_100), 2_100], [e('rl_b', 2_200), 2_200], [e('rl_zz', 2_300), 2_300],
  ]
  const runner = new Runner(postIndexTopology(new ArraySource<FirehoseEvent>('firehose', [{ id: 'p0', records }]), index), { checkpointIntervalMs: 0 }, { logger: pino({ level: 'silent' }) })
  await runner.run()
  assert.equal(index.size, 2)
  const hits = index.similar({ text: 'matcha latte', platform: 'reels', k: 3 })
  assert.deepEqual(hits.map((h) => [h.postId, h.engagement]), [['rl_a', 2]])
})
