// Kafka source on node-rdkafka (librdkafka bindings): the fast path. node-rdkafka is an optional
// dependency, loaded with a dynamic import (index.ts); the few parts of its API used here are typed
// locally so the project typechecks where it is not installed.
//
// Fetching: a loop calls consumer.consume(n) (non-flowing mode: librdkafka fills an array on a libuv
// worker thread, so JavaScript sees one callback per batch, never one per message) and pushes one
// chunk per partition run into the FetchBuffer. librdkafka prefetches on its own threads into a queue
// bounded by queued.max.messages.kbytes; above our bound we pause the partitions (librdkafka then
// drops its prefetched messages of those partitions and refetches from the consumed position on
// resume) and keep calling consume() so rebalance callbacks and max.poll.interval.ms are served.
//
// Rebalances: with a rebalance_cb, librdkafka leaves the group's rejoin waiting until the application
// calls unassign() (eager protocol), so on REVOKE we run beforeRevoke (the runner's checkpoint and
// commit) first and unassign after it resolves. On ASSIGN we assign() with explicit offsets where the
// checkpoint (or the previous generation) says where to continue; without an offset librdkafka
// starts at the committed offset, or auto.offset.reset.
import type { EventEmitter } from 'node:events'
import { KafkaSourceBase, type TopicPartitions } from './base.ts'
import { partitionId, type KafkaMessage, type KafkaSourceConfig } from './options.ts'

const ERR__ASSIGN_PARTITIONS = -175
const ERR__REVOKE_PARTITIONS = -174
const ERR__NO_OFFSET = -168

export interface RdkafkaError extends Error {
  code: number
  isFatal?: boolean
}

export interface RdkafkaMessage extends KafkaMessage {
  readonly value: Buffer | null
  readonly offset: number
  readonly timestamp?: number
  readonly size: number
  readonly key?: Buffer | string | null
}

interface TopicPartitionOffset {
  topic: string
  partition: number
  offset?: number
}

export interface RdkafkaConsumer extends EventEmitter {
  connect(opts: { timeout?: number }, cb: (err: RdkafkaError | null) => void): void
  disconnect(cb: (err?: RdkafkaError | null) => void): void
  subscribe(topics: string[]): void
  consume(n: number, cb: (err: RdkafkaError | null, messages: RdkafkaMessage[]) => void): void
  setDefaultConsumeTimeout(ms: number): void
  assign(assignments: TopicPartitionOffset[]): void
  unassign(): void
  pause(tps: { topic: string; partition: number }[]): void
  resume(tps: { topic: string; partition: number }[]): void
  commit(tps: TopicPartitionOffset[]): void
  isConnected(): boolean
}

export interface RdkafkaProducer extends EventEmitter {
  connect(opts: { timeout?: number }, cb: (err: RdkafkaError | null) => void): void
  disconnect(cb: (err?: RdkafkaError | null) => void): void
  produce(topic: string, partition: number | null, value: Buffer, key?: string | Buffer | null, timestamp?: number | null): void
  poll(): void
  setPollInterval(ms: number): void
  flush(timeoutMs: number, cb: (err?: RdkafkaError | null) => void): void
}

export interface RdkafkaModule {
  KafkaConsumer: new (conf: Record<string, unknown>, topicConf: Record<string, unknown>) => RdkafkaConsumer
  Producer: new (conf: Record<string, unknown>, topicConf?: Record<string, unknown>) => RdkafkaProducer
  librdkafkaVersion: string
}

/** Messages per consume() call: one crossing from the worker thread per this many. */
const CONSUME_BATCH = 1000

export class RdkafkaSource<T> extends KafkaSourceBase<T> {
  private readonly consumer: RdkafkaConsumer
  private loopDone: Promise<void> = Promise.resolve()
  private joined: { resolve: () => void; reject: (e: unknown) => void } | null = null
  private readonly batch: number

  constructor(cfg: KafkaSourceConfig, lib: RdkafkaModule) {
    super(cfg)
    this.batch = Math.max(1, Math.min(CONSUME_BATCH, cfg.maxQueuedMessages))
    const conf: Record<string, unknown> = {
      ...rdkafkaClientConfig(cfg),
      'group.id': cfg.groupId,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'session.timeout.ms': cfg.sessionTimeoutMs,
      'heartbeat.interval.ms': cfg.heartbeatIntervalMs,
      // librdkafka sends max.poll.interval.ms as the JoinGroup rebalance timeout.
      'max.poll.interval.ms': Math.max(cfg.rebalanceTimeoutMs, cfg.sessionTimeoutMs),
      'fetch.wait.max.ms': cfg.fetchMaxWaitMs,
      'fetch.max.bytes': cfg.fetchMaxBytes,
      'max.partition.fetch.bytes': cfg.fetchMaxBytesPerPartition,
      // librdkafka's own prefetch queue, in front of ours: bounded in bytes about like ours. (Not
      // queued.min.messages: above it librdkafka 2.0 backs a partition's fetches off for a whole
      // second, which with a small value throttles the consumer to one batch per second.)
      'queued.max.messages.kbytes': Math.max(1024, Math.min(65536, Math.ceil(cfg.maxQueuedBytes / 1024))),
      'rebalance_cb': (err: RdkafkaError, assignment: TopicPartitionOffset[]) => this.onRebalance(err, assignment),
      'offset_commit_cb': true,
      ...cfg.rdkafka,
    }
    this.consumer = new lib.KafkaConsumer(conf, { 'auto.offset.reset': cfg.fromBeginning ? 'earliest' : 'latest' })
    this.consumer.setDefaultConsumeTimeout(cfg.pollTimeoutMs > 0 ? cfg.pollTimeoutMs : 100)
    this.consumer.on('event.error', (err: RdkafkaError) => {
      if (err.isFatal) this.fail(err)
      else this.log('warn', `librdkafka: ${err.message}`, { code: err.code })
    })
    this.consumer.on('event.log', (e: { severity: number; fac: string; message: string }) => {
      this.log(e.severity <= 3 ? 'error' : e.severity <= 4 ? 'warn' : e.severity <= 6 ? 'info' : 'debug', `librdkafka ${e.fac}: ${e.message}`)
    })
  }

  protected async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.consumer.connect({ timeout: this.cfg.requestTimeoutMs }, (err) => (err ? reject(err) : resolve()))
    })
    // Like the kafkajs source, open() returns once this member has joined the group (its first
    // assignment, possibly empty), so callers see the same behaviour from both clients.
    const joined = new Promise<void>((resolve, reject) => { this.joined = { resolve, reject } })
    this.consumer.subscribe(this.cfg.topics)
    this.loopDone = this.loop()
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        joined,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no group assignment within ${this.cfg.rebalanceTimeoutMs + this.cfg.sessionTimeoutMs} ms`)), this.cfg.rebalanceTimeoutMs + this.cfg.sessionTimeoutMs)
        }),
      ])
    } finally {
      clearTimeout(timer)
      this.joined = null
    }
    if (this.failure) throw this.failure
  }

  private consumeOnce(n: number): Promise<RdkafkaMessage[]> {
    return new Promise((resolve, reject) => {
      this.consumer.consume(n, (err, messages) => (err ? reject(err) : resolve(messages)))
    })
  }

  private async loop(): Promise<void> {
    let errors = 0
    while (!this.closed && !this.failure) {
      let messages: RdkafkaMessage[]
      try {
        messages = await this.consumeOnce(this.batch)
        errors = 0
      } catch (e) {
        if (this.closed) break
        const err = e as RdkafkaError
        if (err.isFatal) {
          this.fail(err)
          break
        }
        this.log('warn', `librdkafka consume: ${err.message}`, { code: err.code })
        // Back off on repeated errors instead of spinning; librdkafka recovers on its own.
        errors++
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * errors)))
        continue
      }
      if (messages.length > 0) this.deliver(messages)
    }
  }

  /** Splits a consume() result into runs of one partition, pushed as chunks (no copy when it is one run). */
  private deliver(messages: RdkafkaMessage[]): void {
    const n = messages.length
    let i = 0
    while (i < n) {
      const first = messages[i]
      let bytes = first.size
      let j = i + 1
      while (j < n && messages[j].partition === first.partition && messages[j].topic === first.topic) {
        bytes += messages[j].size
        j++
      }
      const run = i === 0 && j === n ? messages : messages.slice(i, j)
      // Not ours (any more): librdkafka refetches from the consumed position for the next owner.
      this.buffer.push(partitionId(first.topic, first.partition), { messages: run, bytes })
      i = j
    }
    this.applyFlow()
  }

  private onRebalance(err: RdkafkaError | undefined, assignment: TopicPartitionOffset[]): void {
    const code = err?.code
    if (code === ERR__ASSIGN_PARTITIONS) {
      // librdkafka does not fetch (and the group waits) until assign() is called, so the start
      // positions can be looked up first, even asynchronously.
      const ids = assignment.map((tp) => partitionId(tp.topic, tp.partition))
      this.startPositions(ids).then(
        (starts) => {
          if (!starts) return
          if (this.closed) { this.unassignAll([]); return }
          try {
            this.consumer.assign(assignment.map((tp) => {
              const pos = starts.get(partitionId(tp.topic, tp.partition))
              return pos === undefined ? { topic: tp.topic, partition: tp.partition } : { topic: tp.topic, partition: tp.partition, offset: Number(pos) }
            }))
          } catch (e) {
            this.fail(e)
            return
          }
          this.assigned(starts)
          this.joined?.resolve()
        },
        (e) => this.fail(e),
      )
      return
    }
    const ids = this.buffer.partitions()
    if (code !== ERR__REVOKE_PARTITIONS) this.log('error', `rebalance error: ${err?.message ?? 'unknown'}; giving up the assignment`)
    if (this.closed || code !== ERR__REVOKE_PARTITIONS) {
      this.buffer.revoke(ids)
      this.unassignAll(ids)
      return
    }
    void this.revoking(ids).finally(() => this.unassignAll(ids))
  }

  private unassignAll(ids: string[]): void {
    this.forgetPaused(ids)
    try {
      this.consumer.unassign()
    } catch (e) {
      this.log('warn', `unassign: ${e instanceof Error ? e.message : String(e)}`)
    }
  }

  protected setFetching(paused: boolean, partitions: TopicPartitions[]): void {
    const tps: { topic: string; partition: number }[] = []
    for (const { topic, partitions: ps } of partitions) for (const p of ps) tps.push({ topic, partition: p })
    try {
      if (paused) this.consumer.pause(tps)
      else this.consumer.resume(tps)
    } catch (e) {
      this.log('warn', `${paused ? 'pause' : 'resume'}: ${e instanceof Error ? e.message : String(e)}`)
    }
  }

  /** Commits asynchronously and waits for librdkafka's offset_commit_cb that reports these offsets. */
  protected commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    const want = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) }))
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); reject(new Error(`no commit result within ${this.cfg.requestTimeoutMs} ms`)) }, this.cfg.requestTimeoutMs)
      const onCommit = (err: RdkafkaError | null | undefined, tps: TopicPartitionOffset[] | undefined): void => {
        const list = tps ?? []
        const ours = want.every((w) => list.some((t) => t.topic === w.topic && t.partition === w.partition && t.offset === w.offset))
        if (!ours) return
        cleanup()
        if (err && err.code !== ERR__NO_OFFSET) reject(err)
        else resolve()
      }
      const cleanup = (): void => {
        clearTimeout(timer)
        this.consumer.removeListener('offset.commit', onCommit)
      }
      this.consumer.on('offset.commit', onCommit)
      try {
        this.consumer.commit(want)
      } catch (e) {
        cleanup()
        reject(e)
      }
    })
  }

  protected async stop(): Promise<void> {
    this.joined?.reject(new Error('closed'))
    await this.loopDone
    await new Promise<void>((resolve) => this.consumer.disconnect(() => resolve()))
  }
}

/** librdkafka properties shared by the source and the producer command. */
export function rdkafkaClientConfig(cfg: Pick<KafkaSourceConfig, 'brokers' | 'clientId' | 'ssl' | 'sasl' | 'requestTimeoutMs' | 'connectionTimeoutMs'>): Record<string, unknown> {
  const conf: Record<string, unknown> = {
    'metadata.broker.list': cfg.brokers.join(','),
    'client.id': cfg.clientId,
    'socket.timeout.ms': cfg.requestTimeoutMs,
    'socket.connection.setup.timeout.ms': cfg.connectionTimeoutMs,
    'event_cb': true,
  }
  const ssl = cfg.ssl !== false
  conf['security.protocol'] = ssl ? (cfg.sasl ? 'sasl_ssl' : 'ssl') : cfg.sasl ? 'sasl_plaintext' : 'plaintext'
  if (typeof cfg.ssl === 'object') {
    if (cfg.ssl.caFile) conf['ssl.ca.location'] = cfg.ssl.caFile
    if (cfg.ssl.certFile) conf['ssl.certificate.location'] = cfg.ssl.certFile
    if (cfg.ssl.keyFile) conf['ssl.key.location'] = cfg.ssl.keyFile
    if (cfg.ssl.keyPassword) conf['ssl.key.password'] = cfg.ssl.keyPassword
    conf['enable.ssl.certificate.verification'] = cfg.ssl.rejectUnauthorized
  }
  if (cfg.sasl) {
    conf['sasl.mechanisms'] = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' }[cfg.sasl.mechanism]
    conf['sasl.username'] = cfg.sasl.username
    conf['sasl.password'] = cfg.sasl.password
  }
  return conf
}
