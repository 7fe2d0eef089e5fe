import {FINISHED_REASONS, KV_BLOCK_SIZE, type Engine} from './engine.js';
import type {Histogram} from './histogram.js';
import {pyFloatRepr} from './pyrepr.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsContext {
	engine: Engine;
	modelName: string;
	/** V0 layout: `gpu_cache_usage_perc`, V0-only gauges, no `engine` label. */
	legacy: boolean;
	/** When the series were created, in epoch seconds: the value of every `_created` sample. */
	createdSeconds: number;
	kvCapacityTokens: number;
}

type Labels = Record<string, string>;

/**
 * prometheus_client's `floatToGoString`: Python's float repr, except that
 * positive numbers with more than six integer digits switch to an exponent
 * (`1.767e+09`), as Go's formatter would.
 */
export function formatSampleValue(value: number): string {
	if (value === Number.POSITIVE_INFINITY) return '+Inf';
	if (value === Number.NEGATIVE_INFINITY) return '-Inf';
	if (Number.isNaN(value)) return 'NaN';
	const repr = pyFloatRepr(value);
	const dot = repr.indexOf('.');
	if (value > 0 && dot > 6 && !repr.includes('e')) {
		const mantissa = `${repr[0]}.${repr.slice(1, dot)}${repr.slice(dot + 1)}`.replace(/[.0]+$/, '');
		return `${mantissa}e+0${dot - 1}`;
	}
	return repr;
}

/** Renders /metrics the way vLLM's prometheus_client registry does: same names, order, labels and number format. */
export function renderMetrics(context: MetricsContext): string {
	const { engine, legacy } = context;
	const totals = engine.totals;
	const base: Labels = legacy ? { model_name: context.modelName } : { engine: '0', model_name: context.modelName };
	const out = new Exposition(base, context.createdSeconds);

	out.gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', engine.runningCount);
	if (legacy) out.gauge('vllm:num_requests_swapped', 'Number of requests swapped to CPU.', 0);
	out.gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', engine.waitingCount);
	if (legacy) {
		out.gauge('vllm:gpu_cache_usage_perc', 'GPU KV-cache usage. 1 means 100 percent usage.', engine.kvCacheUsage());
		out.gauge('vllm:cpu_cache_usage_perc', 'CPU KV-cache usage. 1 means 100 percent usage.', 0);
	} else {
		out.gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', engine.kvCacheUsage());
		out.counter(
			'vllm:prefix_cache_queries',
			'Prefix cache queries, in terms of number of queried tokens.',
			[[{}, totals.promptTokens]],
		);
		out.counter('vllm:prefix_cache_hits', 'Prefix cache hits, in terms of number of cached tokens.', [[{}, 0]]);
	}
	out.counter('vllm:num_preemptions', 'Cumulative number of preemption from the engine.', [[{}, 0]]);
	out.counter('vllm:prompt_tokens', 'Number of prefill tokens processed.', [[{}, totals.promptTokens]]);
	out.counter('vllm:generation_tokens', 'Number of generation tokens processed.', [[{}, engine.generationTokens()]]);
	out.counter(
		'vllm:request_success',
		'Count of successfully processed requests.',
		FINISHED_REASONS.map((reason) => [{ finished_reason: reason }, totals.finished[reason]]),
	);
	out.histogram(
		'vllm:time_to_first_token_seconds',
		'Histogram of time to first token in seconds.',
		totals.timeToFirstToken,
	);
	out.histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', totals.requestLatency);
	out.info('vllm:cache_config_info', 'Information of the LLMEngine CacheConfig', {
		block_size: String(KV_BLOCK_SIZE),
		cache_dtype: 'auto',
		enable_prefix_caching: 'True',
		gpu_memory_utilization: '0.9',
		num_gpu_blocks: String(Math.ceil(context.kvCapacityTokens / KV_BLOCK_SIZE)),
	});
	// Not a vLLM metric: vLLM leaves aborts uncounted, and tests need to see them.
	out.counter('sim:requests_aborted', 'Simulator only: requests aborted because the client disconnected.', [
		[{}, totals.aborted],
	]);
	return out.text();
}

/** Writes metric families in the Prometheus text format 0.0.4, labels sorted by name. */
class Exposition {
	private readonly lines: string[] = [];

	constructor(
		private readonly baseLabels: Labels,
		private readonly createdSeconds: number,
	) {}

	gauge(name: string, help: string, value: number): void {
		this.header(name, help, 'gauge');
		this.sample(name, {}, value);
	}

	/** Counters get `_total`, then a separate `_created` gauge family, as prometheus_client prints them. */
	counter(name: string, help: string, series: readonly (readonly [Labels, number])[]): void {
		this.header(`${name}_total`, help, 'counter');
		for (const [labels, value] of series) this.sample(`${name}_total`, labels, value);
		this.createdFamily(name, help, series.map(([labels]) => labels));
	}

	histogram(name: string, help: string, histogram: Histogram): void {
		this.header(name, help, 'histogram');
		const cumulative = histogram.cumulativeCounts();
		histogram.upperBounds.forEach((bound, i) => {
			this.sample(`${name}_bucket`, { le: formatSampleValue(bound) }, cumulative[i] ?? 0);
		});
		this.sample(`${name}_bucket`, { le: '+Inf' }, histogram.count);
		this.sample(`${name}_count`, {}, histogram.count);
		this.sample(`${name}_sum`, {}, histogram.sum);
		this.createdFamily(name, help, [{}]);
	}

	/** vLLM publishes configuration as a gauge whose labels carry the values. */
	info(name: string, help: string, labels: Labels): void {
		this.header(name, help, 'gauge');
		this.sample(name, labels, 1);
	}

	text(): string {
		return `${this.lines.join('\n')}\n`;
	}

	private createdFamily(name: string, help: string, labelSets: readonly Labels[]): void {
		this.header(`${name}_created`, help, 'gauge');
		for (const labels of labelSets) this.sample(`${name}_created`, labels, this.createdSeconds);
	}

	private header(name: string, help: string, type: string): void {
		this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
	}

	private sample(name: string, labels: Labels, value: number): void {
		const merged = { ...this.baseLabels, ...labels };
		const rendered = Object.keys(merged)
			.sort()
			.map((key) => `${key}="${escapeLabelValue(merged[key] ?? '')}"`)
			.join(',');
		this.lines.push(`${name}{${rendered}} ${formatSampleValue(value)}`);
	}
}

function escapeLabelValue(value: string): string {
	return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
