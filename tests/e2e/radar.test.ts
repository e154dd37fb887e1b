// Browser end to end: synthetic firehose → topology → API server (LiveSink → bus → WebSocket live
// feed) → the Trend Radar page in headless Chromium. Checks that trends appear and update, that the
// leaderboard and the tenant's alerts fill, that the generator panel renders a script (hook, beats,
// call to action) citing live trends, and that the page resumes after the server drops its
// WebSocket. Saves a screenshot to tests/.artifacts/radar.png. A second test runs the page's polling
// fallback (no API server). Waits on DOM conditions and frames only, never fixed sleeps.
//
// Chromium is Debian's (tests/setup/chromium.sh), driven by playwright-core. The stack is
// tests/e2e/demo-pipeline.ts; its trend and score logic are stand-ins (see that file).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import type { Duplex } from 'node:stream'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { ClientMessageSchema, ServerMessageSchema } from '../../schemas/api/ws.ts'
import { startDemoStack, type DemoStack } from './demo-pipeline.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ARTIFACTS = join(ROOT, 'tests/.artifacts')
const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

if (!existsSync(CHROMIUM)) execFileSync('bash', [join(ROOT, 'tests/setup/chromium.sh')], { stdio: 'inherit' })

/** A fresh browser profile per test (launchPersistentContext owns --user-data-dir). */
async function browser(profile: string): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1360, height: 1000 } })
  const page = ctx.pages()[0] ?? await ctx.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
  return { ctx, page, errors }
}

async function trendRows(page: Page): Promise<Array<{ id: string; stage: string; windowEnd: number; points: number }>> {
  return page.$$eval('[data-testid=trend-row]', (els) => els.map((e) => {
    const d = (e as HTMLElement).dataset
    return { id: d.id ?? '', stage: d.stage ?? '', windowEnd: Number(d.windowEnd), points: e.querySelectorAll('svg.spark circle').length }
  }))
}

/** Resolves when cond() holds, checking every 20 ms; rejects after timeoutMs. */
async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Resolves once a trend row from a window later than `after` is on the page. */
function laterWindow(page: Page, after: number, timeout = 60_000) {
  return page.waitForFunction((w) => [...document.querySelectorAll<HTMLElement>('[data-testid=trend-row]')].some((e) => Number(e.dataset.windowEnd) > w), after, { timeout })
}

test('trend radar on the API server: live feed, leaderboard, alerts, generator, resume after a drop', { timeout: 240_000 }, async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  const profile = mkdtempSync(join(tmpdir(), 'trendwire-chromium-'))
  let stack: DemoStack | null = null
  let b: Awaited<ReturnType<typeof browser>> | null = null
  try {
    stack = await startDemoStack({ mode: 'api' })
    // the server side of every WebSocket, to drop the page's connection later
    const sockets = new Set<Duplex>()
    stack.server.on('upgrade', (_req, socket: Duplex) => { sockets.add(socket); socket.once('close', () => sockets.delete(socket)) })
    b = await browser(profile)
    const { page } = b
    // what the page sends on the feed, checked against the protocol
    const sent: Array<Record<string, unknown>> = []
    // and what it receives: every frame follows the schema; data comes in batch frames (it subscribes with batch: true)
    const received: string[] = []
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => { sent.push(ClientMessageSchema.parse(JSON.parse(String(f.payload)))) })
      ws.on('framereceived', (f) => { received.push(ServerMessageSchema.parse(JSON.parse(String(f.payload))).type) })
    })
    await page.goto(stack.pageUrl)

    // connected over the WebSocket feed, and trends appear
    await page.waitForSelector('[data-testid=connection][data-state=live]', { timeout: 30_000 })
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=trend-row]').length >= 2, undefined, { timeout: 60_000 })
    const first = await trendRows(page)
    assert.ok(first.every((r) => /^(hashtag|sound|term):(tiktok|reels|shorts):/.test(r.id) && ['emerging', 'rising'].includes(r.stage)), JSON.stringify(first))
    assert.ok(first.every((r) => r.points >= 1), 'every row has a sparkline')
    const subscribe = sent.find((m) => m.type === 'subscribe')
    assert.deepEqual(subscribe?.streams, ['trends', 'scores', 'alerts'])
    assert.equal(subscribe?.batch, true)
    assert.ok(received.includes('batch') && !received.includes('trend'), `frames: ${[...new Set(received)].join(', ')}`)

    // and update: a later window shows up
    const newest = Math.max(...first.map((r) => r.windowEnd))
    await laterWindow(page, newest)
    // every listed trend is one the API knows
    const current = await (await fetch(`${stack.url}/api/trends?limit=1000`, { headers: { authorization: `Bearer ${stack.key}` } })).json() as { trends: Array<{ entityType: string; platform: string; entity: string }> }
    const known = new Set(current.trends.map((t) => `${t.entityType}:${t.platform}:${t.entity}`))
    const rows = await trendRows(page)
    assert.ok(rows.some((r) => known.has(r.id)), `${rows.map((r) => r.id).join(', ')} vs /api/trends`)

    // leaderboard and this tenant's alerts (the real keyword_trend rule on the brand's watched hashtags)
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=leaderboard-row]').length >= 5, undefined, { timeout: 60_000 })
    await page.waitForSelector('[data-testid=alert-row]', { timeout: 60_000 })
    // let five more minutes of event time close, for some sparkline history before the screenshot
    await laterWindow(page, newest + 5 * 60_000)

    // the generator panel (with the page's key): defaults are a café brand
    await page.waitForFunction(() => (document.getElementById('sector') as HTMLSelectElement).options.length > 5)
    await page.fill('input[name=keywords]', 'coffee, viral')
    await page.click('[data-testid=gen-submit]')
    await page.waitForSelector('[data-testid=gen-result][data-state=done]', { timeout: 30_000 })
    const hook = await page.textContent('[data-testid=gen-hook]')
    const beats = await page.locator('[data-testid=gen-beat]').count()
    const cta = await page.textContent('[data-testid=gen-cta]')
    const cited = await page.$$eval('[data-testid=gen-cited-trend]', (els) => els.map((e) => (e as HTMLElement).dataset.id ?? ''))
    const tags = await page.$$eval('[data-testid=gen-hashtags] .tag', (els) => els.map((e) => e.textContent ?? ''))
    assert.match(hook ?? '', /Hook/)
    assert.ok(beats >= 3, `${beats} beats for 30 s`)
    assert.match(cta ?? '', /Call to action/)
    assert.ok(cited.length >= 1, 'cites at least one live trend')
    assert.ok(cited.every((id) => stack!.context.get(id)), `cited trends come from the live context: ${cited.join(', ')}`)
    assert.ok(tags.length >= 3 && tags.every((t) => t.startsWith('#')), tags.join(' '))
    assert.deepEqual(b.errors, [], 'no errors in the page')
    await page.screenshot({ path: join(ARTIFACTS, 'radar.png'), fullPage: true })
    assert.ok(statSync(join(ARTIFACTS, 'radar.png')).size > 20_000)

    // a bad input shows the API's message naming the field (the browser logs the 400)
    await page.fill('input[name=audience]', ' ')
    await page.$eval('#gen-form', (f) => { (f as HTMLFormElement).noValidate = true })
    await page.click('[data-testid=gen-submit]')
    await page.waitForSelector('[data-testid=gen-result][data-state=error]')
    assert.match(await page.textContent('[data-testid=gen-error]') ?? '', /body\.audience/)

    // the server drops the WebSocket: the page reconnects and resumes where it was, per stream
    const before = sent.filter((m) => m.type === 'subscribe').length
    const reconnected = page.waitForEvent('websocket', { timeout: 30_000 })
    for (const so of sockets) so.destroy()
    await reconnected
    await until(() => sent.filter((m) => m.type === 'subscribe').length > before, 30_000, 'a new subscribe')
    const resub = sent.filter((m) => m.type === 'subscribe')[before] as { resume?: Record<string, { epoch: string; seq: number }> } | undefined
    assert.ok(resub?.resume?.trends && resub.resume.trends.seq > 0, `resumes trends: ${JSON.stringify(resub)}`)
    await page.waitForSelector('[data-testid=connection][data-state=live]', { timeout: 30_000 })
    await laterWindow(page, Math.max(...(await trendRows(page)).map((r) => r.windowEnd)))
    assert.deepEqual(b.errors, ['Failed to load resource: the server responded with a status of 400 (Bad Request)'])
  } finally {
    await b?.ctx.close()
    await stack?.stop()
    rmSync(profile, { recursive: true, force: true })
  }
})

test('trend radar polling fallback (no API server): trends, leaderboard, alerts, generator', { timeout: 180_000 }, async () => {
  const profile = mkdtempSync(join(tmpdir(), 'trendwire-chromium-'))
  let stack: DemoStack | null = null
  let b: Awaited<ReturnType<typeof browser>> | null = null
  try {
    stack = await startDemoStack({ mode: 'standalone', pollMs: 500 })
    b = await browser(profile)
    const { page } = b
    await page.goto(stack.pageUrl)
    await page.waitForSelector('[data-testid=connection][data-state=poll]', { timeout: 30_000 })
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=trend-row]').length >= 1, undefined, { timeout: 60_000 })
    await laterWindow(page, Math.max(...(await trendRows(page)).map((r) => r.windowEnd)))
    const serverIds = new Set(stack.state!.snapshot().trends.map((t) => t.id))
    assert.ok((await trendRows(page)).some((r) => serverIds.has(r.id)))
    await page.waitForSelector('[data-testid=leaderboard-row]', { timeout: 60_000 })
    await page.waitForSelector('[data-testid=alert-row]', { timeout: 60_000 })
    await page.waitForFunction(() => (document.getElementById('sector') as HTMLSelectElement).options.length > 5)
    await page.click('[data-testid=gen-submit]')
    await page.waitForSelector('[data-testid=gen-result][data-state=done]', { timeout: 30_000 })
    assert.ok(await page.locator('[data-testid=gen-beat]').count() >= 3)
    assert.deepEqual(b.errors, [])
  } finally {
    await b?.ctx.close()
    await stack?.stop()
    rmSync(profile, { recursive: true, force: true })
  }
})
