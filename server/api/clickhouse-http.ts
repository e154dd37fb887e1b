// A read-only ClickHouse-compatible HTTP endpoint over the job's ClickHouse (embedded chDB by
// default), so an analyst's ClickHouse client or Grafana can query the embedded data.
//
//   GET  /clickhouse/?query=SELECT…            POST /clickhouse/  (query in the body, or ?query= + body)
//   FORMAT in the query is honoured (default TabSeparated, as ClickHouse does), and the
//   `default_format=` parameter. Point a client at http://HOST:PORT/clickhouse (clickhouse-js:
//   `url`, with the key as password; Grafana: HTTP path /clickhouse).
//
// Access: the admin key or an API key of an analyst team (tenant kind "team"), sent as
// X-ClickHouse-Key, Authorization: Bearer, Basic auth password (what ClickHouse clients send), or
// ?password= / ?key=. Brand tenants are refused: the tables hold every brand's data.
// Read-only: one statement, a query (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS), not INTO
// OUTFILE, run with a query-level `SETTINGS readonly = 1`, so ClickHouse itself refuses writes,
// settings changes and table functions (file(), url() …). Query level, not session level: embedded
// chDB has one session per process (chdb/connection turns clickhouse_settings into SET statements),
// and a session-wide readonly would stop the job's own sinks. A query with its own SETTINGS clause
// is refused by ClickHouse (a second SETTINGS clause); say what you need in the issue tracker.
// Errors come back as ClickHouse's do: a status code and the error text, with X-ClickHouse-Exception-Code.
import express, { Router, type Request, type Response } from 'express'
import { timingSafeEqual } from 'node:crypto'
import type { Logger } from 'pino'
import type { DataFormat } from '@clickhouse/client'
import type { ClickHouse } from '../../sinks/clickhouse/index.ts'
import type { TenantStore } from './store.ts'

export interface ClickHouseHttpOptions {
  ch: ClickHouse
  store: TenantStore
  logger: Logger
  /** the admin key (also accepted) */
  adminKey?: string
  /** longest query text accepted */
  maxQueryBytes?: number
  path?: string
}

const READ_STATEMENT = /^\s*(\(?\s*)*(select|with|show|describe|desc|explain|exists)\b/i

/** The key a ClickHouse client presents, in whichever way it presents it. */
function presented(req: Request): string | null {
  const h = req.headers
  const direct = h['x-clickhouse-key'] ?? h['x-api-key']
  if (typeof direct === 'string' && direct) return direct
  const auth = h.authorization
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim()
  if (auth?.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8')
    const i = decoded.indexOf(':')
    return i >= 0 ? decoded.slice(i + 1) : null
  }
  const q = req.query.password ?? req.query.key
  return typeof q === 'string' && q ? q : null
}

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * The query with comments removed and string literals and quoted identifiers blanked, so that what
 * is left can be checked for statement separators and clauses without being fooled by quotes.
 */
export function skeleton(sql: string): string {
  let out = ''
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]
    const d = sql[i + 1]
    if (c === '-' && d === '-') { while (i < sql.length && sql[i] !== '\n') i++; out += ' '; continue }
    if (c === '#' && d === '!') { while (i < sql.length && sql[i] !== '\n') i++; out += ' '; continue }
    if (c === '/' && d === '*') { const e = sql.indexOf('*/', i + 2); i = e < 0 ? sql.length : e + 1; out += ' '; continue }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1
      for (; j < sql.length; j++) {
        if (sql[j] === '\\') { j++; continue }
        if (sql[j] === c) { if (sql[j + 1] === c) { j++; continue } break }
      }
      out += c === "'" ? "''" : 'x'
      i = j
      continue
    }
    out += c
  }
  return out
}

export function clickhouseHttpRouter(o: ClickHouseHttpOptions): Router {
  const router = Router()
  const maxBytes = o.maxQueryBytes ?? 256 * 1024
  const base = o.path ?? '/clickhouse'
  const fail = (res: Response, status: number, code: number, msg: string) => {
    res.status(status).set('X-ClickHouse-Exception-Code', String(code)).type('text/plain').send(`Code: ${code}. DB::Exception: ${msg}\n`)
  }
  const handler = async (req: Request, res: Response) => {
    const key = presented(req)
    const adminKey = o.adminKey ?? process.env.TRENDWIRE_ADMIN_KEY
    const principal = key ? o.store.verifyKey(key) : null
    const allowed = key !== null && ((adminKey !== undefined && sameKey(key, adminKey)) || principal?.tenant.kind === 'team')
    if (!key) return fail(res, 401, 516, 'an API key is required (X-ClickHouse-Key, Bearer, or the password of Basic auth)')
    if (!allowed) return fail(res, 403, 497, principal ? 'this key belongs to a brand tenant; the SQL endpoint is for analyst teams' : 'unknown or revoked API key')
    const fromQuery = typeof req.query.query === 'string' ? req.query.query : ''
    const body = typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString('utf8') : ''
    const sql = (fromQuery && body ? `${fromQuery}\n${body}` : fromQuery || body).trim()
    if (!sql) return fail(res, 400, 62, 'empty query: pass ?query= or a request body')
    if (Buffer.byteLength(sql) > maxBytes) return fail(res, 413, 62, `query longer than ${maxBytes} bytes`)
    const bare = skeleton(sql).replace(/;\s*$/, '')
    if (!READ_STATEMENT.test(bare)) return fail(res, 403, 164, 'read-only endpoint: only SELECT, WITH, SHOW, DESCRIBE, EXPLAIN and EXISTS are allowed')
    if (bare.includes(';')) return fail(res, 403, 164, 'read-only endpoint: one statement per request')
    if (/\binto\s+outfile\b/i.test(bare)) return fail(res, 403, 164, 'read-only endpoint: INTO OUTFILE is not allowed')
    // default_format is the one setting passed through: chdb maps it to an option, a server to a URL parameter
    // (chDB's own default output format is CSV; ClickHouse's HTTP interface answers TabSeparated)
    const settings = { default_format: (typeof req.query.default_format === 'string' ? req.query.default_format : 'TabSeparated') as DataFormat }
    try {
      const r = await o.ch.client.exec({ query: `${sql.trim().replace(/;\s*$/, '')}\nSETTINGS readonly = 1`, clickhouse_settings: settings })
      res.status(200).type('text/plain; charset=utf-8')
      for await (const chunk of r.stream) res.write(chunk)
      res.end()
    } catch (err) {
      const e = err as { code?: string | number; message?: string }
      const code = Number(e.code) || 0
      o.logger.debug({ err }, 'clickhouse http query failed')
      if (!res.headersSent) fail(res, code === 164 ? 403 : 400, code, (e.message ?? String(err)).replace(/^\s*Code: \d+\. DB::Exception: /, '').trim())
      else res.end()
    }
  }
  const text = express.text({ type: () => true, limit: maxBytes })
  router.get([base, `${base}/`], handler)
  router.post([base, `${base}/`], text, handler)
  return router
}
