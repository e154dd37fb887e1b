// Crash test (issue 2): run a topology over files (NDJSON replay source), kill -9 it at random points several times,
// restart it each time from its last checkpoint, and compare the final output with an
// uninterrupted run: byte for byte equal.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { partitionKey } from '../../schemas/events.ts'
import { fnv1a } from '../../streams/sources/prng.ts'
import { generateEvents } from '../../streams/sources/synthetic.ts'

const job = new URL('../fixtures/crash-job.ts', import.meta.url).pathname

/** Run the job; if killAfterPolls is given, SIGKILL it right after that many "poll" lines. */
function runJob(inputs: string[], out: string, killAfterPolls?: number): Promise<{ code: number | null; signal: string | null; polls: number; done: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', job, out, ...inputs], { stdio: ['ignore', 'pipe', 'inherit'] })
    let polls = 0
    let done = false
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('poll ')) {
        polls++
        if (killAfterPolls !== undefined && polls === killAfterPolls) child.kill('SIGKILL')
      } else if (line.startsWith('done')) done = true
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => resolve({ code, signal, polls, done }))
  })
}

test('kill -9 at random points, restart from checkpoint: output equals an uninterrupted run', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trendwire-crash-'))
  try {
    const { events } = generateEvents({ seed: 11, maxEvents: 20_000, partitions: 1, lateFraction: 0.01, lateByMs: 120_000, outOfOrderMs: 2_000, eventsPerSecond: 40 })
    // three files, partitioned by post id like a Kafka topic, one source partition each
    const inputs = [0, 1, 2].map((i) => join(dir, `input-${i}.ndjson`))
    const lines: string[][] = [[], [], []]
    for (const e of events) lines[fnv1a(partitionKey(e)) % 3].push(JSON.stringify(e))
    inputs.forEach((f, i) => writeFileSync(f, lines[i].join('\n') + '\n'))

    const ref = join(dir, 'ref')
    const r = await runJob(inputs, ref)
    assert.equal(r.code, 0)
    assert.ok(r.done)
    const totalPolls = r.polls

    const crash = join(dir, 'crash')
    const seed = Date.now()
    let rnd = seed
    const next = () => { rnd = (rnd * 1103515245 + 12345) % 2 ** 31; return rnd / 2 ** 31 }
    let kills = 0
    for (let attempt = 0; attempt < 20; attempt++) {
      // kill at a random poll within what remains, five times; then let it finish
      const kill = kills < 5 ? 1 + Math.floor(next() * Math.max(1, totalPolls / 4)) : undefined
      const res = await runJob(inputs, crash, kill)
      if (res.signal === 'SIGKILL') { kills++; continue }
      assert.equal(res.code, 0, `restart ${attempt} failed`)
      assert.ok(res.done)
      break
    }
    assert.ok(kills >= 3, `killed ${kills} times (seed ${seed})`)
    for (const f of ['uses.ndjson', 'engagement.ndjson', 'late.ndjson']) {
      const a = readFileSync(join(ref, f), 'utf8')
      const b = readFileSync(join(crash, f), 'utf8')
      assert.ok(a.length > 0, `${f} is not empty`)
      assert.equal(b, a, `${f} equal after ${kills} kills (seed ${seed})`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
