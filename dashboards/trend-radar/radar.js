// Trend Radar: live trends with sparklines, a virality leaderboard, recent alerts, and a panel to try
// the Reel generator. Plain ES module, no build step.
//
// Data comes from config.json (dashboards/trend-radar.ts):
//   feed.kind "websocket": the live feed, protocol 1 (schemas/api/ws.ts; docs/api.md): wait for
//     `welcome`, send `subscribe` — with `resume` from the last sequence number seen after a
//     reconnect, and on the first connection from a little before the newest message the feed still
//     buffers (a warm start: recent windows fill the lists and sparklines at once) — apply `trend` /
//     `score` / `alert` messages, note `gap` and `coalesced`, reconnect with backoff.
//   feed.kind "poll": GET the snapshot endpoint every intervalMs (the fallback while no feed exists).
// An API key, when the server wants one, comes from ?key= in the page URL (kept in localStorage) and
// goes out as Authorization: Bearer on HTTP and ?api_key= on the WebSocket.
// Everything from the feed is rendered with textContent / DOM nodes, never as HTML.

const SVG = 'http://www.w3.org/2000/svg'
const params = new URLSearchParams(location.search)
if (params.get('key')) localStorage.setItem('trendwire.apiKey', params.get('key'))
const apiKey = localStorage.getItem('trendwire.apiKey') || ''
const authHeaders = apiKey ? { authorization: `Bearer ${apiKey}` } : {}

// ---------------------------------------------------------------------------------------------
// state

const MAX_TRENDS = 40
const HISTORY = 30
const state = {
  trends: new Map(),   // id → RadarTrend (with history)
  scores: new Map(),   // postId → ViralityScore
  alerts: [],          // newest first
  alertIds: new Set(),
  watermark: null,
  signals: 0,
  version: 0,
  platform: '',
}
let rendered = -1
let renders = 0
const lastSeen = new Map() // id → "windowEnd:score" rendered last time (flash on change)

function trendKey(s) { return `${s.entityType}:${s.platform}:${s.entity}` }

/** A TrendSignal from the feed: upsert, keep a score history per entity (revisions replace). */
function applyTrend(s) {
  const id = trendKey(s)
  let t = state.trends.get(id)
  if (!t) { t = { id, history: [] }; state.trends.set(id, t) }
  if (t.windowEnd === undefined || s.windowEnd > t.windowEnd || (s.windowEnd === t.windowEnd && s.revision >= t.revision)) {
    Object.assign(t, { entityType: s.entityType, entity: s.entity, platform: s.platform, stage: s.stage, score: s.score, growth: s.growth, uses: s.uses, uniqueCreators: s.uniqueCreators, windowEnd: s.windowEnd, revision: s.revision })
  }
  const h = t.history
  let i = h.length - 1
  while (i >= 0 && h[i].windowEnd > s.windowEnd) i--
  if (i >= 0 && h[i].windowEnd === s.windowEnd) h[i] = { windowEnd: s.windowEnd, score: s.score }
  else h.splice(i + 1, 0, { windowEnd: s.windowEnd, score: s.score })
  if (h.length > HISTORY) h.splice(0, h.length - HISTORY)
  if (state.watermark === null || s.windowEnd > state.watermark) state.watermark = s.windowEnd
  state.signals++
  state.version++
  if (state.trends.size > 5000) {
    const old = [...state.trends.values()].sort((a, b) => a.windowEnd - b.windowEnd).slice(0, 1000)
    for (const o of old) state.trends.delete(o.id)
  }
}
function applyScore(s) { state.scores.set(s.postId, s); state.version++ }
function applyAlert(a) {
  if (state.alertIds.has(a.alertId)) return
  state.alertIds.add(a.alertId)
  state.alerts.unshift(a)
  state.alerts.sort((x, y) => y.at - x.at)
  if (state.alerts.length > 25) for (const x of state.alerts.splice(25)) state.alertIds.delete(x.alertId)
  state.version++
}

/** The poll endpoint returns the whole picture: replace. */
function applySnapshot(s) {
  if (s.version === state.version && rendered === s.version) return
  state.trends = new Map(s.trends.map((t) => [t.id, t]))
  state.scores = new Map(s.leaderboard.map((x) => [x.postId, x]))
  state.alerts = s.alerts
  state.alertIds = new Set(s.alerts.map((a) => a.alertId))
  state.watermark = s.watermark
  state.signals = s.counts.trends
  state.version = s.version
}

// ---------------------------------------------------------------------------------------------
// feeds

function setConn(kind, text) {
  const el = document.getElementById('conn')
  el.className = `pill pill-${kind}`
  el.textContent = text
  el.dataset.state = kind
}

async function pollFeed(url, intervalMs) {
  document.getElementById('feed-kind').textContent = `polling ${url} every ${intervalMs} ms (no WebSocket feed configured)`
  for (;;) {
    try {
      const r = await fetch(url, { headers: authHeaders, cache: 'no-store' })
      if (!r.ok) throw new Error(`HTTP ${r.status}`)
      applySnapshot(await r.json())
      setConn('poll', 'live · polling')
      schedule()
    } catch (e) {
      setConn('off', `disconnected: ${e.message}`)
    }
    await new Promise((res) => setTimeout(res, intervalMs))
  }
}

/** Messages replayed on a first connection, per stream. */
const BOOTSTRAP = { trends: 3000, scores: 2000, alerts: 100 }

function wsFeed(url) {
  const abs = new URL(url, location.href)
  abs.protocol = abs.protocol === 'https:' ? 'wss:' : abs.protocol === 'http:' ? 'ws:' : abs.protocol
  // browsers cannot set headers on a WebSocket: the feed takes the key as ?api_key= (server/api/auth.ts)
  if (apiKey && !abs.searchParams.has('api_key')) abs.searchParams.set('api_key', apiKey)
  document.getElementById('feed-kind').textContent = `WebSocket feed ${abs.pathname}`
  // per stream: the epoch it was in and the last sequence number seen (for resume after a reconnect)
  const pos = { trends: { epoch: null, seq: 0 }, scores: { epoch: null, seq: 0 }, alerts: { epoch: null, seq: 0 } }
  let backoff = 500
  const connect = () => {
    setConn('off', 'connecting…')
    const ws = new WebSocket(abs)
    // data messages: one by one, or several in a batch frame (the subscription asks for batches)
    const apply = (m) => {
      switch (m.type) {
        case 'trend': pos.trends.seq = m.seq; applyTrend(m.data); break
        case 'score': pos.scores.seq = m.seq; applyScore(m.data); break
        case 'alert': pos.alerts.seq = m.seq; applyAlert(m.data); break
        default: break
      }
    }
    ws.onmessage = (ev) => {
      let m
      try { m = JSON.parse(ev.data) } catch { return }
      switch (m.type) {
        case 'welcome': {
          backoff = 500
          const resume = {}
          for (const s of ['trends', 'scores', 'alerts']) {
            const r = m.streams?.[s]
            const now = r?.epoch ?? null
            if (pos[s].epoch !== null && pos[s].epoch === now && pos[s].seq > 0) resume[s] = { epoch: now, seq: pos[s].seq }
            else {
              pos[s] = { epoch: now, seq: 0 }
              // first connection (or a new epoch): warm start from the feed's replay buffer — the last
              // BOOTSTRAP[s] messages it still holds — so the lists and sparklines are not empty
              if (r && r.last > 0) resume[s] = { epoch: now, seq: Math.max(r.first > 0 ? r.first - 1 : 0, r.last - BOOTSTRAP[s]) }
            }
          }
          ws.send(JSON.stringify({ type: 'subscribe', streams: ['trends', 'scores', 'alerts'], filter: {}, batch: true, ...(Object.keys(resume).length ? { resume } : {}) }))
          break
        }
        case 'subscribed': setConn('live', 'live · WebSocket'); break
        case 'trend': case 'score': case 'alert': apply(m); schedule(); break
        case 'batch': for (const x of m.messages ?? []) apply(x); schedule(); break
        case 'gap':
          // missed messages cannot be replayed: keep what we have; new updates refresh the lists
          if (m.reason === 'epoch' && pos[m.stream]) pos[m.stream] = { epoch: m.epoch, seq: 0 }
          break
        case 'error': console.warn('feed refused a message:', m.code, m.message); break
        default: break
      }
    }
    ws.onclose = (ev) => {
      setConn('off', `reconnecting (${ev.code})…`)
      setTimeout(connect, backoff)
      backoff = Math.min(backoff * 2, 10_000)
    }
  }
  connect()
}

// ---------------------------------------------------------------------------------------------
// rendering

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') e.className = v
    else if (k === 'dataset') Object.assign(e.dataset, v)
    else e.setAttribute(k, v)
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c))
  return e
}

/** Inline SVG sparkline of a score history: area + line + the latest point. */
function sparkline(history) {
  const w = 124, h = 28, pad = 3
  const svg = document.createElementNS(SVG, 'svg')
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`)
  svg.setAttribute('class', 'spark')
  svg.setAttribute('role', 'img')
  const ys = history.map((p) => p.score)
  svg.setAttribute('aria-label', `score ${ys.map((y) => y.toFixed(1)).join(', ')}`)
  if (ys.length === 0) return svg
  const lo = Math.min(0, ...ys), hi = Math.max(...ys, lo + 1e-9)
  const n = ys.length
  const pts = ys.map((y, i) => [n === 1 ? w - pad : pad + ((w - 2 * pad) * i) / (n - 1), h - pad - ((h - 2 * pad) * (y - lo)) / (hi - lo)])
  const line = pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')
  const area = document.createElementNS(SVG, 'polygon')
  area.setAttribute('class', 'area')
  area.setAttribute('points', `${pts[0][0].toFixed(1)},${h - pad} ${line} ${pts[n - 1][0].toFixed(1)},${h - pad}`)
  const pl = document.createElementNS(SVG, 'polyline')
  pl.setAttribute('class', 'line')
  pl.setAttribute('points', line)
  const dot = document.createElementNS(SVG, 'circle')
  dot.setAttribute('class', 'dot')
  dot.setAttribute('cx', pts[n - 1][0].toFixed(1))
  dot.setAttribute('cy', pts[n - 1][1].toFixed(1))
  dot.setAttribute('r', '2.2')
  svg.append(area, pl, dot)
  return svg
}

const PLATFORM = { tiktok: 'TikTok', reels: 'Reels', shorts: 'Shorts' }
const label = (t) => (t.entityType === 'hashtag' ? `#${t.entity}` : t.entityType === 'sound' ? `♪ ${t.entity}` : t.entity)
const pct = (x) => `${x >= 0 ? '+' : ''}${Math.round(x * 100)}%`
const compact = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n)))
const plural = (n, w) => `${compact(n)} ${w}${n === 1 ? '' : 's'}`
const MATCH = { brand: 'matches the brand', keyword: 'keyword match', sector: 'sector match', none: 'general trend' }
const utc = (t) => new Date(t).toISOString().slice(11, 16) + ' UTC'
const ago = (t) => {
  if (state.watermark === null) return utc(t)
  const m = Math.round((state.watermark - t) / 60_000)
  return m <= 0 ? 'now' : `${m} min earlier`
}

let raf = 0
function schedule() { if (!raf) raf = requestAnimationFrame(() => { raf = 0; render() }) }

function render() {
  if (rendered === state.version) return
  rendered = state.version
  renders++
  document.getElementById('clock').textContent = state.watermark === null ? 'no window closed yet' : `windows to ${utc(state.watermark)}`
  document.getElementById('counts').textContent = `${state.signals.toLocaleString()} signals`

  // trends: emerging and rising, by score
  const list = document.getElementById('trend-list')
  const rows = [...state.trends.values()]
    // emerging or rising, and not stale (a trend whose windows stopped 10 min of event time ago)
    .filter((t) => (t.stage === 'emerging' || t.stage === 'rising') && (!state.platform || t.platform === state.platform) && t.windowEnd >= (state.watermark ?? 0) - 10 * 60_000)
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
    .slice(0, MAX_TRENDS)
  list.replaceChildren(...rows.map((t, i) => {
    const sig = `${t.windowEnd}:${t.score}`
    const changed = lastSeen.has(t.id) && lastSeen.get(t.id) !== sig
    lastSeen.set(t.id, sig)
    return el('li', { class: `trend${changed ? ' flash' : ''}`, 'data-testid': 'trend-row', dataset: { id: t.id, stage: t.stage, windowEnd: String(t.windowEnd), score: String(t.score) } },
      el('span', { class: 'rank' }, i + 1),
      el('div', { class: 'name' },
        el('span', { class: `stage stage-${t.stage}` }, t.stage),
        el('span', { class: 'entity', title: label(t) }, label(t)),
        el('span', { class: `plat plat-${t.platform}` }, PLATFORM[t.platform] ?? t.platform),
        el('span', { class: 'meta' }, `${plural(t.uses, 'post')} · ${plural(t.uniqueCreators, 'creator')}`)),
      sparkline(t.history ?? []),
      el('span', { class: 'score', title: 'trend score' }, t.score.toFixed(1)),
      el('span', { class: `growth${t.growth < 0 ? ' neg' : ''}`, title: 'growth against the previous window' }, pct(t.growth)))
  }))
  list.dataset.updates = String(renders)
  list.dataset.count = String(rows.length)
  document.getElementById('trend-empty').hidden = rows.length > 0

  // leaderboard: the highest P(top 1%) among recent scores
  const latest = Math.max(-Infinity, ...[...state.scores.values()].map((s) => s.at))
  const board = [...state.scores.values()]
    .filter((s) => s.at >= latest - 30 * 60_000)
    .sort((a, b) => b.probTop1Pct - a.probTop1Pct || b.predictedFinalEngagement - a.predictedFinalEngagement)
    .slice(0, 10)
  document.getElementById('leaderboard').replaceChildren(...board.map((s, i) =>
    el('li', { 'data-testid': 'leaderboard-row', dataset: { post: s.postId } },
      el('span', { class: 'pos' }, i + 1),
      el('span', { class: 'post', title: `${s.postId} · model ${s.modelVersion}` }, el('span', { class: `plat plat-${s.platform}` }, PLATFORM[s.platform] ?? s.platform), ' ', s.postId),
      el('div', { class: 'bar', title: `P(top 1%) = ${(s.probTop1Pct * 100).toFixed(1)}%` }, el('span', { style: `width:${Math.max(2, s.probTop1Pct * 100).toFixed(1)}%` })),
      el('span', { class: 'pred', title: 'predicted final engagement' }, `${(s.probTop1Pct * 100).toFixed(0)}% · ${compact(s.predictedFinalEngagement)}`))))
  document.getElementById('board-empty').hidden = board.length > 0

  // alerts
  document.getElementById('alerts').replaceChildren(...state.alerts.slice(0, 8).map((a) =>
    el('li', { class: `sev-${a.severity}`, 'data-testid': 'alert-row' },
      el('div', { class: 'head' }, el('span', { class: 'rule' }, a.rule.replace('_', ' ')), el('span', { class: 'muted' }, `${a.entity} · ${a.severity} · ${ago(a.at)}`)),
      el('div', { class: 'reason' }, a.reason))))
  document.getElementById('alerts-empty').hidden = state.alerts.length > 0
}

// ---------------------------------------------------------------------------------------------
// generator panel

const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean)

async function initGenerator(g) {
  const form = document.getElementById('gen-form')
  const len = document.getElementById('len')
  len.addEventListener('input', () => { document.getElementById('len-out').textContent = `${len.value} s` })
  try {
    const [sec, hooks] = await Promise.all([fetch(g.sectors, { headers: authHeaders }).then((r) => r.json()), fetch(g.hookTypes, { headers: authHeaders }).then((r) => r.json())])
    document.getElementById('sector').replaceChildren(...sec.sectors.map((s) => el('option', { value: s.id, selected: s.id === 'food-beverage' ? 'selected' : null }, s.label)))
    document.getElementById('hook-type').append(...hooks.hookTypes.map((h) => el('option', { value: h.id, title: h.description }, h.label)))
  } catch (e) {
    document.getElementById('gen-result').replaceChildren(el('p', { class: 'error' }, `The generator is not available here: ${e.message}`))
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    const f = new FormData(form)
    const body = {
      name: f.get('name'), sector: f.get('sector'), tone: f.get('tone'), goal: f.get('goal'), audience: f.get('audience'),
      platform: f.get('platform'), lengthSec: Number(f.get('lengthSec')), keywords: list(String(f.get('keywords') || '')),
      bannedWords: list(String(f.get('bannedWords') || '')),
    }
    if (f.get('hookType')) body.hookType = f.get('hookType')
    const out = document.getElementById('gen-result')
    const btn = document.getElementById('gen-submit')
    btn.disabled = true
    out.dataset.state = 'loading'
    out.replaceChildren(el('p', { class: 'muted' }, 'Writing…'))
    try {
      const r = await fetch(g.url, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders }, body: JSON.stringify(body) })
      const j = await r.json()
      if (r.ok && j.ok) renderScript(out, j)
      else renderFailure(out, r.status, j)
    } catch (e) {
      out.dataset.state = 'error'
      out.replaceChildren(el('p', { class: 'error' }, `Request failed: ${e.message}`))
    } finally { btn.disabled = false }
  })
}

function renderScript(out, r) {
  const s = r.script
  const seg = (kind, from, to, title, vo, ost, vis, testid) => el('li', { class: `seg ${kind}`, 'data-testid': testid },
    el('div', { class: 't' }, el('b', {}, title), `${from}–${to} s`),
    el('div', {}, el('div', { class: 'vo' }, vo || el('span', { class: 'muted' }, '(no voice-over)')), ost ? el('span', { class: 'ost' }, ost) : null, vis ? el('div', { class: 'vis' }, vis) : null))
  out.dataset.state = 'done'
  out.replaceChildren(
    el('p', { class: 'script-title', 'data-testid': 'gen-title' }, s.title),
    el('div', { class: 'script-meta' },
      el('span', { class: 'pill muted' }, `${s.lengthSec} s · ${PLATFORM[s.platform] ?? s.platform}`),
      el('span', { class: 'pill muted' }, `${r.validation.wordCount} words (${r.validation.wordRange[0]}–${r.validation.wordRange[1]})`),
      el('span', { class: 'pill muted' }, `${r.provider}${r.model ? ` · ${r.model}` : ''} · seed ${r.seed}`),
      el('span', { class: 'pill muted' }, `${r.attempts.length} attempt${r.attempts.length > 1 ? 's' : ''}`)),
    el('ol', { class: 'timeline' },
      seg('hook', 0, s.hook.endSec, `Hook · ${s.hook.type}`, s.hook.voiceOver, s.hook.onScreenText, null, 'gen-hook'),
      s.beats.map((b, i) => seg('beat', b.startSec, b.endSec, `Beat ${i + 1}`, b.voiceOver, b.onScreenText, b.visual, 'gen-beat')),
      seg('cta', s.callToAction.startSec, s.lengthSec, 'Call to action', s.callToAction.voiceOver, s.callToAction.onScreenText, null, 'gen-cta')),
    el('div', { class: 'tags', 'data-testid': 'gen-hashtags' }, s.hashtags.map((h) => el('span', { class: 'tag' }, h))),
    el('div', { class: 'small' }, el('b', {}, 'Sound: '), s.sound.description),
    el('div', { class: 'cites' },
      el('div', {}, el('h3', {}, 'Trends used'),
        s.citations.trends.length
          ? el('ul', {}, s.citations.trends.map((t) => el('li', { 'data-testid': 'gen-cited-trend', dataset: { id: t.id } }, `${label(t)} `, el('span', { class: 'muted' }, `${PLATFORM[t.platform]} · ${t.stage} · score ${t.score.toFixed(1)} · ${MATCH[t.match] ?? t.match}`))))
          : el('p', { class: 'muted small' }, 'No live trend matched this brand yet.')),
      el('div', {}, el('h3', {}, 'Similar top posts'),
        s.citations.posts.length
          ? el('ul', {}, s.citations.posts.map((p) => el('li', { 'data-testid': 'gen-cited-post' }, el('code', {}, p.postId), ` “${p.caption.slice(0, 60)}” `, el('span', { class: 'muted' }, plural(p.engagement, 'engagement')))))
          : el('p', { class: 'muted small' }, 'None found.'))))
}

function renderFailure(out, status, j) {
  out.dataset.state = 'error'
  if (status === 400 && j.error) {
    out.replaceChildren(el('p', { class: 'error', 'data-testid': 'gen-error' }, `Check the form: ${j.error.message}`))
    return
  }
  const attempts = j.attempts ?? []
  out.replaceChildren(
    el('p', { class: 'error', 'data-testid': 'gen-error' }, j.error?.message ?? `HTTP ${status}`),
    attempts.length ? el('ol', { class: 'small' }, attempts.map((a) => el('li', {}, a.providerError ? a.providerError.message : a.failures.map((f) => f.message).join('; ')))) : null)
}

// ---------------------------------------------------------------------------------------------

for (const b of document.querySelectorAll('.filters .chip')) {
  b.addEventListener('click', () => {
    for (const x of document.querySelectorAll('.filters .chip')) x.classList.toggle('on', x === b)
    state.platform = b.dataset.platform
    rendered = -1
    schedule()
  })
}

const cfg = await fetch('config.json', { cache: 'no-store' }).then((r) => r.json())
initGenerator(cfg.generator)
if (cfg.feed.kind === 'websocket') wsFeed(cfg.feed.url)
else if (cfg.feed.kind === 'poll') pollFeed(cfg.feed.url, cfg.feed.intervalMs)
else setConn('off', 'no live feed configured')
render()
