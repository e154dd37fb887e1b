// The read-only ClickHouse-compatible HTTP endpoint over embedded chDB (issue 5).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import express from 'express'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { createClickHouse, type ClickHouse } from '../../sinks/clickhouse/index.ts'
import { clickhouseHttpRouter, skeleton } from '../../server/api/clickhouse-http.ts'
import { TenantStore } from '../../server/api/store.ts'

const dir = mkdtempSync(join(tmpdir(), 'trendwire-chhttp-'))
let ch: ClickHouse
let server: Server
let base = ''
const store = new TenantStore()
const team = store.createTenant({ name: 'analysts', kind: 'team' }).key
const brand = store.createTenant({ name: 'a brand', kind: 'brand' }).key
const admin = 'admin-key-for-test'

before(async () => {
  ch = createClickHouse({ embeddedPath: join(dir, 'ch') })
  await ch.client.command({ query: 'CREATE TABLE t (a UInt32, s String) ENGINE = MergeTree ORDER BY a' })
  await ch.client.command({ query: "INSERT INTO t VALUES (1, 'x'), (2, 'y;z')" })
  const app = express()
  app.use(clickhouseHttpRouter({ ch, store, logger: pino({ level: 'silent' }), adminKey: admin }))
  server = await new Promise<Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/clickhouse/`
})
after(async () => {
  await new Promise<void>((r) => server.close(() => r()))
  await ch.close()
  rmSync(dir, { recursive: true, force: true })
})

const q = (sql: string, key: string | null = team, init: RequestInit = {}) =>
  fetch(`${base}?query=${encodeURIComponent(sql)}`, { ...init, headers: { ...(key ? { 'X-ClickHouse-Key': key } : {}), ...(init.headers ?? {}) } })

test('a key is required; brand keys are refused; team and admin keys are accepted', async () => {
  assert.equal((await q('SELECT 1', null)).status, 401)
  const r = await q('SELECT 1', brand)
  assert.equal(r.status, 403)
  assert.match(await r.text(), /brand tenant/)
  assert.equal(await (await q('SELECT 1', team)).text(), '1\n')
  assert.equal(await (await q('SELECT 1', admin)).text(), '1\n')
  const basic = await fetch(base, { method: 'POST', body: 'SELECT 2', headers: { authorization: 'Basic ' + Buffer.from(`default:${team}`).toString('base64') } })
  assert.equal(await basic.text(), '2\n', 'Basic auth password, query in the POST body (what ClickHouse clients send)')
})

test('FORMAT is honoured; the default is TabSeparated', async () => {
  assert.equal(await (await q('SELECT a, s FROM t ORDER BY a')).text(), '1\tx\n2\ty;z\n')
  assert.equal(await (await q('SELECT a FROM t ORDER BY a FORMAT JSONEachRow')).text(), '{"a":1}\n{"a":2}\n')
  assert.equal(await (await q('SELECT count() FROM t FORMAT CSVWithNames;')).text(), '"count()"\n2\n')
})

test('writes, second statements, INTO OUTFILE and table functions are refused', async () => {
  for (const sql of ['INSERT INTO t VALUES (3, \'w\')', 'SELECT 1; DROP TABLE t', `SELECT 1 INTO OUTFILE '${join(dir, 'out.txt')}'`, "SELECT * FROM file('/etc/hostname', 'LineAsString')", 'ALTER TABLE t DELETE WHERE 1']) {
    const r = await q(sql)
    assert.equal(r.status, 403, `${sql}: ${await r.text()}`)
  }
  assert.ok(!existsSync(join(dir, 'out.txt')))
  assert.equal(await (await q("SELECT s FROM t WHERE s = 'y;z'")).text(), 'y;z\n', 'a semicolon inside a string literal is fine')
})

test('read-only is per query: the job sharing the embedded session can still write afterwards', async () => {
  await q('SELECT count() FROM t')
  await q('INSERT INTO t VALUES (3, \'w\')')
  await ch.client.command({ query: "INSERT INTO t VALUES (4, 'v')" })
  const rs = await ch.client.query({ query: 'SELECT count() AS n FROM t', format: 'JSONEachRow' })
  assert.equal(Number((await rs.json<{ n: number | string }>())[0].n), 3, 'the refused INSERT wrote nothing; the INSERT of the job went through')
})

test('skeleton blanks literals and comments', () => {
  assert.equal(skeleton("SELECT 'a;b' -- x;\n, \"c;d\" /* ; */"), "SELECT ''  , x  ")
})
