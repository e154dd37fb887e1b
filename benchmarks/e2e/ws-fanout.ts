// Micro-benchmark behind a recommendation for the live feed (server/ws/feed.ts): what one fan-out of
// M messages to N WebSocket clients costs the sending thread, old vs new in one run —
//   string   ws.send(json) per client per message (the feed today: each call encodes and frames)
//   buffer   the message encoded to a Buffer once, ws.send(buffer) per client
//   corked   socket.cork() per client, its M sends, uncork(): one write per client instead of M
//   both     buffer + corked (the feed's unbatched subscriptions since bbe0903)
//   batch    the M messages as one `batch` frame, built once, ws.send(frame) per client (the
//            feed's batch subscriptions)
// Clients are in this process but only count frames; each mode is measured after the previous
// fan-out has been fully received. Figures in benchmarks/e2e/README.md.
//   npx tsx benchmarks/e2e/ws-fanout.ts [--clients 1000] [--messages 33] [--rounds 3]
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { WebSocket, WebSocketServer } from 'ws'

const { values: a } = parseArgs({ options: { clients: { type: 'string', default: '1000' }, messages: { type: 'string', default: '33' }, rounds: { type: 'string', default: '3' } } })
const N = Number(a.clients)
const M = Number(a.messages)
const server = createServer()
const wss = new WebSocketServer({ server, perMessageDeflate: false })
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const { port } = server.address() as AddressInfo
const conns: WebSocket[] = []
wss.on('connection', (ws) => conns.push(ws))
let got = 0
for (let i = 0; i < N; i++) new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false }).on('message', () => { got++ })
while (conns.length < N) await new Promise((r) => setTimeout(r, 20))

const signal = { entityType: 'hashtag', entity: 'tag12', platform: 'tiktok', windowStart: 1_700_000_000_000, windowEnd: 1_700_000_001_000, uses: 100, uniqueCreators: 100, totalEngagement: 0, growth: 0, baseline: 0, observed: 100, deviation: 0, score: 100, stage: 'rising', contributingPostIds: [], revision: 0 }
const jsons = Array.from({ length: M }, (_, i) => `{"type":"trend","stream":"trends","seq":${i + 1},"data":${JSON.stringify({ ...signal, entity: `tag${i}` })}}`)
const bufs = jsons.map((j) => Buffer.from(j))
const batch = Buffer.from(`{"type":"batch","messages":[${jsons.join(',')}]}`)
type Sock = { cork(): void; uncork(): void }
const sock = (ws: WebSocket): Sock => (ws as unknown as { _socket: Sock })._socket

const modes: Record<string, () => void> = {
  string: () => { for (let m = 0; m < M; m++) for (const ws of conns) ws.send(jsons[m]) },
  buffer: () => { for (let m = 0; m < M; m++) for (const ws of conns) ws.send(bufs[m]) },
  corked: () => { for (const ws of conns) { const s = sock(ws); s.cork(); for (let m = 0; m < M; m++) ws.send(jsons[m]); s.uncork() } },
  both: () => { for (const ws of conns) { const s = sock(ws); s.cork(); for (let m = 0; m < M; m++) ws.send(bufs[m]); s.uncork() } },
  batch: () => { for (const ws of conns) ws.send(batch, { binary: false }) },
}
const framesPerClient = (mode: string): number => (mode === 'batch' ? 1 : M)
const rows: Array<Record<string, string | number>> = []
for (let r = 0; r < Number(a.rounds); r++) {
  for (const [name, run] of Object.entries(modes)) {
    const target = got + N * framesPerClient(name)
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    run()
    const sendMs = performance.now() - t0
    const c = process.cpuUsage(c0)
    while (got < target) await new Promise((res) => setImmediate(res))
    rows.push({ round: r + 1, mode: name, sends: N * framesPerClient(name), 'send loop ms': +sendMs.toFixed(1), 'send CPU ms': +((c.user + c.system) / 1000).toFixed(1), 'µs per message': +((sendMs * 1000) / (N * M)).toFixed(2), 'all received ms': +(performance.now() - t0).toFixed(1) })
  }
}
console.table(rows)
process.exit(0)
