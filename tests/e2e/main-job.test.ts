// The README's main job end to end (server/job.ts, what `npm start` runs): the synthetic firehose
// through every topology into embedded ClickHouse, the API and the Trend Radar, in headless
// Chromium. Faster event time than the demo (speed 120) so trends pass their warm-up in seconds.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { chromium } from 'playwright-core'
import { startMainJob, type MainJob } from '../../server/job.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
if (!existsSync(CHROMIUM)) execFileSync('bash', [join(ROOT, 'tests/setup/chromium.sh')], { stdio: 'inherit' })

const start = (dataDir: string) => startMainJob({
  dataDir, port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }), clickhouse: 'embedded',
  source: { seed: 5, eventsPerSecond: 15, realtime: true, speed: 120, partitions: 2, outOfOrderMs: 2_000, lateFraction: 0.002, lateByMs: 180_000, warmupMs: 30 * 60_000 },
})

async function sql(job: MainJob, dataDir: string, query: string): Promise<string> {
  const admin = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim()
  const r = await fetch(`${job.http.url}/clickhouse/?query=${encodeURIComponent(query)}`, { headers: { 'X-ClickHouse-Key': admin } })
  assert.equal(r.status, 200, await r.clone().text())
  return (await r.text()).trim()
}

/** Resolves when cond() resolves true, checking every 250 ms; fails after timeoutMs. */
async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now()
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

test('npm start: trends, real virality scores and alerts reach the Trend Radar; results land in ClickHouse; a restart resumes', { timeout: 420_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'trendwire-main-'))
  const profile = mkdtempSync(join(tmpdir(), 'trendwire-chromium-'))
  let job: MainJob | null = await start(dataDir)
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1360, height: 1000 } })
  try {
    const page = ctx.pages()[0] ?? await ctx.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(job.radarUrl)
    await page.waitForSelector('[data-testid=connection][data-state=live]', { timeout: 60_000 })
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=trend-row]').length >= 1, undefined, { timeout: 240_000 })
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=leaderboard-row]').length >= 3, undefined, { timeout: 120_000 })
    const versions = await page.$$eval('[data-testid=leaderboard-row]', (els) => els.map((e) => e.textContent ?? ''))
    assert.ok(versions.length >= 3)
    const scores = await (await fetch(`${job.http.url}/api/trends?limit=5`, { headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'demo-key'), 'utf8').trim()}` } })).json() as { trends: unknown[] }
    assert.ok(scores.trends.length >= 1, 'the API serves the trends the page shows')

    await page.fill('input[name=keywords]', 'coffee, viral')
    await page.click('[data-testid=gen-submit]')
    await page.waitForSelector('[data-testid=gen-result][data-state=done]', { timeout: 60_000 })
    assert.ok(await page.locator('[data-testid=gen-beat]').count() >= 3)
    mkdirSync(join(ROOT, 'tests/.artifacts'), { recursive: true })
    await page.screenshot({ path: join(ROOT, 'tests/.artifacts/main-job.png'), fullPage: true })
    assert.deepEqual(errors, [])

    // the sinks write at checkpoints: wait for the trend signals and real (ONNX) scores in ClickHouse
    await until(async () => Number(await sql(job!, dataDir, 'SELECT count() FROM trend_signals')) > 0, 60_000, 'trend signals in ClickHouse')
    const model = await sql(job, dataDir, 'SELECT DISTINCT model_version FROM virality_scores')
    assert.match(model, /^virality-v\d+/m, 'scores come from the shipped ONNX model, not a stand-in')
    assert.ok(Number(await sql(job, dataDir, 'SELECT count() FROM video_features')) > 0)
    const before = Number(await sql(job, dataDir, 'SELECT count() FROM hashtag_uses_1m'))
    assert.ok(before > 0)

    await job.stop()
    job = null
    // restart on the same folder: every topology restores its checkpoint and continues
    job = await start(dataDir)
    await until(async () => job!.runners.every((r) => r.status().restoredFrom !== null) && job!.runners.every((r) => r.status().checkpointId > (r.status().restoredFrom ?? 0)), 120_000, 'every topology restored and checkpointed again')
    assert.ok(Number(await sql(job, dataDir, 'SELECT count() FROM hashtag_uses_1m')) >= before)
    const dupes = await sql(job, dataDir, 'SELECT count() FROM (SELECT hashtag, window_start, revision, count() AS c FROM hashtag_uses_1m GROUP BY ALL HAVING c > 1)')
    assert.equal(dupes, '0', 'no row written twice across the restart')
    // the other outputs too (raw rows, no FINAL): alerts come from three topologies, each its own
    // ClickHouse lineage. A virality score may be re-emitted for the same (post, at) with new values
    // when a late engagement corrects its feature window (an update, replaced on merge): a duplicate
    // there is the same values twice.
    for (const [table, key] of [
      ['trend_signals', 'platform, entity_type, entity, window_start, revision'],
      ['virality_scores', 'platform, post_id, at, model_version, predicted_final_engagement, prob_top1pct'],
      ['brand_alerts', 'alert_id'],
    ]) {
      const twice = await sql(job, dataDir, `SELECT count() FROM (SELECT ${key}, count() AS c FROM ${table} GROUP BY ALL HAVING c > 1)`)
      assert.equal(twice, '0', `no ${table} row written twice across the restart`)
    }
  } finally {
    await ctx.close()
    await job?.stop()
    rmSync(profile, { recursive: true, force: true })
    rmSync(dataDir, { recursive: true, force: true })
  }
})
