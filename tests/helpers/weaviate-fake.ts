// A FAKE Weaviate, for tests only: no Weaviate server can run on this machine (no Docker, no binary,
// no network beyond the npm registry), so tests/sinks/weaviate.test.ts runs WeaviateVectorIndex
// against this small express server instead. tests/sinks/weaviate.live.test.ts runs the same checks
// against a real Weaviate when WEAVIATE_URL is set.
//
// It implements exactly the calls weaviate-ts-client 2.x makes for sinks/search/weaviate.ts, as
// Weaviate documents them (REST: https://weaviate.io/developers/weaviate/api/rest; GraphQL Get with
// nearVector, where, limit and _additional { id distance }), and nothing else:
//   GET    /v1/meta                     { hostname, version, modules } (the client asks on construction)
//   GET    /v1/.well-known/ready|live   200
//   GET    /v1/schema                   { classes: [...] }
//   POST   /v1/schema                   creates a class; 422 "class name X already exists" if it does
//   DELETE /v1/schema/{class}           drops a class and its objects (tests clean up with it)
//   POST   /v1/batch/objects            { objects: [{ class, id, properties, vector }] } → one result per
//                                       object ({ result: { status: 'SUCCESS' } } or { result: { errors:
//                                       { error: [{ message }] } } }); an existing id is replaced (upsert)
//   POST   /v1/graphql                  { query } → { data: { Get: { Class: [...] } } } or { errors }
// Vector search is brute force with Weaviate's cosine distance (1 − cosine similarity); where filters
// support And, Or, Equal, NotEqual, GreaterThan(Equal), LessThan(Equal) on text, number, int, date and
// boolean values. Fault injection: failNext() answers the next n matching requests with an HTTP error.
import express, { type Request, type Response } from 'express'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'

interface WProperty { name: string; dataType: string[]; tokenization?: string; [k: string]: unknown }
interface WClass { class: string; vectorizer?: string; properties?: WProperty[]; vectorIndexConfig?: { distance?: string }; [k: string]: unknown }
interface WObject { id: string; properties: Record<string, unknown>; vector: number[] }

export interface Injected { status: number; path: string; count: number }

export class WeaviateFake {
  readonly classes = new Map<string, WClass>()
  readonly objects = new Map<string, Map<string, WObject>>()
  /** Requests seen, as "METHOD /path". */
  readonly requests: string[] = []
  private faults: Injected[] = []
  private server: Server | null = null
  url = ''

  static async start(): Promise<WeaviateFake> {
    const f = new WeaviateFake()
    await f.listen()
    return f
  }

  /** Answer the next `count` requests whose path starts with `path` with HTTP `status`. */
  failNext(count: number, status = 503, path = '/v1/'): void {
    this.faults.push({ status, path, count })
  }

  count(what: string): number {
    return this.requests.filter((r) => r === what).length
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
    this.server = null
  }

  private async listen(): Promise<void> {
    const app = express()
    app.use(express.json({ limit: '64mb' }))
    app.use((req, res, next) => {
      this.requests.push(`${req.method} ${req.path}`)
      const f = this.faults.find((x) => x.count > 0 && req.path.startsWith(x.path))
      if (f) {
        f.count--
        res.status(f.status).json({ error: [{ message: `injected failure (${f.status})` }] })
        return
      }
      next()
    })
    app.get('/v1/meta', (_req, res) => { res.json({ hostname: this.url, version: '1.24.0-fake', modules: {} }) })
    app.get('/v1/.well-known/ready', (_req, res) => { res.status(200).end() })
    app.get('/v1/.well-known/live', (_req, res) => { res.status(200).end() })
    app.get('/v1/schema', (_req, res) => { res.json({ classes: [...this.classes.values()] }) })
    app.post('/v1/schema', (req, res) => this.createClass(req, res))
    app.delete('/v1/schema/:cls', (req, res) => {
      this.classes.delete(req.params.cls)
      this.objects.delete(req.params.cls)
      res.status(200).end()
    })
    app.post('/v1/batch/objects', (req, res) => this.batch(req, res))
    app.post('/v1/graphql', (req, res) => this.graphql(req, res))
    app.use((req, res) => { res.status(404).json({ error: [{ message: `fake weaviate: ${req.method} ${req.path} is not implemented` }] }) })
    await new Promise<void>((resolve) => {
      this.server = app.listen(0, '127.0.0.1', () => resolve())
    })
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`
  }

  private createClass(req: Request, res: Response): void {
    const c = req.body as WClass
    if (!c || typeof c.class !== 'string' || !/^[A-Z][_0-9A-Za-z]*$/.test(c.class)) {
      res.status(422).json({ error: [{ message: `'${String(c?.class)}' is not a valid class name` }] })
      return
    }
    if (this.classes.has(c.class)) {
      res.status(422).json({ error: [{ message: `class name "${c.class}" already exists` }] })
      return
    }
    for (const p of c.properties ?? []) {
      if (!/^[_A-Za-z][_0-9A-Za-z]*$/.test(p.name) || p.name === 'id' || p.name === '_id') {
        res.status(422).json({ error: [{ message: `'${p.name}' is not a valid property name` }] })
        return
      }
    }
    this.classes.set(c.class, c)
    this.objects.set(c.class, new Map())
    res.json(c)
  }

  private batch(req: Request, res: Response): void {
    const objs = (req.body?.objects ?? []) as Array<{ class: string; id?: string; properties?: Record<string, unknown>; vector?: number[] }>
    const out = objs.map((o) => {
      const fail = (message: string) => ({ ...o, result: { errors: { error: [{ message }] } } })
      const cls = this.classes.get(o.class)
      if (!cls) return fail(`class "${o.class}" not found in schema`)
      if (!o.id || !/^[0-9a-f-]{36}$/i.test(o.id)) return fail(`invalid id ${String(o.id)}`)
      if (!Array.isArray(o.vector) || o.vector.length === 0) return fail('no vector given and the class has no vectorizer')
      const store = this.objects.get(o.class)!
      const first = store.values().next().value as WObject | undefined
      if (first && first.vector.length !== o.vector.length) return fail(`new node has a vector with length ${o.vector.length}. Existing nodes have vectors with length ${first.vector.length}`)
      for (const k of Object.keys(o.properties ?? {})) {
        if (!(cls.properties ?? []).some((p) => p.name === k)) return fail(`no such prop with name '${k}' found in class '${o.class}' in the schema`)
      }
      store.set(o.id.toLowerCase(), { id: o.id.toLowerCase(), properties: { ...o.properties }, vector: o.vector })
      return { ...o, result: { status: 'SUCCESS' } }
    })
    res.json(out)
  }

  private graphql(req: Request, res: Response): void {
    try {
      const doc = parseGraphQL(String(req.body?.query ?? ''))
      const get = doc.fields.find((f) => f.name === 'Get')
      if (!get) throw new Error('only Get queries are implemented by the fake')
      const data: Record<string, unknown[]> = {}
      for (const q of get.selection) {
        const cls = this.classes.get(q.name)
        if (!cls) throw new Error(`Cannot query field "${q.name}" on type "GetObjectsObj".`)
        data[q.name] = this.runGet(cls, q)
      }
      res.json({ data: { Get: data } })
    } catch (err) {
      res.json({ errors: [{ message: (err as Error).message }] })
    }
  }

  private runGet(cls: WClass, q: GField): unknown[] {
    const store = this.objects.get(cls.class)!
    const near = q.args.nearVector as { vector?: number[]; distance?: number } | undefined
    const where = q.args.where as WhereNode | undefined
    const limit = typeof q.args.limit === 'number' ? q.args.limit : 10
    const types = new Map((cls.properties ?? []).map((p) => [p.name, p.dataType[0]]))
    let rows = [...store.values()].filter((o) => !where || evalWhere(where, o, types))
    let dist: Map<string, number> | null = null
    if (near?.vector) {
      dist = new Map()
      for (const o of rows) {
        if (o.vector.length !== near.vector.length) throw new Error(`vector search: shape mismatch: query ${near.vector.length}, stored ${o.vector.length}`)
        dist.set(o.id, cosineDistance(o.vector, near.vector))
      }
      if (near.distance !== undefined) rows = rows.filter((o) => dist!.get(o.id)! <= near.distance!)
      rows.sort((a, b) => dist!.get(a.id)! - dist!.get(b.id)!)
    }
    return rows.slice(0, limit).map((o) => {
      const r: Record<string, unknown> = {}
      for (const f of q.selection) {
        if (f.name === '_additional') {
          const add: Record<string, unknown> = {}
          for (const a of f.selection) {
            if (a.name === 'id') add.id = o.id
            else if (a.name === 'distance') add.distance = dist ? dist.get(o.id) : null
            else if (a.name === 'vector') add.vector = o.vector
            else throw new Error(`_additional { ${a.name} } is not implemented by the fake`)
          }
          r._additional = add
        } else {
          r[f.name] = o.properties[f.name] ?? null
        }
      }
      return r
    })
  }
}

function cosineDistance(a: number[], b: number[]): number {
  let dot = 0, na = 0, nb = 0
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i] }
  return 1 - dot / Math.sqrt(na * nb)
}

interface WhereNode {
  operator: string
  operands?: WhereNode[]
  path?: string[]
  [value: string]: unknown
}

function evalWhere(w: WhereNode, o: WObject, types: Map<string, string>): boolean {
  switch (w.operator) {
    case 'And': return (w.operands ?? []).every((x) => evalWhere(x, o, types))
    case 'Or': return (w.operands ?? []).some((x) => evalWhere(x, o, types))
  }
  const prop = w.path?.[0]
  if (!prop || !types.has(prop)) throw new Error(`where filter: no such prop with name '${String(prop)}'`)
  const key = Object.keys(w).find((k) => k.startsWith('value'))
  if (!key) throw new Error('where filter: value<Type> missing')
  let want = w[key]
  let have = o.properties[prop]
  if (key === 'valueDate') { want = Date.parse(String(want)); have = have === undefined || have === null ? NaN : Date.parse(String(have)) }
  if (have === undefined || have === null) return w.operator === 'NotEqual'
  switch (w.operator) {
    case 'Equal': return have === want
    case 'NotEqual': return have !== want
    case 'GreaterThan': return (have as number) > (want as number)
    case 'GreaterThanEqual': return (have as number) >= (want as number)
    case 'LessThan': return (have as number) < (want as number)
    case 'LessThanEqual': return (have as number) <= (want as number)
    default: throw new Error(`where filter: operator ${w.operator} is not implemented by the fake`)
  }
}

// --- a small GraphQL reader: selections with arguments; argument values are objects, lists,
// strings, numbers, booleans, null and enum names (operator:And). Enough for what the client sends.

interface GField { name: string; args: Record<string, unknown>; selection: GField[] }

function parseGraphQL(src: string): { fields: GField[] } {
  let i = 0
  const ws = (): void => { while (i < src.length && /[\s,]/.test(src[i])) i++ }
  const name = (): string => {
    ws()
    const m = /^[_A-Za-z][_0-9A-Za-z]*/.exec(src.slice(i))
    if (!m) throw new Error(`Syntax Error: expected a name at ${i}: ${src.slice(i, i + 20)}`)
    i += m[0].length
    return m[0]
  }
  const expect = (c: string): void => {
    ws()
    if (src[i] !== c) throw new Error(`Syntax Error: expected "${c}" at ${i}: ${src.slice(i, i + 20)}`)
    i++
  }
  const value = (): unknown => {
    ws()
    const c = src[i]
    if (c === '{') {
      i++
      const o: Record<string, unknown> = {}
      for (;;) {
        ws()
        if (src[i] === '}') { i++; return o }
        const k = name()
        expect(':')
        o[k] = value()
      }
    }
    if (c === '[') {
      i++
      const a: unknown[] = []
      for (;;) {
        ws()
        if (src[i] === ']') { i++; return a }
        a.push(value())
      }
    }
    if (c === '"') {
      let j = i + 1
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1
      const s = JSON.parse(src.slice(i, j + 1)) as string
      i = j + 1
      return s
    }
    const num = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i))
    if (num) { i += num[0].length; return Number(num[0]) }
    const n = name()
    return n === 'true' ? true : n === 'false' ? false : n === 'null' ? null : n
  }
  const selection = (): GField[] => {
    expect('{')
    const out: GField[] = []
    for (;;) {
      ws()
      if (src[i] === '}') { i++; return out }
      const f: GField = { name: name(), args: {}, selection: [] }
      ws()
      if (src[i] === '(') {
        i++
        for (;;) {
          ws()
          if (src[i] === ')') { i++; break }
          const k = name()
          expect(':')
          f.args[k] = value()
        }
      }
      ws()
      if (src[i] === '{') f.selection = selection()
      out.push(f)
    }
  }
  ws()
  if (src.startsWith('query', i)) { i += 5; ws(); if (/[_A-Za-z]/.test(src[i])) name() }
  return { fields: selection() }
}
