// The test Redis: Debian's redis-server on 127.0.0.1:6390 (TRENDWIRE_TEST_REDIS_PORT), started by
// tests/setup/redis.sh. Each test uses its own key prefix and deletes its keys afterwards.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Redis } from 'ioredis'
import { createRedis } from '../../sinks/redis/client.ts'

const testsDir = join(dirname(fileURLToPath(import.meta.url)), '..')
export const TEST_REDIS_PORT = Number(process.env.TRENDWIRE_TEST_REDIS_PORT ?? 6390)
export const TEST_REDIS_URL = `redis://127.0.0.1:${TEST_REDIS_PORT}`

/** A connected client to the test server; runs tests/setup/redis.sh first when nothing answers. */
export async function testRedis(name = 'trendwire-test'): Promise<Redis> {
  let r = createRedis({ url: TEST_REDIS_URL, name })
  try {
    await r.connect()
    await r.ping()
    return r
  } catch {
    r.disconnect()
  }
  const s = spawnSync('bash', [join(testsDir, 'setup', 'redis.sh')], { stdio: 'inherit' })
  if (s.status !== 0) throw new Error(`tests/setup/redis.sh failed (exit ${s.status})`)
  r = createRedis({ url: TEST_REDIS_URL, name })
  await r.connect()
  return r
}

/** A key prefix no other test uses. */
export function uniqueKeyPrefix(name: string): string {
  return `test:${name.replace(/[^a-zA-Z0-9_-]/g, '-')}:${randomBytes(3).toString('hex')}:`
}

/** Deletes every key under the prefix. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0'
  let n = 0
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) n += await redis.unlink(...keys)
  } while (cursor !== '0')
  return n
}

/**
 * A throwaway redis-server of the test's own (for outages: kill it, start it again on the same port).
 * No persistence: a restarted server is empty.
 */
export class PrivateRedis {
  private child: import('node:child_process').ChildProcess | null = null
  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const port = await freePort()
    const r = new PrivateRedis(port)
    await r.restart()
    return r
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async restart(): Promise<void> {
    const { spawn } = await import('node:child_process')
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: 'ignore' })
    const probe = createRedis({ url: this.url, name: 'probe' }, { retryStrategy: () => null, maxRetriesPerRequest: 0 })
    try {
      for (let i = 0; ; i++) {
        try {
          if (probe.status === 'wait' || probe.status === 'end') await probe.connect()
          if ((await probe.ping()) === 'PONG') return
        } catch {
          if (i > 200) throw new Error(`private redis-server on ${this.port} did not answer PING`)
          await new Promise((r) => setTimeout(r, 25))
        }
      }
    } finally {
      probe.disconnect()
    }
  }

  /** SIGKILL: the server vanishes mid-conversation, like a crash. */
  async kill(): Promise<void> {
    const c = this.child
    if (!c || c.exitCode !== null) return
    const exited = new Promise((r) => c.once('exit', r))
    c.kill('SIGKILL')
    await exited
    this.child = null
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as import('node:net').AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}
