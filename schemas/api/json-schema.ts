// zod → JSON Schema (draft 2020-12) for the API's documents. Named schemas (those with an `id` in
// apiRegistry) become definitions referenced by `$ref`: under `#/components/schemas/` in OpenAPI
// 3.1 (whose schema objects are JSON Schema 2020-12), under `#/$defs/` in a standalone document.
import { z } from 'zod'
import { apiRegistry } from './common.ts'
import { ClientMessageSchema, ServerMessageSchema } from './ws.ts'

export type JsonSchema = Record<string, unknown>

export interface Converted {
  schema: JsonSchema
  /** Named schemas the converted one references, by id. */
  defs: Record<string, JsonSchema>
}

/**
 * Converts one schema. io 'input' describes what a client sends (defaults make fields optional,
 * query coercions show their string side); 'output' what the server returns.
 */
export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output', refPrefix: string): Converted {
  const raw = z.toJSONSchema(schema, { metadata: apiRegistry, target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema
  const defs = (raw.$defs ?? {}) as Record<string, JsonSchema>
  delete raw.$defs
  delete raw.$schema
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite)
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v)) {
        o[k] = k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/') ? refPrefix + x.slice('#/$defs/'.length) : rewrite(x)
      }
      return o
    }
    return v
  }
  const out: Record<string, JsonSchema> = {}
  for (const [id, d] of Object.entries(defs)) out[id] = rewrite(d) as JsonSchema
  return { schema: rewrite(raw) as JsonSchema, defs: out }
}

export const WS_SCHEMA_ID = 'https://trendwire.dev/schemas/api/ws-messages.schema.json'

/** The WebSocket protocol as one JSON Schema document: a message is a ClientMessage or a ServerMessage. */
export function wsMessagesJsonSchema(): JsonSchema {
  const client = toJsonSchema(ClientMessageSchema, 'input', '#/$defs/')
  const server = toJsonSchema(ServerMessageSchema, 'output', '#/$defs/')
  // Client messages are described on their input side (defaults optional), server ones as sent.
  const defs: Record<string, JsonSchema> = { ...server.defs, ...client.defs }
  const sorted: Record<string, JsonSchema> = {}
  for (const k of Object.keys(defs).sort()) sorted[k] = defs[k]
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: WS_SCHEMA_ID,
    title: 'trendwire live feed messages (protocol 1)',
    description: 'Every WebSocket text frame is one JSON object: a ClientMessage (client to server) or a ServerMessage (server to client). Generated from schemas/api/ws.ts by schemas/api/generate.ts; see docs/api.md.',
    oneOf: [{ $ref: '#/$defs/ClientMessage' }, { $ref: '#/$defs/ServerMessage' }],
    $defs: sorted,
  }
}
