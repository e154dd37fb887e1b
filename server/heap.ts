// V8's young generation for the engine's process. The topologies allocate a great deal that dies
// young (records, window accumulators, rows on their way to a sink); with V8's default semi-space
// (16 MB here) the scavenger runs so often that the engine's thread spent ~3 s and V8's helper
// threads ~16 s in GC per 300,000 events of the main job. 64 MB semi-spaces: the main job's events/s
// +26–37% with the sinks off (benchmarks/README.md, "engine with all sinks"). 32 and 128 measured
// the same as 64 within noise. Costs at most 3 × 64 MB of address space.
import v8 from 'node:v8'

export const ENGINE_SEMI_SPACE_MB = 64

/** Raises the semi-space limit unless the user set one (node flag or NODE_OPTIONS). Call before the job starts. */
export function tuneHeapForEngine(mb = ENGINE_SEMI_SPACE_MB): boolean {
  const set = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-semi-space-size'))
  if (set) return false
  v8.setFlagsFromString(`--max-semi-space-size=${mb}`)
  return true
}
