/**
 * A Prometheus histogram at one moment: `counts[i]` observations were at most `bounds[i]`.
 * Bounds ascend and end with +Inf, whose count is every observation.
 */
export type CumulativeHistogram = {
	readonly bounds: readonly number[];
	readonly counts: readonly number[];
	readonly sum: number;
	readonly count: number;
};

/**
 * The q-quantile (0..1) as PromQL's `histogram_quantile` estimates it: found by rank among the
 * buckets and interpolated linearly inside its bucket, the first bucket starting at 0 (or at its
 * bound if that is not positive). A rank in the +Inf bucket answers the highest finite bound, as
 * nothing is known above it. Undefined without observations or without a +Inf bucket.
 */
export function histogramQuantile(q: number, histogram: CumulativeHistogram): number | undefined {
	const {bounds, counts} = histogram;
	const last = bounds.length - 1;
	if (last < 1 || bounds[last] !== Number.POSITIVE_INFINITY || counts.length !== bounds.length) {
		return undefined;
	}

	if (q < 0) {
		return Number.NEGATIVE_INFINITY;
	}

	if (q > 1) {
		return Number.POSITIVE_INFINITY;
	}

	// Buckets scraped in different moments (or summed across engines) can dip; PromQL evens them out the same way.
	const monotonic = monotonicCounts(counts);
	const observations = monotonic[last]!;
	if (!(observations > 0)) {
		return undefined;
	}

	let rank = q * observations;
	let bucket = 0;
	while (bucket < last && monotonic[bucket]! < rank) {
		bucket++;
	}

	if (bucket === last) {
		return bounds[last - 1]!;
	}

	const upper = bounds[bucket]!;
	if (bucket === 0 && upper <= 0) {
		return upper;
	}

	let lower = 0;
	let inBucket = monotonic[bucket]!;
	if (bucket > 0) {
		lower = bounds[bucket - 1]!;
		inBucket -= monotonic[bucket - 1]!;
		rank -= monotonic[bucket - 1]!;
	}

	// An empty bucket is reached only by rank 0 (q = 0): its lower edge, where PromQL would divide 0 by 0.
	return inBucket > 0 ? lower + ((upper - lower) * rank) / inBucket : lower;
}

function monotonicCounts(counts: readonly number[]): number[] {
	const result: number[] = [];
	let highest = 0;
	for (const count of counts) {
		highest = Math.max(highest, count);
		result.push(highest);
	}

	return result;
}

/**
 * What was observed between two snapshots of one histogram, for percentiles over a window
 * (scrape N minus scrape N-k). When the newer one counts less anywhere, the backend restarted in
 * between and its counts began again from 0, so the newer snapshot is itself the best answer; so
 * too when the bounds changed, which only a restart with other settings can do.
 */
export function histogramIncrease(newer: CumulativeHistogram, older: CumulativeHistogram): CumulativeHistogram {
	if (!sameBounds(newer.bounds, older.bounds) || newer.count < older.count) {
		return newer;
	}

	const counts: number[] = [];
	for (const [index, count] of newer.counts.entries()) {
		const increase = count - (older.counts[index] ?? 0);
		if (increase < 0) {
			return newer;
		}

		counts.push(increase);
	}

	return {bounds: newer.bounds, counts, sum: newer.sum - older.sum, count: newer.count - older.count};
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
	return a.length === b.length && a.every((bound, index) => bound === b[index]);
}
