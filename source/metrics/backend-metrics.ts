import type {CumulativeHistogram} from './histogram.js';
import {parseMetrics, parseValue, type Labels, type Sample} from './prometheus-text.js';

export type BackendFlavor = 'vllm' | 'sglang' | 'unknown';

/**
 * What one scrape of a backend's /metrics says about its load, summed over the engines it runs.
 * A value is undefined when the backend does not expose it. Counters and histograms are
 * cumulative since the backend started: compare two scrapes (./counter.ts, ./histogram.ts).
 */
export type BackendMetrics = {
	flavor: BackendFlavor;
	/** Requests being generated. */
	running: number | undefined;
	/** Requests queued for a slot. */
	waiting: number | undefined;
	/** 0..1, of the fullest engine. */
	kvCacheUsage: number | undefined;
	promptTokens: number | undefined;
	generationTokens: number | undefined;
	/** Seconds. */
	ttft: CumulativeHistogram | undefined;
	/** Seconds. */
	e2eLatency: CumulativeHistogram | undefined;
};

type FlavorNames = {
	running: string;
	waiting: string;
	/** In order of preference. */
	kvCache: readonly string[];
	promptTokens: string;
	generationTokens: string;
	ttft: string;
	e2eLatency: string;
};

const vllmNames: FlavorNames = {
	running: 'vllm:num_requests_running',
	waiting: 'vllm:num_requests_waiting',
	// vLLM renamed the gauge in 0.9.2 and dropped the old name about 0.12; V0 engines only have the old one.
	kvCache: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'],
	promptTokens: 'vllm:prompt_tokens_total',
	generationTokens: 'vllm:generation_tokens_total',
	ttft: 'vllm:time_to_first_token_seconds',
	e2eLatency: 'vllm:e2e_request_latency_seconds',
};

/** As SGLang's `python/sglang/srt/metrics/collector.py` declares them (exposed with --enable-metrics). */
const sglangNames: FlavorNames = {
	running: 'sglang:num_running_reqs',
	waiting: 'sglang:num_queue_reqs',
	kvCache: ['sglang:token_usage'],
	promptTokens: 'sglang:prompt_tokens_total',
	generationTokens: 'sglang:generation_tokens_total',
	ttft: 'sglang:time_to_first_token_seconds',
	e2eLatency: 'sglang:e2e_request_latency_seconds',
};

const flavors = [
	['vllm', 'vllm:', vllmNames],
	['sglang', 'sglang:', sglangNames],
] as const;

const histogramSuffixes = ['_bucket', '_sum', '_count'] as const;

const wanted: ReadonlySet<string> = new Set(flavors.flatMap(([, , names]) => [
	names.running,
	names.waiting,
	...names.kvCache,
	names.promptTokens,
	names.generationTokens,
	...[names.ttft, names.e2eLatency].flatMap((family) => histogramSuffixes.map((suffix) => family + suffix)),
]));

export function readBackendMetrics(text: string): BackendMetrics {
	const samples = parseMetrics(text, wanted);
	for (const [flavor, prefix, names] of flavors) {
		for (const name of samples.keys()) {
			if (name.startsWith(prefix)) {
				return extract(samples, flavor, names);
			}
		}
	}

	return {
		flavor: 'unknown',
		running: undefined,
		waiting: undefined,
		kvCacheUsage: undefined,
		promptTokens: undefined,
		generationTokens: undefined,
		ttft: undefined,
		e2eLatency: undefined,
	};
}

function extract(samples: Map<string, Sample[]>, flavor: BackendFlavor, names: FlavorNames): BackendMetrics {
	const kvFamily = names.kvCache.find((name) => samples.has(name));
	return {
		flavor,
		running: sumOverSchedulers(samples.get(names.running)),
		waiting: sumOverSchedulers(samples.get(names.waiting)),
		// The fullest engine, not the mean: a data-parallel engine with a full cache stalls or preempts
		// whatever lands on it, however empty its siblings, and routing must see that.
		kvCacheUsage: kvFamily === undefined ? undefined : highest(samples.get(kvFamily)),
		promptTokens: sum(samples.get(names.promptTokens)),
		generationTokens: sum(samples.get(names.generationTokens)),
		ttft: combineHistograms(samples, names.ttft),
		e2eLatency: combineHistograms(samples, names.e2eLatency),
	};
}

/**
 * Labels that tell apart ranks of one scheduler. SGLang reports a scheduler's gauges from its
 * first attention-TP rank by default, but from every pipeline stage, and from every TP rank with
 * --enable-metrics-for-all-schedulers; those copies describe the same queue and must count once.
 */
const rankLabels: ReadonlySet<string> = new Set(['tp_rank', 'pp_rank', 'moe_ep_rank']);
const leLabel: ReadonlySet<string> = new Set(['le']);

/** Engines (vLLM `engine`, SGLang `dp_rank`) have queues of their own and add up; ranks of one are copies. */
function sumOverSchedulers(series: readonly Sample[] | undefined): number | undefined {
	if (!series?.length) {
		return undefined;
	}

	const perScheduler = new Map<string, number>();
	for (const {labels, value} of series) {
		if (Number.isNaN(value)) {
			continue;
		}

		const key = seriesKey(labels, rankLabels);
		perScheduler.set(key, Math.max(perScheduler.get(key) ?? value, value));
	}

	return perScheduler.size === 0 ? undefined : [...perScheduler.values()].reduce((total, value) => total + value, 0);
}

function sum(series: readonly Sample[] | undefined): number | undefined {
	if (!series?.length) {
		return undefined;
	}

	let total = 0;
	for (const {value} of series) {
		total += value;
	}

	return total;
}

function highest(series: readonly Sample[] | undefined): number | undefined {
	let result: number | undefined;
	for (const {value} of series ?? []) {
		if (!Number.isNaN(value) && (result === undefined || value > result)) {
			result = value;
		}
	}

	return result;
}

/** Identifies a series among others of its family: its labels but the omitted ones, in a fixed order. */
function seriesKey(labels: Labels, omit: ReadonlySet<string>): string {
	return Object.keys(labels)
		.filter((name) => !omit.has(name))
		.sort()
		.map((name) => `${name}=${JSON.stringify(labels[name])}`)
		.join(',');
}

/**
 * One histogram for the whole backend: bucket counts summed over its series (engines). Series
 * of one server share their bounds; should one lack a bound another has, its count there is
 * taken from its next lower bound, which is what it is known to have observed up to that point.
 */
function combineHistograms(samples: Map<string, Sample[]>, family: string): CumulativeHistogram | undefined {
	const perSeries = new Map<string, Map<number, number>>();
	for (const {labels, value} of samples.get(`${family}_bucket`) ?? []) {
		const bound = parseValue(labels['le'] ?? '');
		if (bound === undefined || Number.isNaN(bound)) {
			continue;
		}

		const key = seriesKey(labels, leLabel);
		const buckets = perSeries.get(key) ?? new Map<number, number>();
		perSeries.set(key, buckets.set(bound, value));
	}

	if (perSeries.size === 0) {
		return undefined;
	}

	const bounds = [...new Set([...perSeries.values()].flatMap((buckets) => [...buckets.keys()]))].sort(ascending);
	const counts = bounds.map(() => 0);
	for (const buckets of perSeries.values()) {
		const own = [...buckets].sort(([a], [b]) => ascending(a, b));
		let next = 0;
		let cumulative = 0;
		for (const [index, bound] of bounds.entries()) {
			while (next < own.length && own[next]![0] <= bound) {
				cumulative = own[next]![1];
				next++;
			}

			counts[index]! += cumulative;
		}
	}

	return {
		bounds,
		counts,
		sum: sum(samples.get(`${family}_sum`)) ?? Number.NaN,
		count: sum(samples.get(`${family}_count`)) ?? counts.at(-1)!,
	};
}

function ascending(a: number, b: number): number {
	return a - b;
}
