// A FAKE of the WebSocket live feed (protocol 1, schemas/api/ws.ts), for testing the Trend Radar
// page's feed client while the real feed server (server/ws/) has not landed. It speaks only the part
// of the protocol the page uses — welcome, subscribe (with resume), trend/score/alert messages with
// per-stream sequence numbers, replay from a buffer — and checks every frame it sends and receives
// against the protocol's zod schemas, so the page is tested against the documented messages, not
// against this file's idea of them. Not a model of the real server's behaviour (no auth, filters,
// coalescing, heartbeats or backpressure).
import type { Server } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'
import { ClientMessageSchema, ServerMessageSchema, type ClientMessage, type ServerMessage, type StreamName } from '../../schemas/api/ws.ts'
import type { BrandAlert, TrendSignal, ViralityScore } from '../../schemas/outputs.ts'
import type { Batch, Sink } from '../../streams/types.ts'

type DataMessage = Extract<ServerMessage, { type: 'trend' | 'score' | 'alert' }>

export class FakeFeed {
  readonly epoch = 'fake-epoch-1'
  /** every client message received, parsed */
  readonly received: ClientMessage[] = []
  private readonly seq: Record<StreamName, number> = { trends: 0, scores: 0, alerts: 0 }
  private readonly buffer: DataMessage[] = []
  private readonly subscribed = new Set<WebSocket>()
  private wss: WebSocketServer | null = null
  private connections = 0

  attach(server: Server, path = '/ws'): void {
    this.wss = new WebSocketServer({ server, path })
    this.wss.on('connection', (ws) => {
      const id = `c${++this.connections}`
      this.send(ws, {
        type: 'welcome', protocol: 1, connectionId: id, tenantId: 'fake-tenant', heartbeatMs: 30_000,
        streams: { trends: this.range('trends'), scores: this.range('scores'), alerts: this.range('alerts') },
      })
      ws.on('message', (raw) => {
        const m = ClientMessageSchema.parse(JSON.parse(String(raw)))
        this.received.push(m)
        if (m.type === 'ping') this.send(ws, { type: 'pong', ...(m.id ? { id: m.id } : {}) })
        else if (m.type === 'unsubscribe') this.subscribed.delete(ws)
        else {
          // replay after the resume point of each stream that is still in this epoch
          const after = (s: StreamName): number => (m.resume?.[s]?.epoch === this.epoch ? m.resume[s]!.seq : Infinity)
          const replay = this.buffer.filter((x) => m.streams.includes(x.stream) && x.seq > after(x.stream))
          for (const x of replay) this.send(ws, x)
          this.send(ws, {
            type: 'subscribed', streams: m.streams, filter: m.filter,
            replayed: { trends: replay.filter((x) => x.stream === 'trends').length, scores: replay.filter((x) => x.stream === 'scores').length, alerts: replay.filter((x) => x.stream === 'alerts').length },
          })
          this.subscribed.add(ws)
        }
      })
      ws.on('close', () => { this.subscribed.delete(ws) })
    })
  }

  /** Close every connection as a slow consumer would be (1013: try again later). */
  dropAll(): void {
    for (const ws of this.wss?.clients ?? []) ws.close(1013, 'try again later')
  }

  publishTrends(xs: readonly TrendSignal[]): void { for (const data of xs) this.publish({ type: 'trend', stream: 'trends', seq: ++this.seq.trends, data }) }
  publishScores(xs: readonly ViralityScore[]): void { for (const data of xs) this.publish({ type: 'score', stream: 'scores', seq: ++this.seq.scores, data }) }
  publishAlerts(xs: readonly BrandAlert[]): void { for (const data of xs) this.publish({ type: 'alert', stream: 'alerts', seq: ++this.seq.alerts, data }) }

  trendSink(): Sink<TrendSignal> { return { name: 'fake-feed-trends', write: (b: Batch<TrendSignal>) => this.publishTrends(b.values) } }
  scoreSink(): Sink<ViralityScore> { return { name: 'fake-feed-scores', write: (b: Batch<ViralityScore>) => this.publishScores(b.values) } }
  alertSink(): Sink<BrandAlert> { return { name: 'fake-feed-alerts', write: (b: Batch<BrandAlert>) => this.publishAlerts(b.values) } }

  async close(): Promise<void> {
    for (const ws of this.wss?.clients ?? []) ws.terminate()
    await new Promise<void>((r) => (this.wss ? this.wss.close(() => r()) : r()))
  }

  private publish(m: DataMessage): void {
    this.buffer.push(m)
    if (this.buffer.length > 20_000) this.buffer.splice(0, 5_000)
    for (const ws of this.subscribed) this.send(ws, m)
  }

  private range(s: StreamName): { epoch: string; first: number; last: number } {
    const xs = this.buffer.filter((x) => x.stream === s)
    return { epoch: this.epoch, first: xs[0]?.seq ?? 0, last: this.seq[s] }
  }

  private send(ws: WebSocket, m: ServerMessage): void {
    ServerMessageSchema.parse(m)
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m))
  }
}
