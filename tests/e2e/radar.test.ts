// Browser end to end: synthetic firehose → topology → Trend Radar page in headless Chromium.
// Checks that trends appear and update, that the leaderboard and alerts fill, and that the
// generator panel renders a script (hook, beats, call to action) citing live trends. Saves a
// screenshot to tests/.artifacts/radar.png. Waits on DOM conditions only, never fixed sleeps.
//
// Chromium is Debian's (tests/setup/chromium.sh), driven by playwright-core. The stack is
// tests/e2e/demo-pipeline.ts: stand-in trend/score/alert logic and the page's polling fallback,
// because the product topologies and the WebSocket feed had not landed yet (see that file).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { startDemoStack, type DemoStack } from './demo-pipeline.ts'
import { FakeFeed } from './fake-feed.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const ARTIFACTS = join(ROOT, 'tests/.artifacts')
const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

if (!existsSync(CHROMIUM)) execFileSync('bash', [join(ROOT, 'tests/setup/chromium.sh')], { stdio: 'inherit' })

test('trend radar: live trends, leaderboard, alerts, and a generated script in Chromium', { timeout: 180_000 }, async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  const profile = mkdtempSync(join(tmpdir(), 'trendwire-chromium-'))
  let stack: DemoStack | null = null
  let browser: BrowserContext | null = null
  const pageErrors: string[] = []
  try {
    stack = await startDemoStack({ pollMs: 500 })
    // a fresh profile directory per run (launchPersistentContext owns --user-data-dir)
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1360, height: 1000 } })
    const page: Page = browser.pages()[0] ?? await browser.newPage()
    page.on('pageerror', (e) => pageErrors.push(String(e)))
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()) })
    await page.goto(`${stack.url}/radar/`)

    // connected, and trends appear
    await page.waitForSelector('[data-testid=connection][data-state=poll]', { timeout: 30_000 })
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=trend-row]').length >= 2, undefined, { timeout: 60_000 })
    const first = await trendRows(page)
    assert.ok(first.every((r) => /^hashtag:(tiktok|reels|shorts):/.test(r.id) && ['emerging', 'rising'].includes(r.stage)), JSON.stringify(first))
    assert.ok(first.every((r) => r.points >= 1), 'every row has a sparkline')

    // and update: a later window shows up
    const newest = Math.max(...first.map((r) => r.windowEnd))
    await page.waitForFunction((w) => [...document.querySelectorAll<HTMLElement>('[data-testid=trend-row]')].some((e) => Number(e.dataset.windowEnd) > w), newest, { timeout: 60_000 })
    const later = await trendRows(page)
    assert.ok(later.some((r) => r.windowEnd > newest))
    // the page shows what the server has: each listed trend is in the server's snapshot
    const serverIds = new Set(stack.state.snapshot().trends.map((t) => t.id))
    assert.ok(later.some((r) => serverIds.has(r.id)))

    // leaderboard and alerts fill; let five more minutes of event time close so the sparklines
    // and the similar-post index have some history before the screenshot
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=leaderboard-row]').length >= 5, undefined, { timeout: 60_000 })
    await page.waitForSelector('[data-testid=alert-row]', { timeout: 60_000 })
    await page.waitForFunction((w) => [...document.querySelectorAll<HTMLElement>('[data-testid=trend-row]')].some((e) => Number(e.dataset.windowEnd) >= w + 5 * 60_000), newest, { timeout: 60_000 })

    // the generator panel: defaults are a café brand; generate and wait for the script
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
    assert.ok(cited.every((id) => stack!.state.trends.get(id)), `cited trends come from the live context: ${cited.join(', ')}`)
    assert.ok(tags.length >= 3 && tags.every((t) => t.startsWith('#')), tags.join(' '))

    assert.deepEqual(pageErrors, [], 'no errors in the page')
    // a bad input shows the API's message naming the field (the browser logs the 400)
    await page.fill('input[name=audience]', ' ')
    await page.$eval('#gen-form', (f) => { (f as HTMLFormElement).noValidate = true })
    await page.click('[data-testid=gen-submit]')
    await page.waitForSelector('[data-testid=gen-result][data-state=error]')
    assert.match(await page.textContent('[data-testid=gen-error]') ?? '', /body\.audience/)
    await page.fill('input[name=audience]', 'Gen Z coffee lovers in big cities')
    await page.click('[data-testid=gen-submit]')
    await page.waitForSelector('[data-testid=gen-result][data-state=done]')

    await page.screenshot({ path: join(ARTIFACTS, 'radar.png'), fullPage: true })
    assert.ok(statSync(join(ARTIFACTS, 'radar.png')).size > 20_000)
    assert.deepEqual(pageErrors, ['Failed to load resource: the server responded with a status of 400 (Bad Request)'])
  } finally {
    await browser?.close()
    await stack?.stop()
    rmSync(profile, { recursive: true, force: true })
  }
})

async function trendRows(page: Page): Promise<Array<{ id: string; stage: string; windowEnd: number; points: number }>> {
  return page.$$eval('[data-testid=trend-row]', (els) => els.map((e) => {
    const d = (e as HTMLElement).dataset
    return { id: d.id ?? '', stage: d.stage ?? '', windowEnd: Number(d.windowEnd), points: e.querySelectorAll('svg.spark circle').length }
  }))
}

test('trend radar over the WebSocket feed protocol (against a FAKE feed speaking schemas/api/ws.ts): subscribe, live updates, resume after a drop', { timeout: 120_000 }, async () => {
  const profile = mkdtempSync(join(tmpdir(), 'trendwire-chromium-'))
  const feed = new FakeFeed()
  let stack: DemoStack | null = null
  let browser: BrowserContext | null = null
  try {
    stack = await startDemoStack({ feed: { wsUrl: '/ws' }, extra: { trends: [feed.trendSink()], scores: [feed.scoreSink()], alerts: [feed.alertSink()] } })
    feed.attach(stack.server, '/ws')
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1360, height: 1000 } })
    const page: Page = browser.pages()[0] ?? await browser.newPage()
    const pageErrors: string[] = []
    page.on('pageerror', (e) => pageErrors.push(String(e)))
    await page.goto(`${stack.url}/radar/`)
    await page.waitForSelector('[data-testid=connection][data-state=live]', { timeout: 30_000 })
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=trend-row]').length >= 1, undefined, { timeout: 60_000 })
    const newest = Math.max(...(await trendRows(page)).map((r) => r.windowEnd))
    await page.waitForFunction((w) => [...document.querySelectorAll<HTMLElement>('[data-testid=trend-row]')].some((e) => Number(e.dataset.windowEnd) > w), newest, { timeout: 60_000 })
    await page.waitForSelector('[data-testid=leaderboard-row]', { timeout: 60_000 })
    const first = feed.received.filter((m) => m.type === 'subscribe')
    assert.equal(first.length, 1)
    assert.deepEqual(first[0], { type: 'subscribe', streams: ['trends', 'scores', 'alerts'], filter: {} })

    // the server drops the connection; the page reconnects and resumes from what it saw
    feed.dropAll()
    await page.waitForFunction(() => /reconnecting/.test(document.querySelector('[data-testid=connection]')?.textContent ?? ''), undefined, { timeout: 10_000 }).catch(() => {})
    await page.waitForSelector('[data-testid=connection][data-state=live]', { timeout: 30_000 })
    const subs = feed.received.filter((m) => m.type === 'subscribe')
    assert.equal(subs.length, 2)
    const resume = subs[1].type === 'subscribe' ? subs[1].resume : undefined
    assert.equal(resume?.trends?.epoch, feed.epoch)
    assert.ok((resume?.trends?.seq ?? 0) >= 1 && (resume?.scores?.seq ?? 0) >= 1, JSON.stringify(resume))
    // updates keep coming after the resume
    const after = Math.max(...(await trendRows(page)).map((r) => r.windowEnd))
    await page.waitForFunction((w) => [...document.querySelectorAll<HTMLElement>('[data-testid=trend-row]')].some((e) => Number(e.dataset.windowEnd) > w), after, { timeout: 60_000 })
    assert.deepEqual(pageErrors, [])
  } finally {
    await browser?.close()
    await feed.close()
    await stack?.stop()
    rmSync(profile, { recursive: true, force: true })
  }
})
