// WebSocket clients for benchmarks/e2e-latency.bench.ts, in their own process (so their CPU is not
// the engine's): opens N connections to the live feed, subscribes each to trends, and measures, for
// every trend message a normal client receives, how long after its window fired it arrived.
//
// Latency of a trend update = receive time − (windowEnd + boundMs): with event time stamped from
// the wall clock at the source, the window [start, end) fires when the first event with time ≥
// end + bound enters the source (bounded out-of-orderness watermark), so this is the delay beyond
// the window's firing time, through source, engine, bus and WebSocket. Both processes read the same
// clock (performance.timeOrigin + performance.now()).
//
// The receive time is taken first thing in the message handler and the window end is read with a
// string search, not JSON.parse, so a process with many clients adds as little as it can; still,
// all clients of a process share one thread, so the last client to handle a burst waits for the
// others. The bench therefore runs a few "probe" clients in a process of their own.
//
// Slow clients stop reading their socket for `slowPauseMs`, then read for `slowReadMs`, over and
// over; when the server closes them (1013) they reconnect and resume.
// --batch subscribes with batch: true (a publish's updates in one `batch` frame; every update in it
// is timed, at the frame's receive time).
// Driven over IPC: {cmd:'open', n, slow, filter} opens n more clients (subscribed with that filter) and answers {event:'opened'} once all
// are subscribed; {cmd:'measure'} starts recording, {cmd:'report'} answers with the figures,
// {cmd:'stop'} closes everything.
import { parseArgs } from 'node:util'
import WebSocket from 'ws'

const { values: a } = parseArgs({
  options: {
    url: { type: 'string' }, batch: { type: 'boolean', default: false }, bound: { type: 'string', default: '0' }, 'slow-pause-ms': { type: 'string', default: '3000' }, 'slow-read-ms': { type: 'string', default: '100' },
  },
})
const URL_ = a.url!
const BOUND = Number(a.bound)
const PAUSE = Number(a['slow-pause-ms'])
const READ = Number(a['slow-read-ms'])
const BATCH = a.batch!
const now = (): number => performance.timeOrigin + performance.now()

let measuring = false
let lat = new Float64Array(1 << 20)
let nLat = 0
const slowStats = { messages: 0, coalesced: 0, closedByServer: 0, reconnects: 0 }
let normalMessages = 0
let ready = 0
let want = 0
const sockets: WebSocket[] = []
let stopping = false

function record(x: number): void {
  if (nLat === lat.length) { const b = new Float64Array(lat.length * 2); b.set(lat); lat = b }
  lat[nLat++] = x
}

function open(i: number, slow: boolean, filter: Record<string, unknown>, resume?: { epoch: string; seq: number }): void {
  const ws = new WebSocket(URL_, { perMessageDeflate: false })
  sockets[i] = ws
  let last: { epoch: string; seq: number } | undefined = resume
  let pauser: NodeJS.Timeout | null = null
  ws.on('message', (data) => {
    const s = data.toString()
    // cheap dispatch on the type, which the server writes first
    if (s.startsWith('{"type":"trend"')) {
      if (slow) { slowStats.messages++; if (last) last.seq = seqOf(s); return }
      normalMessages++
      if (measuring) {
        const t = now()
        const k = s.indexOf('"windowEnd":') + 12
        record(t - (parseInt(s.slice(k, k + 16), 10) + BOUND))
      }
      return
    }
    if (s.startsWith('{"type":"batch"')) {
      if (slow) { slowStats.messages++; if (last) last.seq = seqOf(s, s.lastIndexOf('"seq":')); return }
      const t = now()
      for (let k = s.indexOf('"windowEnd":'); k >= 0; k = s.indexOf('"windowEnd":', k + 12)) {
        normalMessages++
        if (measuring) record(t - (parseInt(s.slice(k + 12, k + 28), 10) + BOUND))
      }
      return
    }
    const m = JSON.parse(s)
    if (m.type === 'welcome') {
      const ep = m.streams.trends.epoch as string
      const res = last && last.epoch === ep ? { trends: last } : undefined
      last = { epoch: ep, seq: last && last.epoch === ep ? last.seq : 0 }
      ws.send(JSON.stringify({ type: 'subscribe', streams: ['trends'], filter, ...(BATCH ? { batch: true } : {}), ...(res ? { resume: res } : {}) }))
    } else if (m.type === 'subscribed') {
      if (!resume) ready++
      if (ready === want) process.send?.({ event: 'opened', total: ready })
      if (slow && !pauser) {
        // stop reading at once; read for READ ms after each pause (the first pause is staggered)
        const cycle = (pause: number): void => {
          ws.pause()
          pauser = setTimeout(() => { ws.resume(); pauser = setTimeout(() => cycle(PAUSE), READ) }, pause)
        }
        cycle(PAUSE * (0.5 + Math.random() / 2))
      }
    } else if (m.type === 'coalesced') {
      if (slow) slowStats.coalesced++
    }
  })
  ws.on('close', (code) => {
    if (pauser) clearTimeout(pauser)
    if (stopping) return
    if (slow) {
      if (code === 1013) slowStats.closedByServer++
      slowStats.reconnects++
      setTimeout(() => open(i, slow, filter, last), 500)
    } else {
      process.send?.({ event: 'normal-closed', code })
    }
  })
  ws.on('error', () => { /* close follows */ })
}

function seqOf(s: string, at = s.indexOf('"seq":')): number {
  const k = at + 6
  return parseInt(s.slice(k, k + 16), 10)
}

function quantile(xs: Float64Array, q: number): number {
  if (xs.length === 0) return NaN
  const i = Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))
  return xs[i]
}

process.on('message', (msg: { cmd: string; n?: number; slow?: boolean; filter?: Record<string, unknown> }) => {
  if (msg.cmd === 'open') {
    const from = sockets.length
    want += msg.n!
    for (let i = 0; i < msg.n!; i++) open(from + i, !!msg.slow, msg.filter ?? {})
  } else if (msg.cmd === 'measure') { measuring = true; nLat = 0; normalMessages = 0; for (const k of Object.keys(slowStats) as Array<keyof typeof slowStats>) slowStats[k] = 0 }
  else if (msg.cmd === 'report') {
    measuring = false
    const xs = lat.slice(0, nLat).sort()
    process.send?.({
      event: 'report',
      latency: { n: nLat, p50: quantile(xs, 0.5), p90: quantile(xs, 0.9), p99: quantile(xs, 0.99), max: xs[xs.length - 1] ?? NaN, min: xs[0] ?? NaN },
      normalMessages, slow: { ...slowStats },
    })
  } else if (msg.cmd === 'stop') {
    stopping = true
    for (const ws of sockets) ws?.terminate()
    setTimeout(() => process.exit(0), 100)
  }
})

