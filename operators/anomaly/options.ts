// Options of the detector core (core.ts), validated once at construction (streams/config.ts).
// The defaults are the one configuration benchmarked on NAB (benchmarks/nab/README.md); every
// series gets the same values, nothing is tuned per series. The trend topology runs the same core
// with its own configuration (operators/trends/detector.ts trendCoreOptions: Poisson model,
// exogenous expectation, CUSUM channel only).
import { z } from 'zod'

const scales = z.array(z.number().int().min(1).max(100_000)).max(8)

export const detectorOptionsSchema = z
  .object({
    /**
     * Observation model: 'gaussian' for real-valued series (scale = the baseline's robust residual
     * spread), 'poisson' for counts (scale = √expected; the expectation is level × exposure, the
     * exposure supplied by the caller with each point, e.g. the platform's posts in the window).
     */
    model: z.enum(['gaussian', 'poisson']).default('gaussian'),
    /** 'both': rises and falls are anomalies; 'up': only rises (trend take-offs). */
    direction: z.enum(['both', 'up']).default('both'),

    // Baseline: (level + seasonal offset for the time of day) × exposure.
    /** Length of the seasonal cycle in ms (a day); 0 turns seasonality off. */
    seasonPeriodMs: z.number().int().min(0).default(86_400_000),
    /** Seasonal bins per cycle (hour of day for the default 24). */
    seasonBins: z.number().int().min(1).max(1440).default(24),
    /** Learning rate of the seasonal offsets once a bin has seen 1/seasonAlpha points. */
    seasonAlpha: z.number().gt(0).max(1).default(0.02),
    /**
     * Learning rate of the level. Its m-th point (1-based) is learned with rate
     * max(1 / (priorWeight + m), levelAlpha) while m ≤ levelMeanPoints — a plain mean, with the
     * prior — and levelAlpha after (an EWMA).
     */
    levelAlpha: z.number().gt(0).max(1).default(0.005),
    /**
     * Length of the running-mean start. NAB: 1 (the first point sets the level, then the slow
     * EWMA; a running mean over the first 200 points cost 6 points of standard score). Counts: the
     * whole way down to levelAlpha, so a new entity's share leaves its prior quickly.
     */
    levelMeanPoints: z.number().int().min(1).default(1),
    /** Expected value before the first point (in observation units)... */
    prior: z.number().min(0).default(0),
    /** ...worth this many points. 0: no prior, the first point is its own expectation. */
    priorWeight: z.number().min(0).default(0),
    /**
     * Observations beyond expected ± (clip × scale + granularity) are clipped before the baseline
     * learns them (only the upper side with direction 'up'); scale is the model's (residual spread,
     * or √expected), granularity 1 for counts and 0 for real values. 0 turns clipping off.
     */
    clip: z.number().min(0).default(3),
    /**
     * Whether the level learns the clipped observation too (the seasonal offsets always do). NAB:
     * no — the level is slow enough that an outlier barely moves it, and clipping it delays its
     * adaptation to real level shifts (−2 standard points). Counts: yes (a burst early in an
     * entity's life, while its level still learns fast, would otherwise become its baseline).
     */
    clipLevel: z.boolean().default(false),
    /** Poisson: floor on the expectation itself (a finite likelihood ratio for an entity whose level is 0). */
    expectedFloor: z.number().gt(0).default(0.01),
    /** Poisson: floor on the expectation under the square root of the deviation's scale. */
    deviationFloor: z.number().gt(0).default(0.05),

    // Record channels: exponentially smoothed views of the input, each watching for records.
    /** Smoothing spans (points) of the raw value. */
    levelScales: scales.default([1, 8, 64]),
    /** Smoothing spans of the residual against the baseline. */
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

    // CUSUM channel: the model's log-likelihood ratio of "risen" against "as expected", accumulated.
    /**
     * Threshold of the CUSUM in log-likelihood-ratio units; the channel's evidence is S / threshold
     * (1 = at the threshold). 0 turns the channel off.
     */
    cusumThreshold: z.number().min(0).default(0),
    /** Poisson: the rise the CUSUM is tuned for is λ1 = cusumRatio × expected + cusumMinRise. */
    cusumRatio: z.number().gt(1).default(2),
    /** Poisson: least rise in counts; Gaussian: the rise in standard deviations (μ1 = μ + cusumMinRise σ). */
    cusumMinRise: z.number().gt(0).default(0.2),

    /** Points before any score: records and spreads are still settling; the CUSUM is held at 0. */
    warmup: z.number().int().min(0).default(150),
    /** Confidence grows with the event time seen: (ln(1 + h / historyHours) / ln(1 + fullHistoryHours / historyHours)) ^ historyPower. */
    historyHours: z.number().gt(0).default(6),
    fullHistoryHours: z.number().gt(0).default(240),
    historyPower: z.number().min(0).default(2),

    /**
     * After an alert with evidence E, new evidence must exceed (1 + refractoryMargin) · E · exp(-Δn / refractory)
     * to alert again (Δn points later): one event makes one alert, a clearly stronger one still gets through.
     * 0 turns the refractory bar off.
     */
    refractory: z.number().min(0).default(25),
    refractoryMargin: z.number().min(0).default(3),
    /**
     * score = 1 - exp(-gain * surprise). With gain 1, 0.5 means the record was broken by ln 2 ≈ 0.69
     * spreads (after history weighting): pure noise stays below it, take-offs go well above.
     */
    gain: z.number().gt(0).default(1),

    // Alarm: the explanation's yes/no (score carries the graded answer).
    /** Alarm when the surprise is at least this (CUSUM: 1 = at its threshold). */
    alarmAt: z.number().gt(0).default(Math.LN2),
    /** ...and the observation is at least this (counts: least uses in the firing window); absent: no floor. */
    minObserved: z.number().optional(),
    /**
     * ...and, of the last `persistOf` points (this one included), at least `persist` were "present":
     * observation ≥ minObserved (or above the expectation when minObserved is absent). 1 of 1: off.
     */
    persist: z.number().int().min(1).default(1),
    persistOf: z.number().int().min(1).max(30).default(1),
  })
  .strict()
  .refine((o) => o.persist <= o.persistOf, { message: 'persist must be ≤ persistOf', path: ['persist'] })

export type DetectorOptions = z.output<typeof detectorOptionsSchema>
export type DetectorOptionsInput = z.input<typeof detectorOptionsSchema>

/** The defaults: the configuration benchmarked on NAB. */
export const detectorDefaults: DetectorOptions = Object.freeze(detectorOptionsSchema.parse({}))
