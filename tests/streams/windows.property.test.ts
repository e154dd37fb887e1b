// Property tests: for random event sets shuffled within the out-of-orderness bound (plus some
// records delayed far beyond it), every window type's final results equal a brute-force batch
// computation over the records that were not late, and the late records appear in the late output
// and only there. Lateness is decided against the watermark in force when a record's batch arrives,
// which the test recomputes independently (bounded out-of-orderness: max seen - bound - 1).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { OperatorHarness } from '../../streams/harness.ts'
import { hopping, LATE, session, sum, tumbling, windowOperator, type AggregateFunction, type LateRecord, type WindowResult, type WindowSpec } from '../../streams/windows.ts'

interface Ev { id: number; k: string; n: number }

const arbScenario = fc.record({
  bound: fc.integer({ min: 0, max: 50 }),
  lateness: fc.integer({ min: 0, max: 60 }),
  events: fc.array(
    fc.record({
      k: fc.constantFrom('a', 'b', 'c'),
      n: fc.integer({ min: 1, max: 9 }),
      step: fc.integer({ min: 0, max: 20 }),
      jitter: fc.double({ min: 0, max: 1, noNaN: true }),
      farLate: fc.integer({ min: 0, max: 19 }), // 0 → delayed far beyond the bound
    }),
    { minLength: 1, maxLength: 120 },
  ),
  cuts: fc.array(fc.integer({ min: 1, max: 15 }), { minLength: 1, maxLength: 40 }),
})

type Scenario = { bound: number; lateness: number; events: Array<{ k: string; n: number; step: number; jitter: number; farLate: number }>; cuts: number[] }

function materialise(s: Scenario, withFarLate: boolean) {
  let base = 1_000
  const evs: Array<[Ev, number]> = []
  s.events.forEach((e, id) => {
    base += e.step
    let t = base - Math.floor(e.jitter * s.bound)
    if (withFarLate && e.farLate === 0) t = base - s.bound - 1 - 5 * e.step - 40
    evs.push([{ id, k: e.k, n: e.n }, t])
  })
  const batches: Array<Array<[Ev, number]>> = []
  let i = 0
  let c = 0
  while (i < evs.length) {
    const len = s.cuts[c++ % s.cuts.length]
    batches.push(evs.slice(i, i + len))
    i += len
  }
  return batches
}

function isLate(spec: WindowSpec, t: number, wm: number, lateness: number): boolean {
  if (spec.kind === 'session') return t + lateness <= wm
  const slide = spec.kind === 'hopping' ? spec.slideMs : spec.sizeMs
  const p = t - (((t % slide) + slide) % slide)
  return p + slide - 1 + lateness <= wm
}

function bruteForce(spec: WindowSpec, accepted: Array<[Ev, number]>): Map<string, number> {
  const out = new Map<string, number>()
  const add = (k: string, s: number, e: number, n: number) => out.set(`${k}|${s}|${e}`, (out.get(`${k}|${s}|${e}`) ?? 0) + n)
  if (spec.kind !== 'session') {
    const slide = spec.kind === 'hopping' ? spec.slideMs : spec.sizeMs
    for (const [ev, t] of accepted) {
      const last = t - (((t % slide) + slide) % slide)
      for (let s = last; s > t - spec.sizeMs; s -= slide) add(ev.k, s, s + spec.sizeMs, ev.n)
    }
    return out
  }
  const byKey = new Map<string, Array<[Ev, number]>>()
  for (const r of accepted) {
    const l = byKey.get(r[0].k) ?? []
    l.push(r)
    byKey.set(r[0].k, l)
  }
  for (const [k, l] of byKey) {
    l.sort((a, b) => a[1] - b[1])
    let start = l[0][1]
    let end = start + spec.gapMs
    let total = 0
    for (const [ev, t] of l) {
      if (t >= end) {
        add(k, start, end, total)
        start = t
        total = 0
      }
      total += ev.n
      end = Math.max(end, t + spec.gapMs)
    }
    add(k, start, end, total)
  }
  return out
}

/** The same sum as an invertible aggregate ([count, sum]), which takes the running-window path. */
const invertibleSum: AggregateFunction<Ev, [number, number], number> = {
  create: () => [0, 0],
  add: (a, v) => [a[0] + 1, a[1] + v.n],
  merge: (a, b) => [a[0] + b[0], a[1] + b[1]],
  result: (a) => a[1],
  retract: (a, b) => [a[0] - b[0], a[1] - b[1]],
  isEmpty: (a) => a[0] === 0,
}

async function check(spec: WindowSpec, s: Scenario, withFarLate: boolean, invertible = false): Promise<void> {
  const agg = (invertible ? invertibleSum : sum((e: Ev) => e.n)) as AggregateFunction<Ev, unknown, number>
  const op = windowOperator<Ev, string, unknown, number>('w', spec, (e) => e.k, agg, { allowedLatenessMs: s.lateness })
  const h = new OperatorHarness(op)
  const accepted: Array<[Ev, number]> = []
  const expectedLate = new Set<number>()
  let maxSeen = -Infinity
  let wm = -Infinity
  for (const batch of materialise(s, withFarLate)) {
    for (const [ev, t] of batch) {
      if (isLate(spec, t, wm, s.lateness)) expectedLate.add(ev.id)
      else accepted.push([ev, t])
    }
    await h.feed(batch)
    for (const [, t] of batch) maxSeen = Math.max(maxSeen, t)
    const next = maxSeen - s.bound - 1
    if (next > wm) {
      wm = next
      await h.watermarkTo(wm)
    }
  }
  await h.watermarkTo(Infinity)

  // fold the changelog: last revision per window wins; a retraction removes the window
  const final = new Map<string, number>()
  const lastRev = new Map<string, number>()
  for (const { value: r } of h.output as Array<{ value: WindowResult<string, number> }>) {
    const id = `${r.key}|${r.start}|${r.end}`
    const prev = lastRev.get(id) ?? -1
    assert.ok(r.revision > prev, `revisions increase for ${id}`)
    lastRev.set(id, r.revision)
    if (r.retracted) final.delete(id)
    else final.set(id, r.value)
  }
  assert.deepEqual(new Map([...final].sort()), new Map([...bruteForce(spec, accepted)].sort()))
  const late = h.side<LateRecord<Ev>>(LATE).map((l) => l.value.value.id).sort((a, b) => a - b)
  assert.deepEqual(late, [...expectedLate].sort((a, b) => a - b))
  if (!withFarLate) assert.equal(late.length, 0, 'records within the out-of-orderness bound are never late')
}

const specs: Array<[string, WindowSpec, boolean]> = [
  ['tumbling', tumbling(25), false],
  ['hopping', hopping(30, 10), false],
  ['hopping, invertible aggregate (running window)', hopping(40, 10), true],
  ['session', session(15), false],
]

for (const [name, spec, invertible] of specs) {
  test(`${name}: shuffled within the bound → equals brute force, nothing late`, async () => {
    await fc.assert(fc.asyncProperty(arbScenario, (s) => check(spec, s, false, invertible)), { numRuns: 300 })
  })
  test(`${name}: with records far beyond the bound → late ones only in the late output, rest equals brute force`, async () => {
    await fc.assert(fc.asyncProperty(arbScenario, (s) => check(spec, s, true, invertible)), { numRuns: 300 })
  })
}
