// The Kafka-protocol mock broker for tests and local dev: starts tests/.services/kafka-mock (built
// by tests/setup/kafka.sh from tests/kafka-mock/kafka-mock.c, librdkafka's mock cluster), waits for
// its BOOTSTRAP line, and drives fault injection through its stdin command protocol, awaiting each
// acknowledgement. Synchronisation is by the helper's own output lines, never by sleeping.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'

const testsDir = join(dirname(fileURLToPath(import.meta.url)), '..')
export const KAFKA_MOCK_BIN = join(testsDir, '.services', 'kafka-mock')
const KAFKA_MOCK_SRC = join(testsDir, 'kafka-mock', 'kafka-mock.c')

/** Kafka protocol API keys, for pushErrors (https://kafka.apache.org/protocol#protocol_api_keys). */
export const ApiKey = {
  Produce: 0, Fetch: 1, ListOffsets: 2, Metadata: 3, OffsetCommit: 8, OffsetFetch: 9,
  FindCoordinator: 10, JoinGroup: 11, Heartbeat: 12, LeaveGroup: 13, SyncGroup: 14,
} as const

/** Kafka error codes used in tests (the protocol's numbers; -195 is librdkafka's "transport": the mock disconnects). */
export const KafkaErr = {
  Transport: -195, NotLeaderForPartition: 6, RequestTimedOut: 7, NotCoordinator: 16,
  CoordinatorNotAvailable: 15, RebalanceInProgress: 27, UnknownTopicOrPartition: 3,
} as const

export interface KafkaMockOptions {
  /** Number of brokers (ids 1..n). Default 3. */
  brokers?: number
  /** Topics to create before the bootstrap address is printed: name → partition count. */
  topics?: Record<string, number>
  /** librdkafka debug contexts for the mock (e.g. "mock,protocol"); logs go to stderr. */
  debug?: string
  /** How long to wait for the helper to start / to answer a command. Default 10 s. */
  timeoutMs?: number
  /** Where the helper's stderr goes. Default: ignored unless debug is set. */
  stderr?: 'inherit' | 'ignore'
}

/** Builds the helper when it is missing or older than its source (the same check as tests/setup/kafka.sh). */
export function ensureKafkaMockBuilt(): string {
  const stale = !existsSync(KAFKA_MOCK_BIN) || statSync(KAFKA_MOCK_SRC).mtimeMs > statSync(KAFKA_MOCK_BIN).mtimeMs
  if (stale) {
    const r = spawnSync('bash', [join(testsDir, 'setup', 'kafka.sh')], { stdio: 'inherit' })
    if (r.status !== 0) throw new Error(`tests/setup/kafka.sh failed (exit ${r.status}); cannot build ${KAFKA_MOCK_BIN}`)
  }
  return KAFKA_MOCK_BIN
}

/** A unique topic / group prefix per test, so tests never see each other's data. */
export function uniquePrefix(name: string): string {
  return `${name.replace(/[^a-zA-Z0-9_-]/g, '-')}-${randomBytes(3).toString('hex')}`
}

export class KafkaMock {
  /** Comma-separated bootstrap list, as printed by the helper. */
  readonly bootstrap: string
  readonly brokers: string[]
  private readonly child: ChildProcess
  private readonly pending: { line: string; resolve: () => void; reject: (e: Error) => void }[] = []
  private readonly timeoutMs: number
  private exited: Promise<number | null>
  private closed = false

  private constructor(child: ChildProcess, bootstrap: string, timeoutMs: number, exited: Promise<number | null>) {
    this.child = child
    this.bootstrap = bootstrap
    this.brokers = bootstrap.split(',')
    this.timeoutMs = timeoutMs
    this.exited = exited
  }

  static async start(opts: KafkaMockOptions = {}): Promise<KafkaMock> {
    const bin = ensureKafkaMockBuilt()
    const timeoutMs = opts.timeoutMs ?? 10_000
    const args = ['--brokers', String(opts.brokers ?? 3)]
    for (const [t, n] of Object.entries(opts.topics ?? {})) args.push('--topic', `${t}:${n}`)
    if (opts.debug) args.push('--debug', opts.debug)
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', opts.stderr ?? (opts.debug ? 'inherit' : 'ignore')] })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    const lines = createInterface({ input: child.stdout! })

    let mock: KafkaMock | undefined
    const bootstrap = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`kafka-mock did not print BOOTSTRAP within ${timeoutMs} ms`)) }, timeoutMs)
      child.once('error', (e) => { clearTimeout(timer); reject(e) })
      void exited.then((code) => { clearTimeout(timer); reject(new Error(`kafka-mock exited (${code}) before printing BOOTSTRAP`)) })
      lines.on('line', (line) => {
        if (!mock) {
          if (line.startsWith('BOOTSTRAP ')) { clearTimeout(timer); resolve(line.slice('BOOTSTRAP '.length).trim()) }
          return
        }
        mock.onLine(line)
      })
    })
    mock = new KafkaMock(child, bootstrap, timeoutMs, exited)
    void exited.then((code) => mock!.failPending(new Error(`kafka-mock exited (${code})`)))
    return mock
  }

  private onLine(line: string): void {
    const p = this.pending.shift()
    if (!p) return
    if (line.startsWith('OK ')) p.resolve()
    else p.reject(new Error(`kafka-mock: ${line}`))
  }

  private failPending(e: Error): void {
    for (const p of this.pending.splice(0)) p.reject(e)
  }

  /** Sends one command line and resolves when the helper acknowledged it (it answers in order). */
  command(line: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('kafka-mock is stopped'))
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kafka-mock: no answer to "${line}" within ${this.timeoutMs} ms`)), this.timeoutMs)
      this.pending.push({
        line,
        resolve: () => { clearTimeout(timer); resolve() },
        reject: (e) => { clearTimeout(timer); reject(e) },
      })
      this.child.stdin!.write(line + '\n')
    })
  }

  createTopic(name: string, partitions: number, replicationFactor = 1): Promise<void> {
    return this.command(`topic ${name} ${partitions} ${replicationFactor}`)
  }
  /** Disconnects a broker (id 1..n, or -1 for all) and refuses new connections. Leaders do not move. */
  brokerDown(id: number): Promise<void> { return this.command(`down ${id}`) }
  brokerUp(id: number): Promise<void> { return this.command(`up ${id}`) }
  /** The next requests with this API key fail with these error codes, in order. */
  pushErrors(apiKey: number, errors: number[]): Promise<void> { return this.command(`errors ${apiKey} ${errors.join(',')}`) }
  clearErrors(apiKey: number): Promise<void> { return this.command(`clear-errors ${apiKey}`) }
  setLeader(topic: string, partition: number, broker: number): Promise<void> { return this.command(`leader ${topic} ${partition} ${broker}`) }
  setRtt(broker: number, ms: number): Promise<void> { return this.command(`rtt ${broker} ${ms}`) }

  /** Stops the cluster (quit, then SIGKILL if it does not exit in time). Safe to call twice. */
  async stop(): Promise<void> {
    if (this.closed) { await this.exited; return }
    this.closed = true
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end('quit\n')
      const timer = setTimeout(() => this.child.kill('SIGKILL'), this.timeoutMs)
      await this.exited
      clearTimeout(timer)
    }
  }

  /** Resolves when the helper process exits (for the CLI). */
  waitExit(): Promise<number | null> { return this.exited }
}
