export { DetectorCore, FREEZE, WARMING_UP, type CoreState, type Explanation, type ChannelKind } from './core.ts'
export { Detector, type DetectorState } from './detector.ts'
export { detectorOptionsSchema, detectorDefaults, type DetectorOptions, type DetectorOptionsInput } from './options.ts'
