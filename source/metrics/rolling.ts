import {histogramQuantile} from './histogram.js';

/**
 * Upper bounds (ms) of the buckets switchboard sorts its own request latencies and times to first
 * token into. Counts have one more entry than this list: the last counts everything slower.
 */
export const latencyBucketsMs: readonly number[] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000, 300_000];

/** Length of a counts array: one per bound, plus the overflow. */
export const latencyBucketCount = latencyBucketsMs.length + 1;

/** The bucket a duration falls in, a bound counting as inside its bucket (Prometheus `le`). Called per request: no allocation. */
export function bucketIndex(ms: number): number {
	let index = 0;
	while (index < latencyBucketsMs.length && !(ms <= latencyBucketsMs[index]!)) {
		index++;
	}

	return index;
}

/**
 * What one backend saw since the last report: finished requests, how many of them failed, and
 * their latencies and times to first token as counts per bucket (not cumulative, `latencyBucketCount` long).
 */
export type RequestStatsDelta = {
	readonly requests: number;
	readonly errors: number;
	readonly latencyCounts: readonly number[];
	readonly ttftCounts: readonly number[];
};

/** A span's figures; percentiles and the error rate are undefined when there was nothing to measure. */
export type WindowStats = {
	requests: number;
	requestsPerSecond: number;
	errors: number;
	errorRate: number | undefined;
	latencyP50Ms: number | undefined;
	latencyP95Ms: number | undefined;
	ttftP50Ms: number | undefined;
};

type Slot = {
	/** Which slot of time this holds (time / slotMs, rounded down); -Infinity while unused. */
	epoch: number;
	requests: number;
	errors: number;
	latencyCounts: number[];
	ttftCounts: number[];
};

const cumulativeBounds = [...latencyBucketsMs, Number.POSITIVE_INFINITY];

/**
 * A backend's request stats over the last few minutes, in fixed slots of time reused in a ring,
 * so memory stays constant however long it runs. Time is passed in (ms, a clock that only moves
 * forward), and a slot's data counts as long as any of it lies inside the span asked about.
 */
export class RollingWindow {
	readonly #slotMs: number;
	readonly #slots: Slot[];
	readonly #startedAt: number;

	/** `startedAt`: when counting began, so that a young window does not divide by time it never saw. */
	constructor(startedAt: number, {slotMs = 5000, slots = 60}: {slotMs?: number; slots?: number} = {}) {
		this.#slotMs = slotMs;
		this.#startedAt = startedAt;
		this.#slots = Array.from({length: slots}, () => ({
			epoch: Number.NEGATIVE_INFINITY,
			requests: 0,
			errors: 0,
			latencyCounts: Array.from({length: latencyBucketCount}, () => 0),
			ttftCounts: Array.from({length: latencyBucketCount}, () => 0),
		}));
	}

	add(delta: RequestStatsDelta, now: number): void {
		const epoch = Math.floor(now / this.#slotMs);
		const ring = this.#slots.length;
		const slot = this.#slots[((epoch % ring) + ring) % ring]!;
		if (slot.epoch > epoch) {
			// Older than the window itself: its slot already holds newer time.
			return;
		}

		if (slot.epoch < epoch) {
			slot.epoch = epoch;
			slot.requests = 0;
			slot.errors = 0;
			slot.latencyCounts.fill(0);
			slot.ttftCounts.fill(0);
		}

		slot.requests += delta.requests;
		slot.errors += delta.errors;
		addInto(slot.latencyCounts, delta.latencyCounts);
		addInto(slot.ttftCounts, delta.ttftCounts);
	}

	/** The last `spanMs` up to `now`, in whole slots: the current one so far and those before it, at most the whole ring. */
	stats(spanMs: number, now: number): WindowStats {
		const current = Math.floor(now / this.#slotMs);
		const slotCount = Math.min(this.#slots.length, Math.max(1, Math.ceil(spanMs / this.#slotMs)));
		const oldest = current - slotCount + 1;
		let requests = 0;
		let errors = 0;
		const latencyCounts = Array.from({length: latencyBucketCount}, () => 0);
		const ttftCounts = Array.from({length: latencyBucketCount}, () => 0);
		for (const slot of this.#slots) {
			if (slot.epoch >= oldest && slot.epoch <= current) {
				requests += slot.requests;
				errors += slot.errors;
				addInto(latencyCounts, slot.latencyCounts);
				addInto(ttftCounts, slot.ttftCounts);
			}
		}

		// At least a second: a young window must not turn a burst of five requests in 16 ms into 300 req/s.
		const coveredMs = Math.max(1000, now - Math.max(oldest * this.#slotMs, this.#startedAt));
		return {
			requests,
			requestsPerSecond: (requests * 1000) / coveredMs,
			errors,
			errorRate: requests > 0 ? errors / requests : undefined,
			latencyP50Ms: percentile(0.5, latencyCounts),
			latencyP95Ms: percentile(0.95, latencyCounts),
			ttftP50Ms: percentile(0.5, ttftCounts),
		};
	}
}

/** Adds per-bucket counts into a running total of the same length. */
export function addInto(target: number[], counts: readonly number[]): void {
	for (let index = 0; index < target.length; index++) {
		target[index]! += counts[index] ?? 0;
	}
}

function percentile(q: number, perBucket: readonly number[]): number | undefined {
	let total = 0;
	const counts = perBucket.map((count) => (total += count));
	return histogramQuantile(q, {bounds: cumulativeBounds, counts, sum: Number.NaN, count: total});
}
