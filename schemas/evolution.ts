// The schema evolution rule, as a check between two versions of a schema.
//
// Rule: records written with either version must be readable with the other (Confluent's FULL
// compatibility), because producers and the engine are upgraded at different times and Kafka keeps
// old records. Concretely:
//   - a new field must have a default (new readers fill it in for old records);
//   - a removed field must have had a default (old readers fill it in for new records);
//   - a field keeps its type (a promotion such as int -> long is readable one way only);
//   - an enum or a union never gains a symbol or branch (old readers would fail on it) nor loses one;
//   - names of records, enums and fixed types stay the same.
// Fields added to the end as ["null", T] with default null are the usual way to grow a schema.
// Beyond these structural rules, avsc must be able to build a resolver both ways (the Avro spec's own
// "schema resolution"), which catches anything the rules above miss.
import avro from 'avsc'
import { parseAvro } from './registry.ts'

export interface EvolutionViolation {
  /** Where, e.g. "Engagement.commentText". */
  path: string
  message: string
}

type T = avro.Type

function underlying(t: T): T {
  return t.typeName.startsWith('logical') ? (t as avro.types.LogicalType).underlyingType : t
}

function kindOf(t: T): string {
  const n = t.typeName
  return n.startsWith('union') ? 'union' : n === 'error' ? 'record' : n
}

function branchKey(t: T): string {
  const u = underlying(t)
  return u.name ?? kindOf(u)
}

/** Violations of the evolution rule going from `older` to `newer`; empty when the change is allowed. */
export function checkEvolution(older: string | object | T, newer: string | object | T): EvolutionViolation[] {
  const o = avro.Type.isType(older) ? (older as T) : parseAvro(older as string | object)
  const n = avro.Type.isType(newer) ? (newer as T) : parseAvro(newer as string | object)
  const out: EvolutionViolation[] = []
  compare(o, n, shortName(o), out, new Set())
  for (const [reader, writer, dir] of [[n, o, 'the new schema cannot read records written with the old'], [o, n, 'the old schema cannot read records written with the new']] as const) {
    try {
      reader.createResolver(writer)
    } catch (e) {
      out.push({ path: shortName(o), message: `${dir}: ${(e as Error).message}` })
    }
  }
  return out
}

function shortName(t: T): string {
  const name = underlying(t).name
  return name ? name.slice(name.lastIndexOf('.') + 1) : kindOf(underlying(t))
}

function compare(older: T, newer: T, path: string, out: EvolutionViolation[], seen: Set<string>): void {
  const o = underlying(older)
  const n = underlying(newer)
  const ko = kindOf(o)
  const kn = kindOf(n)
  if (ko !== kn) { out.push({ path, message: `type changed from ${ko} to ${kn}` }); return }
  if (o.name !== n.name) out.push({ path, message: `renamed from ${o.name} to ${n.name}` })
  switch (ko) {
    case 'record': {
      const key = `${o.name}|${n.name}`
      if (seen.has(key)) return // recursive schema: already compared
      seen.add(key)
      const ofields = (o as avro.types.RecordType).fields
      const nfields = (n as avro.types.RecordType).fields
      for (const f of nfields) {
        const before = ofields.find((x) => x.name === f.name)
        if (!before) {
          if (f.defaultValue() === undefined) out.push({ path: `${path}.${f.name}`, message: 'new field without a default: old records cannot be read with the new schema' })
          continue
        }
        compare(before.type, f.type, `${path}.${f.name}`, out, seen)
      }
      for (const f of ofields) {
        if (!nfields.some((x) => x.name === f.name) && f.defaultValue() === undefined) {
          out.push({ path: `${path}.${f.name}`, message: 'removed field had no default: new records cannot be read with the old schema' })
        }
      }
      return
    }
    case 'enum': {
      const os = (o as avro.types.EnumType).symbols
      const ns = (n as avro.types.EnumType).symbols
      const added = ns.filter((s) => !os.includes(s))
      const removed = os.filter((s) => !ns.includes(s))
      if (added.length) out.push({ path, message: `enum ${o.name} gained symbol(s) ${added.join(', ')}: old readers fail on them` })
      if (removed.length) out.push({ path, message: `enum ${o.name} lost symbol(s) ${removed.join(', ')}: new readers fail on old records` })
      return
    }
    case 'union': {
      const ob = (o as avro.types.WrappedUnionType).types
      const nb = (n as avro.types.WrappedUnionType).types
      for (const b of nb) {
        const before = ob.find((x) => branchKey(x) === branchKey(b))
        if (!before) out.push({ path, message: `union gained branch ${branchKey(b)}: old readers fail on it` })
        else compare(before, b, path, out, seen)
      }
      for (const b of ob) {
        if (!nb.some((x) => branchKey(x) === branchKey(b))) out.push({ path, message: `union lost branch ${branchKey(b)}: new readers fail on old records` })
      }
      return
    }
    case 'array':
      compare((o as avro.types.ArrayType).itemsType, (n as avro.types.ArrayType).itemsType, `${path}[]`, out, seen)
      return
    case 'map':
      compare((o as avro.types.MapType).valuesType, (n as avro.types.MapType).valuesType, `${path}{}`, out, seen)
      return
    case 'fixed':
      if ((o as avro.types.FixedType).size !== (n as avro.types.FixedType).size) out.push({ path, message: 'fixed size changed' })
      return
    default:
      return // same primitive
  }
}
