// Writes schemas/api/ws-messages.schema.json from the zod schemas in schemas/api/ws.ts.
//   node --import tsx schemas/api/generate.ts
// tests/server/schemas.test.ts fails when the checked-in file is out of date.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { wsMessagesJsonSchema } from './json-schema.ts'

export const WS_SCHEMA_FILE = fileURLToPath(new URL('./ws-messages.schema.json', import.meta.url))

export function renderWsSchema(): string {
  return JSON.stringify(wsMessagesJsonSchema(), null, 2) + '\n'
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(WS_SCHEMA_FILE, renderWsSchema())
  console.log(`wrote ${WS_SCHEMA_FILE}`)
}
