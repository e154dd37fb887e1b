// Webhook dead letters to an NDJSON file (one WebhookDeadLetter per line, the body included), for
// WebhookSink's onDeadLetter. Appends in order; a failed append is reported, never thrown at the sink.
import { appendFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { WebhookDeadLetter } from './sink.ts'

export function deadLetterFile(path: string, onError: (err: Error) => void = () => {}): (d: WebhookDeadLetter) => void {
  let chain: Promise<void> = mkdir(dirname(path), { recursive: true }).then(() => {})
  return (d) => {
    const line = JSON.stringify(d) + '\n'
    chain = chain.then(() => appendFile(path, line)).catch((err: Error) => onError(err))
  }
}
