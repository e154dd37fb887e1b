// Alert webhooks: delivery (sink.ts), signatures (signature.ts), egress policy (ssrf.ts).
export * from './sink.ts'
export * from './signature.ts'
export * from './ssrf.ts'
export { TokenBuckets, type BucketLimit, type TakeResult } from './token-bucket.ts'
export { deadLetterFile } from './dead-letters.ts'
