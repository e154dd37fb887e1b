// Kafka source on kafkajs (pure JavaScript, the default client).
//
// Fetching: consumer.run({ eachBatch }) with eachBatchAutoResolve and autoCommit off. Each batch is
// pushed into the FetchBuffer as one chunk and its offsets resolved (that only moves kafkajs's next
// fetch offset; nothing is committed). A batch that arrives while the buffer is full is neither
// queued nor resolved: the partitions are paused, and after resume kafkajs fetches it again from the
// resolved offset. So the buffer holds at most maxQueuedMessages plus one batch.
//
// Rebalances: kafkajs has no "partitions revoked" callback (its REBALANCING event is emitted
// without being awaited, right before it rejoins; tulios/kafkajs#1066). Under the eager protocol
// kafkajs implements, a member gives up all its partitions when it sends JoinGroup, and every
// JoinGroup starts with cluster.findGroupCoordinator(). The partition assigner factory is handed the
// consumer's cluster, so we wrap that one method to run beforeRevoke (the runner's checkpoint and
// commit) before the JoinGroup goes out, while the old generation is still valid for OffsetCommit.
// After every join kafkajs starts a fresh OffsetManager that would resume from the *committed*
// offsets, so on GROUP_JOIN we seek each partition to the position the checkpoint (or the previous
// generation) left it at.
import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import type { Consumer, EachBatchPayload, Kafka, KafkaConfig, LogEntry, PartitionAssigner, SASLOptions } from 'kafkajs'
import { KafkaSourceBase, type TopicPartitions } from './base.ts'
import { partitionId, type KafkaMessage, type KafkaSourceConfig } from './options.ts'
import type { Chunk } from './buffer.ts'

type KafkajsModule = typeof import('kafkajs')
type KafkaMessageOut = EachBatchPayload['batch']['messages'][number] & { topic?: string; partition?: number }

export class KafkajsSource<T> extends KafkaSourceBase<T> {
  private readonly lib: KafkajsModule
  private readonly kafka: Kafka
  private readonly consumer: Consumer
  private running = false
  private restarts = 0

  constructor(cfg: KafkaSourceConfig, lib: KafkajsModule) {
    super(cfg)
    this.lib = lib
    this.kafka = new lib.Kafka(kafkajsClientConfig(cfg, lib, (level, message, extra) => this.log(level, message, extra)))
    this.consumer = this.kafka.consumer({
      groupId: cfg.groupId,
      sessionTimeout: cfg.sessionTimeoutMs,
      rebalanceTimeout: cfg.rebalanceTimeoutMs,
      heartbeatInterval: cfg.heartbeatIntervalMs,
      maxWaitTimeInMs: cfg.fetchMaxWaitMs,
      maxBytes: cfg.fetchMaxBytes,
      maxBytesPerPartition: cfg.fetchMaxBytesPerPartition,
      allowAutoTopicCreation: false,
      partitionAssigners: [this.assigner()],
      // A crash fails the source (SOURCE_FAILED, retryable) instead of a silent restart that would
      // leave the group without beforeRevoke and resume from committed offsets behind our positions.
      retry: { retries: cfg.retries, restartOnFailure: async () => false },
    })
    const ev = this.consumer.events
    this.consumer.on(ev.GROUP_JOIN, (e) => this.onGroupJoin(e.payload.memberAssignment))
    this.consumer.on(ev.CRASH, (e) => void this.onCrash(e.payload.error))
  }

  /** Round robin, with the consumer's cluster wrapped so every JoinGroup waits for beforeRevoke. */
  private assigner(): PartitionAssigner {
    const roundRobin = this.lib.PartitionAssigners.roundRobin
    return (config) => {
      const cluster = config.cluster as unknown as { findGroupCoordinator(a: { groupId: string; coordinatorType?: number }): Promise<unknown> }
      const original = cluster.findGroupCoordinator.bind(cluster)
      cluster.findGroupCoordinator = async (args) => {
        if (args.groupId === this.cfg.groupId && (args.coordinatorType ?? 0) === 0) await this.revoking(this.buffer.partitions())
        return original(args)
      }
      return roundRobin(config)
    }
  }

  private onGroupJoin(assignment: Record<string, number[]>): void {
    const ids: string[] = []
    for (const [topic, partitions] of Object.entries(assignment)) for (const p of partitions) ids.push(partitionId(topic, p))
    // kafkajs starts fetching right after this event. When the runner is asked where partitions
    // start (an async lookup), they are paused and accept nothing until the seeks are in place.
    if (this.asksPositions) this.hold(ids)
    this.startPositions(ids).then(
      (starts) => {
        if (!starts || this.closed) return
        this.restarts = 0
        for (const [id, pos] of starts) {
          if (pos === undefined) continue
          const slash = id.lastIndexOf('/')
          this.consumer.seek({ topic: id.slice(0, slash), partition: Number(id.slice(slash + 1)), offset: pos })
        }
        this.assigned(starts)
      },
      (e) => this.fail(e),
    )
  }

  protected async start(): Promise<void> {
    await this.consumer.connect()
    await this.consumer.subscribe({ topics: this.cfg.topics, fromBeginning: this.cfg.fromBeginning })
    await this.run()
    this.running = true
    if (this.failure) throw this.failure
  }

  private run(): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload),
    })
  }

  /**
   * kafkajs has disconnected after an error it does not retry. While we own no partition nothing
   * can be lost, so the consumer is started again (a few times); otherwise the source fails and the
   * runner restarts from its checkpoint. The case seen in practice: the librdkafka mock broker
   * answers a follower's SyncGroup with INVALID_REQUEST when the leader's SyncGroup came first.
   */
  private async onCrash(error: unknown): Promise<void> {
    if (this.closed) return
    if (this.buffer.partitions().length === 0 && this.restarts < this.cfg.retries) {
      this.restarts++
      this.log('warn', `consumer crashed before it owned a partition, restarting it (${this.restarts}/${this.cfg.retries}): ${error instanceof Error ? error.message : String(error)}`)
      try {
        await this.consumer.connect()
        await this.run()
      } catch (e) {
        this.fail(e)
      }
      return
    }
    this.fail(error)
  }

  private async onBatch({ batch, resolveOffset, isStale, isRunning }: EachBatchPayload): Promise<void> {
    if (!isRunning() || isStale()) return
    const id = partitionId(batch.topic, batch.partition)
    if (!this.buffer.accepting(id)) return
    if (this.buffer.full) {
      // Not resolved: fetched again after resume.
      this.applyFlow()
      return
    }
    const msgs = batch.messages
    const n = msgs.length
    if (n === 0) return
    // The decode function gets kafkajs's own message objects; topic and partition are set on them
    // (the shape of schemas/codec.ts's InputMessage) instead of wrapping each message.
    const topic = batch.topic
    const partition = batch.partition
    let bytes = 0
    for (let i = 0; i < n; i++) {
      const m = msgs[i] as KafkaMessageOut
      m.topic = topic
      m.partition = partition
      if (m.value) bytes += m.value.length
    }
    const chunk: Chunk = { messages: msgs as unknown as KafkaMessage[], bytes }
    if (this.buffer.push(id, chunk)) resolveOffset(msgs[n - 1].offset)
    this.applyFlow()
  }

  protected setFetching(paused: boolean, partitions: TopicPartitions[]): void {
    if (!this.running && !this.buffer.partitions().length) return
    try {
      if (paused) this.consumer.pause(partitions)
      else this.consumer.resume(partitions)
    } catch (e) {
      // Only thrown before run(); the flow is applied again on assignment.
      this.log('debug', `pause/resume before run: ${e instanceof Error ? e.message : String(e)}`)
    }
  }

  protected async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    await this.consumer.commitOffsets(offsets)
  }

  protected async stop(): Promise<void> {
    this.running = false
    await this.consumer.disconnect()
  }
}

type LogFn = (level: 'error' | 'warn' | 'info' | 'debug', message: string, extra?: Record<string, unknown>) => void

/** Client config shared by the source and the producer command. */
export function kafkajsClientConfig(cfg: Pick<KafkaSourceConfig, 'brokers' | 'clientId' | 'ssl' | 'sasl' | 'retries' | 'requestTimeoutMs' | 'connectionTimeoutMs'>, lib: KafkajsModule, log: LogFn): KafkaConfig {
  const { logLevel } = lib
  const names = { [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn', [logLevel.INFO]: 'info', [logLevel.DEBUG]: 'debug', [logLevel.NOTHING]: 'error' } as const
  return {
    clientId: cfg.clientId,
    brokers: cfg.brokers,
    ssl: sslOptions(cfg.ssl),
    sasl: cfg.sasl as SASLOptions | undefined,
    retry: { retries: cfg.retries },
    requestTimeout: cfg.requestTimeoutMs,
    connectionTimeout: cfg.connectionTimeoutMs,
    // kafkajs always logs warnings and errors to us; the source decides what reaches stderr and
    // publishes everything on the diagnostics channel.
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log
      log(names[entry.level] ?? 'info', `kafkajs ${entry.namespace}: ${message}`, extra)
    },
  }
}

function sslOptions(ssl: KafkaSourceConfig['ssl']): boolean | ConnectionOptions {
  if (typeof ssl === 'boolean') return ssl
  return {
    ca: ssl.caFile ? [readFileSync(ssl.caFile, 'utf8')] : undefined,
    cert: ssl.certFile ? readFileSync(ssl.certFile, 'utf8') : undefined,
    key: ssl.keyFile ? readFileSync(ssl.keyFile, 'utf8') : undefined,
    passphrase: ssl.keyPassword,
    rejectUnauthorized: ssl.rejectUnauthorized,
  }
}
