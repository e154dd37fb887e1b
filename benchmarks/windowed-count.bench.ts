// Windowed count by hashtag, in process: the engine (runner + sliced window operator) against a
// hand-written loop over plain Maps computing the same counts, in the same run.
//   npx tsx benchmarks/windowed-count.bench.ts [--events 4000000] [--keys 100000]
// Targets (issue 2): tumbling ≥ 1,000,000 events/s per core and within 3× of the hand loop;
// hopping (10 min / 1 min) within 2× of tumbling. Also: bytes of heap per live (key, window).
import { parseArgs } from 'node:util'
import pino from 'pino'
import { Runner } from '../streams/runner.ts'
import { ArraySource } from '../streams/sources/array.ts'
import { Topology } from '../streams/topology.ts'
import type { Batch, Sink } from '../streams/types.ts'
import { count, hopping, tumbling, type WindowResult, type WindowSpec } from '../streams/windows.ts'
import { hashtagUses } from './data.ts'

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '4000000' }, keys: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' } } })
const N = Number(args.events)
const KEYS = Number(args.keys)
const RUNS = Number(args.runs)
const BATCH = 4096
const BOUND = 5_000

interface Use { tag: string }

class CountingSink implements Sink<WindowResult<string, number>> {
  readonly name = 'count'
  rows = 0
  total = 0
  write(b: Batch<WindowResult<string, number>>): void {
    this.rows += b.values.length
    for (const r of b.values) this.total += r.value
  }
}

async function engine(uses: Use[], times: number[], spec: WindowSpec): Promise<{ secs: number; rows: number; total: number; stateKeys: number; heapPerEntry: number }> {
  const src = new ArraySource<Use>('uses', [{ id: 'p0', records: uses.map((u, i) => [u, times[i]] as [Use, number]) }])
  const sink = new CountingSink()
  const t = new Topology('bench')
  t.from(src, { outOfOrdernessMs: BOUND }).keyBy((u: Use) => u.tag).window(spec).aggregate('count', count()).to(sink)
  const runner = new Runner(t, { maxBatchRecords: BATCH, checkpointIntervalMs: 0, checkpointAtEnd: false }, { logger: pino({ level: 'silent' }) })
  // memory per live (key, window): state size mid-run, measured on a separate partial run below
  const t0 = performance.now()
  await runner.run()
  const secs = (performance.now() - t0) / 1000
  return { secs, rows: sink.rows, total: sink.total, stateKeys: 0, heapPerEntry: 0 }
}

/** The same counts with plain Maps: explode, add to window map(s), fire on the same watermark steps. */
function handLoop(uses: Use[], times: number[], size: number, slide: number): { secs: number; rows: number; total: number } {
  const t0 = performance.now()
  const windows = new Map<number, Map<string, number>>()
  let rows = 0
  let total = 0
  let maxSeen = -Infinity
  let fired = -Infinity
  const fire = (wm: number) => {
    for (const [start, m] of windows) {
      if (start + size - 1 <= wm) {
        for (const v of m.values()) { rows++; total += v }
        windows.delete(start)
      }
    }
    fired = wm
  }
  for (let b = 0; b < uses.length; b += BATCH) {
    const end = Math.min(uses.length, b + BATCH)
    for (let i = b; i < end; i++) {
      const t = times[i]
      const last = t - (t % slide)
      for (let s = last; s > t - size; s -= slide) {
        let m = windows.get(s)
        if (!m) windows.set(s, (m = new Map()))
        const k = uses[i].tag
        m.set(k, (m.get(k) ?? 0) + 1)
      }
      if (t > maxSeen) maxSeen = t
    }
    const wm = maxSeen - BOUND - 1
    if (wm > fired) fire(wm)
  }
  fire(Infinity)
  return { secs: (performance.now() - t0) / 1000, rows, total }
}

/**
 * Heap bytes per live state entry: feed 1 M events (6.7 min of event time) to a window operator
 * without a watermark, so nothing fires or is purged; entries are (key, window) for tumbling and
 * (key, pane) for hopping (the running window comes on top at the first firing).
 */
async function memoryPerEntry(uses: Use[], times: number[], spec: WindowSpec): Promise<{ entries: number; bytesPerEntry: number }> {
  const { OperatorHarness } = await import('../streams/harness.ts')
  const { windowOperator } = await import('../streams/windows.ts')
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const before = process.memoryUsage().heapUsed
  const op = windowOperator<Use, string, number, number>('m', spec, (u) => u.tag, count())
  const h = new OperatorHarness(op)
  const n = Math.min(uses.length, 1_000_000)
  for (let b = 0; b < n; b += BATCH) {
    const recs: Array<[Use, number]> = []
    for (let i = b; i < Math.min(n, b + BATCH); i++) recs.push([uses[i], times[i]])
    await h.feed(recs)
  }
  gc?.()
  const after = process.memoryUsage().heapUsed
  const entries = op.stateStats!().keys
  return { entries, bytesPerEntry: (after - before) / entries }
}

const { uses, times, distinct, spanMs } = hashtagUses(N, KEYS)
console.log(`windowed-count: ${N.toLocaleString()} hashtag uses, ${distinct.toLocaleString()} distinct hashtags, ${(spanMs / 60000).toFixed(1)} min of event time, batches of ${BATCH}`)

const best = (xs: number[]) => Math.min(...xs)
const res: Record<string, number[]> = { tumbleEngine: [], tumbleHand: [], hopEngine: [], hopHand: [] }
let check = ''
for (let r = 0; r < RUNS; r++) {
  const te = await engine(uses, times, tumbling(60_000))
  const th = handLoop(uses, times, 60_000, 60_000)
  const he = await engine(uses, times, hopping(600_000, 60_000))
  const hh = handLoop(uses, times, 600_000, 60_000)
  if (te.rows !== th.rows || te.total !== th.total || he.rows !== hh.rows || he.total !== hh.total) {
    throw new Error(`results differ: tumbling ${te.rows}/${te.total} vs ${th.rows}/${th.total}; hopping ${he.rows}/${he.total} vs ${hh.rows}/${hh.total}`)
  }
  check = `tumbling rows ${te.rows.toLocaleString()}, hopping rows ${he.rows.toLocaleString()} (identical to hand loop)`
  res.tumbleEngine.push(te.secs); res.tumbleHand.push(th.secs); res.hopEngine.push(he.secs); res.hopHand.push(hh.secs)
}
const rate = (s: number) => N / s
const mem = await memoryPerEntry(uses, times, tumbling(60_000))
// hopping over an invertible aggregate keeps one entry per (key, 1-minute pane) plus the running window
const memHop = await memoryPerEntry(uses, times, hopping(600_000, 60_000))
const summary = {
  'tumbling 1m, engine (events/s/core)': Math.round(rate(best(res.tumbleEngine))),
  'tumbling 1m, hand loop (events/s/core)': Math.round(rate(best(res.tumbleHand))),
  'tumbling: engine time / hand-loop time': +(best(res.tumbleEngine) / best(res.tumbleHand)).toFixed(2),
  'hopping 10m/1m, engine (events/s/core)': Math.round(rate(best(res.hopEngine))),
  'hopping 10m/1m, hand loop (events/s/core)': Math.round(rate(best(res.hopHand))),
  'hopping engine time / tumbling engine time': +(best(res.hopEngine) / best(res.tumbleEngine)).toFixed(2),
  'heap bytes per live (key, window)': Math.round(mem.bytesPerEntry),
  'hopping: heap bytes per live (key, pane)': Math.round(memHop.bytesPerEntry),
}
console.log(check)
console.table(summary)
console.log(`targets: tumbling ≥ 1,000,000/s ${summary['tumbling 1m, engine (events/s/core)'] >= 1e6 ? 'MET' : 'NOT MET'}; ≤ 3× hand loop ${summary['tumbling: engine time / hand-loop time'] <= 3 ? 'MET' : 'NOT MET'}; hopping ≤ 2× tumbling ${summary['hopping engine time / tumbling engine time'] <= 2 ? 'MET' : 'NOT MET'}`)
export default summary
