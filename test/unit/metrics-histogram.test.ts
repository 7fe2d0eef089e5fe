import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {counterIncrease, counterRate} from '../../source/metrics/counter.js';
import {histogramIncrease, histogramQuantile, type CumulativeHistogram} from '../../source/metrics/histogram.js';

function near(actual: number | undefined, expected: number): void {
	assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `expected ${expected}, got ${actual}`);
}

/** 10 observations up to 0.1 s, 20 more up to 0.5, 8 up to 1, 2 above. */
const latency: CumulativeHistogram = {bounds: [0.1, 0.5, 1, Number.POSITIVE_INFINITY], counts: [10, 30, 38, 40], sum: 13, count: 40};

describe('histogram quantiles', () => {
	it('interpolates linearly inside the bucket the rank falls in', () => {
		near(histogramQuantile(0.1, latency), 0.04); // rank 4 of 10 in [0, 0.1]
		near(histogramQuantile(0.25, latency), 0.1); // rank 10: the top of the first bucket
		near(histogramQuantile(0.5, latency), 0.3); // rank 20: 10 into the 20 of (0.1, 0.5]
		near(histogramQuantile(0.9, latency), 0.875); // rank 36: 6 into the 8 of (0.5, 1]
		near(histogramQuantile(0.95, latency), 1); // rank 38
		near(histogramQuantile(0, latency), 0);
	});

	it('answers the highest finite bound for a rank in the +Inf bucket', () => {
		assert.equal(histogramQuantile(0.99, latency), 1);
		assert.equal(histogramQuantile(1, latency), 1);
	});

	it('follows PromQL outside 0..1 and without data', () => {
		assert.equal(histogramQuantile(-0.1, latency), Number.NEGATIVE_INFINITY);
		assert.equal(histogramQuantile(1.1, latency), Number.POSITIVE_INFINITY);
		assert.equal(histogramQuantile(0.5, {...latency, counts: [0, 0, 0, 0], count: 0}), undefined);
		assert.equal(histogramQuantile(0.5, {bounds: [0.1, 0.5], counts: [1, 2], sum: 0.4, count: 2}), undefined, 'no +Inf bucket');
		assert.equal(histogramQuantile(0.5, {bounds: [Number.POSITIVE_INFINITY], counts: [3], sum: 1, count: 3}), undefined, 'only +Inf');
	});

	it('evens out counts that dip, as PromQL does', () => {
		// Bucket 1 reads 8 < 10; taken as 10, so rank 15 falls in (0.5, 1] with 10 in it.
		near(histogramQuantile(0.5, {bounds: [0.1, 0.5, 1, Number.POSITIVE_INFINITY], counts: [10, 8, 20, 30], sum: 9, count: 30}), 0.75);
	});

	it('returns a first bound at or below zero as is', () => {
		assert.equal(histogramQuantile(0.5, {bounds: [-1, 2, Number.POSITIVE_INFINITY], counts: [5, 6, 6], sum: -3, count: 6}), -1);
	});
});

describe('histogram increase', () => {
	const earlier: CumulativeHistogram = {bounds: latency.bounds, counts: [5, 10, 12, 12], sum: 3, count: 12};

	it('subtracts an earlier snapshot bucket by bucket', () => {
		assert.deepEqual(histogramIncrease(latency, earlier), {bounds: latency.bounds, counts: [5, 20, 26, 28], sum: 10, count: 28});
		near(histogramQuantile(0.5, histogramIncrease(latency, earlier)), 0.34); // rank 14: 9 into the 15 of (0.1, 0.5]
	});

	it('takes a drop in counts for a restart and answers the newer snapshot', () => {
		const restarted: CumulativeHistogram = {bounds: latency.bounds, counts: [1, 2, 3, 3], sum: 0.9, count: 3};
		assert.equal(histogramIncrease(restarted, latency), restarted);
		const oneBucketDown: CumulativeHistogram = {bounds: latency.bounds, counts: [1, 20, 30, 30], sum: 8, count: 30};
		assert.equal(histogramIncrease(oneBucketDown, earlier), oneBucketDown);
	});

	it('answers the newer snapshot when the bounds changed', () => {
		const other: CumulativeHistogram = {bounds: [0.2, Number.POSITIVE_INFINITY], counts: [50, 60], sum: 20, count: 60};
		assert.equal(histogramIncrease(other, latency), other);
	});
});

describe('counter rate', () => {
	it('divides the increase by the seconds between readings', () => {
		assert.equal(counterRate({value: 1500, atMs: 12_000}, {value: 1000, atMs: 10_000}), 250);
		assert.equal(counterIncrease(1500, 1000), 500);
	});

	it('counts from zero again after a reset', () => {
		assert.equal(counterIncrease(200, 1000), 200);
		assert.equal(counterRate({value: 200, atMs: 12_000}, {value: 1000, atMs: 10_000}), 100);
	});

	it('has no rate unless time moved on', () => {
		assert.equal(counterRate({value: 10, atMs: 5000}, {value: 5, atMs: 5000}), undefined);
		assert.equal(counterRate({value: 10, atMs: 4000}, {value: 5, atMs: 5000}), undefined);
	});
});
