// The Lua scripts that make every state write idempotent. A script runs atomically on the server, so
// "read the stored version, write only if ours is newer" needs no WATCH/MULTI round trips and can sit
// in a pipeline next to thousands of others. Each is registered with ioredis's defineCommand (EVALSHA,
// falling back to EVAL on NOSCRIPT) and declares every key it touches in KEYS (cluster-safe).
//
// Versions (why re-delivery after a crash cannot corrupt state):
//  - a trend's entity hash holds the (windowEnd, revision) it was last written from; an update applies
//    only when its (windowEnd, revision) is lexicographically greater. A replay re-sends versions that
//    are equal or older: no-ops.
//  - a window's ranking ZSET keeps the revision applied per entity in a side hash, so a late correction
//    (revision + 1) of that window replaces the score and a re-delivered older revision does not.
//  - a post's score applies only when its event time `at` is newer than the stored one.
//  - alerts are keyed by their deterministic alertId (SET NX; ZADD of the same member and score).
//  - fan-out entries carry explicit, deterministic stream ids (state-sink.ts); Redis refuses an XADD
//    whose id is not greater than the stream's last id, which the script turns into "already there".
// Numbers from ARGV are compared with tonumber (Lua doubles): exact for epoch milliseconds (< 2^53).

export const SCRIPTS = {
  /**
   * KEYS: entity hash, window ZSET, window revisions hash.
   * ARGV: windowEnd, revision, score, entity, signal JSON, stage, windowStart, entity TTL ms, window TTL ms.
   * Returns 1 if the window ranking changed + 2 if the entity state changed.
   */
  twTrend: {
    keys: 3,
    lua: `
local we = tonumber(ARGV[1])
local rev = tonumber(ARGV[2])
local applied = 0
local prev = redis.call('HGET', KEYS[3], ARGV[4])
if (not prev) or tonumber(prev) < rev then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[9])
  redis.call('PEXPIRE', KEYS[3], ARGV[9])
  applied = 1
end
local cur = redis.call('HMGET', KEYS[1], 'windowEnd', 'revision', 'stage')
local cwe = tonumber(cur[1])
if (not cwe) or cwe < we or (cwe == we and tonumber(cur[2]) < rev) then
  redis.call('HSET', KEYS[1], 'windowStart', ARGV[7], 'windowEnd', ARGV[1], 'revision', ARGV[2],
    'stage', ARGV[6], 'score', ARGV[3], 'signal', ARGV[5])
  if cur[3] ~= ARGV[6] then redis.call('HSET', KEYS[1], 'stageSince', ARGV[7]) end
  redis.call('HSETNX', KEYS[1], 'first:' .. ARGV[6], ARGV[7])
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
  applied = applied + 2
end
return applied`,
  },
  /** KEYS: pointer. ARGV: windowEnd, TTL ms. Moves the "latest complete window" pointer forward only. */
  twForward: {
    keys: 1,
    lua: `
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`,
  },
  /** KEYS: score hash. ARGV: at, score JSON, TTL ms. Returns 1 if applied. */
  twScore: {
    keys: 1,
    lua: `
local cur = redis.call('HGET', KEYS[1], 'at')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'score', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`,
  },
  /** KEYS: alert key, brand ZSET. ARGV: alertId, at, alert JSON, TTL ms, alerts kept per brand. Returns 1 if new. */
  twAlert: {
    keys: 2,
    lua: `
local created = redis.call('SET', KEYS[1], ARGV[3], 'NX', 'PX', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1))
redis.call('PEXPIRE', KEYS[2], ARGV[4])
if created then return 1 end
return 0`,
  },
  /**
   * KEYS: stream. ARGV: entry id, approximate max length, type, payload.
   * Returns 1 if appended, 0 if an entry with this id (or a later one) is already there.
   */
  twFanout: {
    keys: 1,
    lua: `
local r = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], ARGV[1], 't', ARGV[3], 'd', ARGV[4])
if type(r) == 'table' and r.err then
  if string.find(r.err, 'equal or smaller', 1, true) then return 0 end
  return redis.error_reply(r.err)
end
return 1`,
  },
} as const

export type ScriptName = keyof typeof SCRIPTS

/** One queued state write: a script call with its keys and arguments. */
export interface RedisOp {
  script: ScriptName
  keys: string[]
  args: (string | number)[]
}

interface ScriptHost {
  defineCommand(name: string, def: { numberOfKeys: number; lua: string }): void
}

const defined = new WeakSet<object>()

/** Registers the scripts on a client (once per client). */
export function defineScripts(redis: ScriptHost): void {
  if (defined.has(redis)) return
  for (const [name, s] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: s.keys, lua: s.lua })
  defined.add(redis)
}
