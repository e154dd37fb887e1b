// kill -9 of a job writing to embedded chDB through ClickHouseSink — once before its first checkpoint,
// then at random polls, each restart with another checkpoint cadence; then every row the topology emits
// is in ClickHouse exactly once, compared row by row with an in-memory run over the same input.
// chDB dies with the job here, and with it the part of the tables' insert-token log still in memory:
// this is the case the sink's bookkeeping columns and restore deletes exist for (docs/clickhouse.md).
// The job runs in child processes (tests/fixtures/clickhouse-crash-job.ts); this process never opens
// chDB itself until the children are done (one chDB folder per process), and reads the tables through
// the job's --dump mode.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import pino from 'pino'
import { eventTime, partitionKey, type FirehoseEvent } from '../../schemas/events.ts'
import { CollectSink } from '../../sinks/memory.ts'
import { Runner } from '../../streams/runner.ts'
import { ArraySource } from '../../streams/sources/array.ts'
import { fnv1a } from '../../streams/sources/prng.ts'
import { generateEvents } from '../../streams/sources/synthetic.ts'
import type { LateRecord } from '../../streams/windows.ts'
import { hashtagActivity, type HashtagWindowCount } from '../../topologies/hashtag-activity.ts'

const job = new URL('../fixtures/clickhouse-crash-job.ts', import.meta.url).pathname

function runJob(input: string, dir: string, every: number, killAfterPolls?: number): Promise<{ code: number | null; signal: string | null; done: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', job, input, dir, String(every)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let done = false
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('poll ') && killAfterPolls !== undefined && Number(line.slice(5)) === killAfterPolls) child.kill('SIGKILL')
      else if (line.startsWith('done')) done = true
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => resolve({ code, signal, done }))
  })
}

/** Equal as multisets; on failure says how many rows are duplicated and how many missing, with examples. */
function sameMultiset(what: string, got: string[], want: string[], ctx: string): void {
  const count = new Map<string, number>()
  for (const k of want) count.set(k, (count.get(k) ?? 0) + 1)
  for (const k of got) count.set(k, (count.get(k) ?? 0) - 1)
  const extra = [...count].filter(([, n]) => n < 0)
  const missing = [...count].filter(([, n]) => n > 0)
  assert.ok(extra.length === 0 && missing.length === 0,
    `${what} (${ctx}): ${got.length} rows in ClickHouse, ${want.length} emitted; ${extra.length} duplicated (e.g. ${extra.slice(0, 3).map(([k]) => k).join(', ')}), ${missing.length} missing (e.g. ${missing.slice(0, 3).map(([k]) => k).join(', ')})`)
}

const windowKey = (r: { hashtag: string; windowStart: number; windowEnd: number; count: number; revision: number }) =>
  `${r.hashtag}|${r.windowStart}|${r.windowEnd}|${r.count}|${r.revision}`

test('kill -9 a job writing to chDB at random points, restart with other cadences: every row exactly once', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trendwire-ch-crash-'))
  try {
    const { events } = generateEvents({ seed: 17, maxEvents: 15_000, partitions: 1, lateFraction: 0.01, lateByMs: 120_000, outOfOrderMs: 2_000, eventsPerSecond: 40 })
    const input = join(dir, 'input.ndjson')
    writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n')

    // The reference, in memory: same partitioning, same poll sizes.
    const parts = [0, 1, 2].map((i) => ({ id: `file/${i}`, records: [] as Array<[FirehoseEvent, number]> }))
    for (const e of events) parts[fnv1a(partitionKey(e)) % 3].records.push([e, eventTime(e)])
    const uses = new CollectSink<HashtagWindowCount>('uses')
    const eng = new CollectSink<HashtagWindowCount>('eng')
    const late = new CollectSink<LateRecord<unknown>>('late')
    const src = new ArraySource('file', parts, { perPoll: 300 })
    await new Runner(hashtagActivity(src, { hashtagUses: uses, hashtagEngagement: eng, late }, { outOfOrdernessMs: 3_000, allowedLatenessMs: 30_000, joinWaitMs: 60_000 }),
      { checkpointIntervalMs: 0, maxBatchRecords: 300 }, { logger: pino({ level: 'silent' }) }).run()
    const totalPolls = src.polls

    const seed = Number(process.env.TRENDWIRE_CRASH_SEED ?? Date.now())
    let rnd = seed
    const next = () => { rnd = (rnd * 1103515245 + 12345) % 2 ** 31; return rnd / 2 ** 31 }
    let kills = 0
    let finished = false
    for (let attempt = 0; attempt < 12 && !finished; attempt++) {
      // The first run dies before its first checkpoint (at poll 14) but after windows fired and chunks
      // went in (from poll ~9): the fresh restart must remove them. Then: checkpoints every 2..6 polls,
      // different on each restart, killed at random polls.
      const every = attempt === 0 ? 14 : 2 + Math.floor(next() * 5)
      const kill = attempt === 0 ? 12 : kills < 4 ? 1 + Math.floor(next() * Math.max(1, totalPolls / 3)) : undefined
      const r = await runJob(input, dir, every, kill)
      if (process.env.TRENDWIRE_CRASH_DEBUG) console.error(`run ${attempt}: every ${every}, kill at ${kill}: ${r.signal ?? r.code}`)
      if (r.signal === 'SIGKILL') { kills++; continue }
      assert.equal(r.code, 0, `run ${attempt} failed (seed ${seed})`)
      finished = r.done
    }
    assert.ok(finished, `the job finished (seed ${seed})`)
    assert.ok(kills >= 4, `killed ${kills} times (seed ${seed})`)

    const dump = spawnSync(process.execPath, ['--import', 'tsx', job, '--dump', dir], { encoding: 'utf8', maxBuffer: 1 << 28 })
    assert.equal(dump.status, 0, dump.stderr)
    const got: Record<string, string[]> = { uses: [], engagement: [], late: [] }
    for (const line of dump.stdout.split('\n')) {
      if (!line) continue
      const r = JSON.parse(line) as { table: string; hashtag: string; ws: string; we: string; count: string | number; revision: number; operator: string; t: string; reason: string }
      if (r.table === 'late') got.late.push(`${r.operator}|${Number(r.t)}|${r.reason}`)
      else got[r.table].push(windowKey({ hashtag: r.hashtag, windowStart: Number(r.ws), windowEnd: Number(r.we), count: Number(r.count), revision: r.revision }))
    }
    sameMultiset('hashtag uses', got.uses, uses.values.map(windowKey), `${kills} kills, seed ${seed}`)
    sameMultiset('hashtag engagement', got.engagement, eng.values.map(windowKey), `${kills} kills, seed ${seed}`)
    sameMultiset('late records', got.late, late.values.map((l) => `${l.operator}|${l.time}|${l.reason}`), `${kills} kills, seed ${seed}`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
