// The Redis key layout the API reads. Every key starts with a configurable prefix (default "tw:"),
// so several deployments or tests share one server without seeing each other's data.
//
//   {p}trend:{platform}:{entityType}:{entity}            HASH  latest signal + lifecycle of one trend   TTL trendMs
//       windowStart windowEnd revision stage score signal(JSON TrendSignal) stageSince
//       first:emerging first:rising first:peaking first:declining   (windowStart the stage was first seen)
//   {p}trends:{platform}:{entityType}:{windowEnd}        ZSET  entity → score, one per closed window      TTL windowMs
//   {p}trends:{platform}:{entityType}:{windowEnd}:rev    HASH  entity → revision applied to that ZSET     TTL windowMs
//   {p}trends:latest:{platform}:{entityType}             STRING windowEnd of the newest complete window   TTL windowMs
//   {p}score:{postId}                                    HASH  at, score(JSON ViralityScore)               TTL scoreMs
//   {p}alert:{alertId}                                   STRING JSON BrandAlert                             TTL alertMs
//   {p}alerts:{brandId}                                  ZSET  alertId → at, newest `alertsPerBrand` kept   TTL alertMs
//   {p}fanout:{channel}                                  STREAM fan-out: fields t (type), d (JSON)         XADD MAXLEN ~
//
// The entity is always the last key segment, so a ':' inside it cannot make two keys collide.
import type { EntityType } from '../../schemas/outputs.ts'
import type { Platform } from '../../schemas/events.ts'

export class RedisKeys {
  constructor(readonly prefix: string) {}

  trend(platform: Platform | string, entityType: EntityType | string, entity: string): string {
    return `${this.prefix}trend:${platform}:${entityType}:${entity}`
  }

  trendWindow(platform: Platform | string, entityType: EntityType | string, windowEnd: number): string {
    return `${this.prefix}trends:${platform}:${entityType}:${windowEnd}`
  }

  trendWindowRevisions(platform: Platform | string, entityType: EntityType | string, windowEnd: number): string {
    return `${this.prefix}trends:${platform}:${entityType}:${windowEnd}:rev`
  }

  trendLatest(platform: Platform | string, entityType: EntityType | string): string {
    return `${this.prefix}trends:latest:${platform}:${entityType}`
  }

  score(postId: string): string {
    return `${this.prefix}score:${postId}`
  }

  alert(alertId: string): string {
    return `${this.prefix}alert:${alertId}`
  }

  brandAlerts(brandId: string): string {
    return `${this.prefix}alerts:${brandId}`
  }

  fanout(channel: string): string {
    return `${this.prefix}fanout:${channel}`
  }
}
