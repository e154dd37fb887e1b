export { Detector, type Explanation, type DetectorState, type ChannelKind } from './detector.ts'
export { detectorOptionsSchema, detectorDefaults, type DetectorOptions, type DetectorOptionsInput } from './options.ts'
