/** vLLM's bucket bounds (`vllm/v1/metrics/loggers.py`). */
export const TIME_TO_FIRST_TOKEN_BUCKETS = [
	0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
	640.0, 2560.0,
] as const;

export const REQUEST_LATENCY_BUCKETS = [
	0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0,
	7680.0,
] as const;

/** A Prometheus histogram; the +Inf bucket is implicit in `count`. */
export class Histogram {
	sum = 0;
	count = 0;
	private readonly bucketCounts: number[];

	constructor(readonly upperBounds: readonly number[]) {
		this.bucketCounts = upperBounds.map(() => 0);
	}

	observe(value: number): void {
		this.sum += value;
		this.count++;
		const bucket = this.upperBounds.findIndex((bound) => value <= bound);
		if (bucket >= 0) this.bucketCounts[bucket] = (this.bucketCounts[bucket] ?? 0) + 1;
	}

	/** Counts per bound, each including every smaller bucket, as the exposition format wants. */
	cumulativeCounts(): number[] {
		let total = 0;
		return this.bucketCounts.map((n) => (total += n));
	}
}
