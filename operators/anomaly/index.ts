export { Detector, type Explanation, type DetectorState, type ChannelKind } from './detector.ts'
export { detectorOptionsSchema, type DetectorOptions, type DetectorOptionsInput } from './options.ts'
