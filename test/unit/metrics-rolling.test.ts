import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {bucketIndex, latencyBucketCount, latencyBucketsMs, RollingWindow, type RequestStatsDelta} from '../../source/metrics/rolling.js';

/** A delta of `requests` requests, `errors` of them failed, with latencies and TTFTs given in ms. */
function delta(requests: number, errors: number, latenciesMs: readonly number[], ttftsMs: readonly number[] = []): RequestStatsDelta {
	const latencyCounts = Array.from({length: latencyBucketCount}, () => 0);
	const ttftCounts = Array.from({length: latencyBucketCount}, () => 0);
	for (const ms of latenciesMs) {
		latencyCounts[bucketIndex(ms)]!++;
	}

	for (const ms of ttftsMs) {
		ttftCounts[bucketIndex(ms)]!++;
	}

	return {requests, errors, latencyCounts, ttftCounts};
}

function near(actual: number | undefined, expected: number): void {
	assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `expected ${expected}, got ${actual}`);
}

describe('latency buckets', () => {
	it('puts a duration in the first bucket whose bound it does not exceed', () => {
		assert.equal(latencyBucketsMs.length, 15);
		assert.equal(latencyBucketCount, 16);
		assert.equal(bucketIndex(0), 0);
		assert.equal(bucketIndex(5), 0);
		assert.equal(bucketIndex(5.1), 1);
		assert.equal(bucketIndex(99), 4);
		assert.equal(bucketIndex(100), 4);
		assert.equal(bucketIndex(300_000), 14);
		assert.equal(bucketIndex(300_001), 15);
		assert.equal(bucketIndex(Number.NaN), 15, 'a broken measurement lands in the overflow, not in the fastest bucket');
	});
});

describe('rolling window', () => {
	it('answers rate, errors and percentiles over the span', () => {
		const window = new RollingWindow(0);
		// 8 requests of 60-100 ms, 2 of 300-500 ms; all with a TTFT in (10, 25] ms.
		window.add(delta(10, 1, [60, 70, 80, 90, 95, 99, 100, 100, 300, 450], Array.from({length: 10}, () => 20)), 1000);
		const stats = window.stats(60_000, 10_000);
		assert.equal(stats.requests, 10);
		assert.equal(stats.requestsPerSecond, 1, '10 requests in the 10 s since counting began');
		assert.equal(stats.errors, 1);
		assert.equal(stats.errorRate, 0.1);
		near(stats.latencyP50Ms, 81.25); // rank 5 of the 8 in (50, 100]
		near(stats.latencyP95Ms, 437.5); // rank 1.5 of the 2 in (250, 500]
		near(stats.ttftP50Ms, 17.5); // rank 5 of the 10 in (10, 25]
	});

	it('adds deltas that land in one slot', () => {
		const window = new RollingWindow(0);
		window.add(delta(1, 0, [40]), 100);
		window.add(delta(2, 2, [40, 40]), 4900);
		const stats = window.stats(5000, 4999);
		assert.deepEqual([stats.requests, stats.errors, stats.errorRate], [3, 2, 2 / 3]);
	});

	it('stops counting a slot once it is wholly older than the span', () => {
		const window = new RollingWindow(0);
		window.add(delta(10, 5, Array.from({length: 10}, () => 1000)), 1000); // slot [0, 5 s)
		window.add(delta(30, 0, Array.from({length: 30}, () => 20)), 100_000); // slot [100 s, 105 s)
		assert.equal(window.stats(60_000, 59_999).requests, 10, 'the slot of 0-5 s still reaches into the last 60 s');
		assert.equal(window.stats(60_000, 60_000).requests, 0);

		const minute = window.stats(60_000, 100_000);
		assert.equal(minute.requests, 30);
		assert.equal(minute.errors, 0);
		assert.equal(minute.requestsPerSecond, 30_000 / 55_000, 'over 11 whole slots and the current one just begun');
		near(minute.latencyP50Ms, 17.5);

		const fiveMinutes = window.stats(300_000, 100_000);
		assert.equal(fiveMinutes.requests, 40);
		assert.equal(fiveMinutes.requestsPerSecond, 0.4);
		assert.equal(fiveMinutes.errorRate, 5 / 40);
		assert.equal(fiveMinutes.latencyP95Ms, 900, 'rank 8 of the 10 in (500, 1000]');
	});

	it('reuses a slot for newer time and drops deltas older than the ring', () => {
		const window = new RollingWindow(0);
		window.add(delta(10, 0, [50]), 1000);
		window.add(delta(3, 1, [50]), 301_000); // 60 slots later: the same place in the ring
		window.add(delta(100, 100, [50]), 2000); // too late to count anywhere
		const stats = window.stats(300_000, 301_000);
		assert.equal(stats.requests, 3);
		assert.equal(stats.errors, 1);
		assert.equal(stats.requestsPerSecond, 3000 / 296_000, 'over slots 5 s to 301 s');
	});

	it('asks for at most the whole ring', () => {
		const window = new RollingWindow(0, {slotMs: 1000, slots: 10});
		window.add(delta(5, 0, []), 500);
		window.add(delta(7, 0, []), 10_500);
		assert.equal(window.stats(3_600_000, 10_500).requests, 7, 'an hour asked of a 10 s ring is 10 s');
		assert.equal(window.stats(3_600_000, 10_500).requestsPerSecond, 7 / 9.5);
	});

	it('has nothing to say before any request', () => {
		const stats = new RollingWindow(5000).stats(60_000, 5000);
		assert.deepEqual(stats, {
			requests: 0,
			requestsPerSecond: 0,
			errors: 0,
			errorRate: undefined,
			latencyP50Ms: undefined,
			latencyP95Ms: undefined,
			ttftP50Ms: undefined,
		});
	});

	it('puts an overflow at the highest bound', () => {
		const window = new RollingWindow(0);
		window.add(delta(1, 0, [600_000]), 0);
		assert.equal(window.stats(60_000, 1000).latencyP50Ms, 300_000);
	});
});
