// The WebSocket live feed's messages (protocol 1), as zod schemas. The JSON Schema for client authors,
// schemas/api/ws-messages.schema.json, is generated from these (schemas/api/generate.ts) and
// tests/server/schemas.test.ts fails when the two disagree. docs/api.md describes the protocol.
//
// Every message is one JSON text frame with a `type`, except that a subscription with `batch: true`
// gets its data messages as `batch` frames: {"type":"batch","messages":[<trend|score|alert>, ...]},
// the messages one publish delivers to it, each with its own stream and seq, in order. Data messages also carry the `stream` they
// belong to and that stream's sequence number `seq` (+1 per message of the stream within an epoch;
// numbers skipped in what a client sees are messages its filter excluded). Each stream's `epoch`
// names a run of its publisher: when it changes, sequence numbers start again and a client's old
// `seq` means nothing (the client is told with a gap message).
import { z } from 'zod'
import { apiRegistry, BrandAlertSchema, EntityTypeSchema, PlatformSchema, TrendSignalSchema, ViralityScoreSchema } from './common.ts'

export const STREAMS = ['trends', 'scores', 'alerts'] as const
export type StreamName = (typeof STREAMS)[number]
export const StreamNameSchema = z.enum(STREAMS).register(apiRegistry, { id: 'StreamName', description: 'trends: TrendSignal; scores: ViralityScore; alerts: BrandAlert (only your tenant\'s)' })

const seq = z.number().int().min(0)

// --- client → server -------------------------------------------------------------------------------

export const FeedFilterSchema = z.strictObject({
  entityTypes: z.array(EntityTypeSchema).optional().describe('trends: only these entity types'),
  platforms: z.array(PlatformSchema).optional().describe('trends and scores: only these platforms'),
  minScore: z.number().optional().describe('trends: only score >= minScore'),
  minProbability: z.number().min(0).max(1).optional().describe('scores: only probTop1Pct >= minProbability'),
  brandId: z.string().optional().describe("one of your brands: trends only for its watched keywords/hashtags, alerts only for it"),
}).register(apiRegistry, { id: 'FeedFilter' })
export type FeedFilter = z.output<typeof FeedFilterSchema>

export const ResumePoint = z.strictObject({
  epoch: z.string().describe('the epoch of that stream when the client last saw it (welcome, gap)'),
  seq: seq.describe('the last sequence number seen on that stream'),
}).register(apiRegistry, { id: 'ResumePoint' })

export const SubscribeMessage = z.strictObject({
  type: z.literal('subscribe'),
  streams: z.array(StreamNameSchema).min(1).default(['trends', 'scores', 'alerts']),
  filter: FeedFilterSchema.default({}),
  resume: z.strictObject({
    trends: ResumePoint.optional(),
    scores: ResumePoint.optional(),
    alerts: ResumePoint.optional(),
  }).optional().describe('per stream, the last message seen: replay what was missed since'),
  batch: z.boolean().default(false).describe('true: data messages (live and replayed) come in batch messages, one frame per publish (e.g. per trend window) instead of one per message'),
}).register(apiRegistry, { id: 'SubscribeMessage', description: 'Start (or replace) the subscription of this connection.' })

export const UnsubscribeMessage = z.strictObject({ type: z.literal('unsubscribe') }).register(apiRegistry, { id: 'UnsubscribeMessage' })
export const PingMessage = z.strictObject({ type: z.literal('ping'), id: z.string().max(100).optional() }).register(apiRegistry, { id: 'PingMessage', description: 'Application-level ping (browsers cannot send protocol pings); answered with pong.' })

export const ClientMessageSchema = z.discriminatedUnion('type', [SubscribeMessage, UnsubscribeMessage, PingMessage]).register(apiRegistry, { id: 'ClientMessage' })
export type ClientMessage = z.output<typeof ClientMessageSchema>

// --- server → client -------------------------------------------------------------------------------

const streamRange = z.object({
  epoch: z.string().describe('names the run of the publisher; sequence numbers restart when it changes'),
  first: seq.describe('oldest seq still replayable (0: none)'),
  last: seq.describe('latest seq published (0: none)'),
})

export const WelcomeMessage = z.object({
  type: z.literal('welcome'),
  protocol: z.literal(1),
  connectionId: z.string(),
  tenantId: z.string(),
  heartbeatMs: z.number().int().describe('the server pings this often; a connection that misses a pong is closed'),
  streams: z.object({ trends: streamRange, scores: streamRange, alerts: streamRange }),
}).register(apiRegistry, { id: 'WelcomeMessage' })

export const SubscribedMessage = z.object({
  type: z.literal('subscribed'),
  streams: z.array(StreamNameSchema),
  filter: FeedFilterSchema,
  batch: z.boolean().describe('whether data messages come in batch messages'),
  replayed: z.object({ trends: z.number().int(), scores: z.number().int(), alerts: z.number().int() }).describe('messages replayed from the buffer, per stream, sent before this one'),
}).register(apiRegistry, { id: 'SubscribedMessage' })

export const TrendMessage = z.object({ type: z.literal('trend'), stream: z.literal('trends'), seq, data: TrendSignalSchema }).register(apiRegistry, { id: 'TrendMessage' })
export const ScoreMessage = z.object({ type: z.literal('score'), stream: z.literal('scores'), seq, data: ViralityScoreSchema }).register(apiRegistry, { id: 'ScoreMessage' })
export const AlertMessage = z.object({ type: z.literal('alert'), stream: z.literal('alerts'), seq, data: BrandAlertSchema }).register(apiRegistry, { id: 'AlertMessage' })

export const BatchMessage = z.object({
  type: z.literal('batch'),
  messages: z.array(z.discriminatedUnion('type', [TrendMessage, ScoreMessage, AlertMessage])).min(1).describe('data messages in order (per stream by seq); each is exactly what an unbatched subscription gets as a frame of its own'),
}).register(apiRegistry, { id: 'BatchMessage', description: 'Only to subscriptions with batch: true — the data messages of one publish (e.g. one trend window) in one frame.' })

export const GapMessage = z.object({
  type: z.literal('gap'),
  stream: StreamNameSchema,
  reason: z.enum(['evicted', 'epoch']).describe('evicted: older than the replay buffer; epoch: the publisher restarted and sequence numbers began again'),
  from: seq.nullable().describe('first missed seq (null when unknown)'),
  to: seq.nullable().describe('last missed seq (null when unknown)'),
  epoch: z.string().describe('the current epoch'),
}).register(apiRegistry, { id: 'GapMessage', description: 'Messages the client missed that cannot be replayed; refetch current state over HTTP.' })

export const CoalescedMessage = z.object({
  type: z.literal('coalesced'),
  dropped: z.object({ trends: z.number().int(), scores: z.number().int() }).describe('superseded updates not sent, per stream'),
}).register(apiRegistry, { id: 'CoalescedMessage', description: 'The client was slow: only the latest update per entity/post was kept while it caught up. Alerts are never coalesced.' })

export const PongMessage = z.object({ type: z.literal('pong'), id: z.string().optional() }).register(apiRegistry, { id: 'PongMessage' })

export const ErrorMessage = z.object({
  type: z.literal('error'),
  code: z.enum(['invalid_message', 'not_found', 'rate_limited']),
  message: z.string(),
  field: z.string().optional(),
}).register(apiRegistry, { id: 'ErrorMessage', description: 'A client message was refused; the connection stays open.' })

export const ServerMessageSchema = z.discriminatedUnion('type', [
  WelcomeMessage, SubscribedMessage, TrendMessage, ScoreMessage, AlertMessage, BatchMessage, GapMessage, CoalescedMessage, PongMessage, ErrorMessage,
]).register(apiRegistry, { id: 'ServerMessage' })
export type ServerMessage = z.output<typeof ServerMessageSchema>

/** Close codes the server uses (RFC 6455 §7.4; 4000–4999 are application-defined). */
export const CLOSE_CODES = {
  /** Going away: the server is shutting down. */
  shutdown: 1001,
  /** Message too big or not JSON text. */
  unsupported: 1003,
  /** Try Again Later: the client could not keep up (send buffer over the limit); reconnect with resume. */
  slowConsumer: 1013,
  /** The API key was revoked while connected. */
  unauthorized: 4001,
  /** Too many connections for this tenant. */
  tooManyConnections: 4029,
} as const
