// Options of the streaming anomaly detector, validated once at construction (streams/config.ts).
// The defaults are the one configuration benchmarked on NAB (benchmarks/nab/README.md); every
// series gets the same values, nothing is tuned per series.
import { z } from 'zod'

const scales = z.array(z.number().int().min(1).max(100_000)).max(8)

export const detectorOptionsSchema = z
  .object({
    /** 'both': rises and falls are anomalies; 'up': only rises (trend take-offs). */
    direction: z.enum(['both', 'up']).default('both'),

    // Baseline: level + seasonal offset for the time of day.
    /** Length of the seasonal cycle in ms (a day); 0 turns seasonality off. */
    seasonPeriodMs: z.number().int().min(0).default(86_400_000),
    /** Seasonal bins per cycle (hour of day for the default 24). */
    seasonBins: z.number().int().min(1).max(1440).default(24),
    /** Learning rate of the seasonal offsets once a bin has seen 1/seasonAlpha points. */
    seasonAlpha: z.number().gt(0).max(1).default(0.02),
    /** Learning rate of the level. */
    levelAlpha: z.number().gt(0).max(1).default(0.005),
    /** Residuals beyond this many mean absolute deviations are clipped before they teach the seasonal offsets. */
    seasonClip: z.number().min(0).default(3),

    // Channels: exponentially smoothed views of the input, each watching for records.
    /** Smoothing spans (points) of the raw value. */
    levelScales: scales.default([1, 8, 64]),
    /** Smoothing spans of the residual against the seasonal baseline. */
    residualScales: scales.default([1, 32]),
    /** Smoothing spans of |x_t - x_(t-1)| (volatility); ignored when direction is 'up'. */
    volatilityScales: scales.default([64]),

    /** Learning rate of each channel's slow centre. */
    centerAlpha: z.number().gt(0).max(1).default(0.001),
    /** Learning rate of each channel's spread (mean absolute deviation around the centre). */
    spreadAlpha: z.number().gt(0).max(1).default(0.01),
    /** Weight of the record's own distance from the centre when normalising an exceedance. */
    tailWeight: z.number().min(0).default(0.3),
    /** Records relax toward the centre with this half-life in points; 0 keeps them forever. */
    recordHalfLife: z.number().min(0).default(0),

    /** Points before any score: records and spreads are still settling. */
    warmup: z.number().int().min(1).default(150),
    /** Confidence grows with the event time seen: (ln(1 + h / historyHours) / ln(1 + fullHistoryHours / historyHours)) ^ historyPower. */
    historyHours: z.number().gt(0).default(6),
    fullHistoryHours: z.number().gt(0).default(240),
    historyPower: z.number().min(0).default(2),

    /**
     * After an alert with evidence E, new evidence must exceed (1 + refractoryMargin) · E · exp(-Δn / refractory)
     * to alert again (Δn points later): one event makes one alert, a clearly stronger one still gets through.
     */
    refractory: z.number().gt(0).default(25),
    refractoryMargin: z.number().min(0).default(3),
    /**
     * score = 1 - exp(-gain * surprise). With gain 1, 0.5 means the record was broken by ln 2 ≈ 0.69
     * spreads (after history weighting): pure noise stays below it, take-offs go well above.
     */
    gain: z.number().gt(0).default(1),
  })
  .strict()

export type DetectorOptions = z.output<typeof detectorOptionsSchema>
export type DetectorOptionsInput = z.input<typeof detectorOptionsSchema>

/** The defaults: the configuration benchmarked on NAB. */
export const detectorDefaults: DetectorOptions = Object.freeze(detectorOptionsSchema.parse({}))
