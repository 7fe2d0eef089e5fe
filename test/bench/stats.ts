export interface Summary {
	count: number;
	mean: number;
	median: number;
	p90: number;
	p95: number;
	p99: number;
}

export function summarize(samples: readonly number[]): Summary {
	if (samples.length === 0) {
		throw new Error('no samples to summarize');
	}

	const sorted = Float64Array.from(samples).sort();
	let sum = 0;
	for (const value of sorted) {
		sum += value;
	}

	return {
		count: sorted.length,
		mean: sum / sorted.length,
		median: percentile(sorted, 0.5),
		p90: percentile(sorted, 0.9),
		p95: percentile(sorted, 0.95),
		p99: percentile(sorted, 0.99),
	};
}

/** Nearest rank: a value that was actually observed. */
function percentile(sorted: Float64Array, fraction: number): number {
	const rank = Math.max(1, Math.ceil(fraction * sorted.length));
	return sorted[rank - 1]!;
}
