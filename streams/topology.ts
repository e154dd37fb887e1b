// A typed way to write a topology: source → operators → sinks, with side outputs.
//
//   const t = new Topology('hashtag-counts')
//   const posts = t.from(source).filter('posts', isPost)
//   const counts = posts.flatMap('hashtags', explode).keyBy((h) => h.tag)
//     .window(tumbling(60_000)).aggregate('count-1m', count(), { allowedLatenessMs: 30_000 })
//   counts.to(fileSink)
//   counts.side(LATE).to(lateSink)
//
// The builder only records the graph; streams/engine.ts executes it and streams/runner.ts drives it.
import { TrendwireError } from './errors.ts'
import {
  FilterOperator, FlatMapOperator, KeyedProcessOperator, MapOperator, TableJoinOperator, TableOperator,
  type JoinOptions, type KeyedProcessFunction, type KeyedStateOptionsInput,
} from './operators.ts'
import type { Collector, EventTime, Operator, Sink, Source } from './types.ts'
import { windowOperator, type AggregateFunction, type WindowOptions, type WindowResult, type WindowSpec } from './windows.ts'
import type { WatermarkOptions } from './watermarks.ts'

export interface Node {
  readonly id: number
  readonly name: string
  /** null for the source node */
  readonly op: Operator<unknown, unknown> | null
  readonly sink: Sink<unknown> | null
  readonly children: Node[]
  readonly sides: Map<string, Node[]>
}

export interface SourceSpec<T> {
  source: Source<T>
  watermarks: WatermarkOptions
}

export class Topology {
  readonly nodes: Node[] = []
  readonly sinks: Sink<unknown>[] = []
  private names = new Set<string>()
  sourceSpec: SourceSpec<unknown> | null = null
  root: Node | null = null

  constructor(readonly name: string) {}

  from<T>(source: Source<T>, watermarks: Partial<WatermarkOptions> = {}): Stream<T> {
    if (this.root) throw new TrendwireError('CONFIG_INVALID', `topology "${this.name}": only one source per topology`)
    this.sourceSpec = {
      source: source as Source<unknown>,
      watermarks: { outOfOrdernessMs: watermarks.outOfOrdernessMs ?? 5_000, idleTimeoutMs: watermarks.idleTimeoutMs ?? 0 },
    }
    this.root = this.addNode(`source:${source.name}`, null, null)
    return new Stream<T>(this, this.root, null)
  }

  /** @internal */
  addNode(name: string, op: Operator<unknown, unknown> | null, sink: Sink<unknown> | null): Node {
    if (this.names.has(name)) {
      throw new TrendwireError('CONFIG_INVALID', `topology "${this.name}": two operators are named "${name}"; names key the checkpointed state, so they must be unique`)
    }
    this.names.add(name)
    const node: Node = { id: this.nodes.length, name, op, sink, children: [], sides: new Map() }
    this.nodes.push(node)
    if (sink) this.sinks.push(sink)
    return node
  }

  operator(name: string): Operator<unknown, unknown> | undefined {
    return this.nodes.find((n) => n.name === name)?.op ?? undefined
  }
}

/** The output of one node (its main output, or one of its side outputs). */
export class Stream<T> {
  constructor(readonly topology: Topology, readonly node: Node, readonly tag: string | null) {}

  private attach(n: Node): void {
    if (this.tag === null) this.node.children.push(n)
    else {
      let list = this.node.sides.get(this.tag)
      if (!list) this.node.sides.set(this.tag, (list = []))
      list.push(n)
    }
  }

  /** Adds any operator. */
  process<O>(op: Operator<T, O>): Stream<O> {
    const n = this.topology.addNode(op.name, op as Operator<unknown, unknown>, null)
    this.attach(n)
    return new Stream<O>(this.topology, n, null)
  }

  map<O>(name: string, fn: (v: T, t: EventTime) => O): Stream<O> {
    return this.process(new MapOperator(name, fn))
  }

  filter<S extends T>(name: string, pred: (v: T, t: EventTime) => v is S): Stream<S>
  filter(name: string, pred: (v: T, t: EventTime) => boolean): Stream<T>
  filter(name: string, pred: (v: T, t: EventTime) => boolean): Stream<T> {
    return this.process(new FilterOperator(name, pred))
  }

  /** Emit zero or more records per input through the collector (keeps the hot loop closure-free). */
  flatMap<O>(name: string, fn: (v: T, t: EventTime, out: Collector<O>) => void): Stream<O> {
    return this.process(new FlatMapOperator(name, fn))
  }

  keyBy<K>(keyOf: (v: T) => K): KeyedStream<T, K> {
    return new KeyedStream(this, keyOf)
  }

  /** A side output of the operator that produced this stream, e.g. LATE or UNMATCHED. */
  side<S>(tag: string): Stream<S> {
    return new Stream<S>(this.topology, this.node, tag)
  }

  /** Send this stream to a sink. One sink may be fed by several streams (e.g. every LATE output). */
  to(sink: Sink<T>): this {
    const existing = this.topology.nodes.find((nd) => nd.sink === sink)
    this.attach(existing ?? this.topology.addNode(`sink:${sink.name}`, null, sink as Sink<unknown>))
    return this
  }

  /** Keep the latest record per key as a dimension table for joins. */
  asTable<K>(name: string, keyOf: (v: T) => K, state: KeyedStateOptionsInput = {}): Table<K, T> {
    const op = new TableOperator<K, T>(name, keyOf, state)
    this.process(op)
    return new Table(op)
  }

  /**
   * Join each record with the table's current row for its key. Declare the table before the join
   * so that, within a batch, the table is updated first.
   */
  join<K, D, O>(name: string, table: Table<K, D>, keyOf: (v: T) => K, joiner: (v: T, row: D | undefined, t: EventTime) => O, options: JoinOptions = {}): Stream<O> {
    return this.process(new TableJoinOperator(name, table.op, keyOf, joiner, options))
  }
}

export class Table<K, V> {
  constructor(readonly op: TableOperator<K, V>) {}
}

export class KeyedStream<T, K> {
  constructor(private readonly stream: Stream<T>, private readonly keyOf: (v: T) => K) {}

  window(spec: WindowSpec): WindowedStream<T, K> {
    return new WindowedStream(this.stream, this.keyOf, spec)
  }

  process<S, O>(name: string, fn: KeyedProcessFunction<K, T, S, O>, state: KeyedStateOptionsInput = {}): Stream<O> {
    return this.stream.process(new KeyedProcessOperator(name, this.keyOf, fn, state))
  }
}

export class WindowedStream<T, K> {
  constructor(private readonly stream: Stream<T>, private readonly keyOf: (v: T) => K, private readonly spec: WindowSpec) {}

  aggregate<A, R>(name: string, agg: AggregateFunction<T, A, R>, options: WindowOptions = {}): Stream<WindowResult<K, R>> {
    return this.stream.process(windowOperator(name, this.spec, this.keyOf, agg, options))
  }
}
