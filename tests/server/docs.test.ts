// docs/api.md's webhook verification snippet, run against signatures the server makes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { signPayload } from '../../sinks/webhooks/signature.ts'

test('docs/api.md: the webhook signature snippet accepts real signatures and refuses forged or stale ones', () => {
  const doc = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8')
  const start = doc.indexOf('function verifyTrendwireSignature(')
  assert.ok(start > 0, 'snippet present')
  const end = doc.indexOf('\n}\n', start) + 2
  const verify = new Function('createHmac', 'timingSafeEqual', 'Buffer', `${doc.slice(start, end)}; return verifyTrendwireSignature`)(createHmac, timingSafeEqual, Buffer) as
    (header: string | undefined, body: Buffer, secret: string, toleranceSec?: number) => boolean
  const secret = 'whsec_doc'
  const body = Buffer.from('{"id":"a.s","alert":{"alertId":"a"}}')
  const now = Math.floor(Date.now() / 1000)
  assert.equal(verify(signPayload(secret, now, body), body, secret), true)
  assert.equal(verify(signPayload(secret, now, body), Buffer.from(body.toString() + ' '), secret), false, 'body changed')
  assert.equal(verify(signPayload('whsec_other', now, body), body, secret), false, 'other secret')
  assert.equal(verify(signPayload(secret, now - 301, body), body, secret), false, 'outside the replay window')
  assert.equal(verify(`${signPayload('old', now, body)},v1=${signPayload(secret, now, body).split('v1=')[1]}`, body, secret), true, 'rotation: any v1')
  assert.equal(verify(undefined, body, secret), false)
})
