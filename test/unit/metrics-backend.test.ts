import assert from 'node:assert/strict';
import {describe, it} from 'node:test';
import {readBackendMetrics} from '../../source/metrics/backend-metrics.js';
import {histogramQuantile} from '../../source/metrics/histogram.js';
import type {SimClock} from '../../source/sim/clock.js';
import {Engine} from '../../source/sim/engine.js';
import {renderMetrics} from '../../source/sim/metrics.js';

/** vLLM 0.13 (V1): sorted labels with `engine`, counters with `_created` companions, histograms trimmed to three buckets. */
const vllm = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="my-model"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="my-model"} 1.0
# HELP vllm:num_requests_waiting_by_reason Number of requests waiting, by reason.
# TYPE vllm:num_requests_waiting_by_reason gauge
vllm:num_requests_waiting_by_reason{engine="0",model_name="my-model",reason="capacity"} 1.0
vllm:num_requests_waiting_by_reason{engine="0",model_name="my-model",reason="deferred"} 0.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="my-model"} 0.27
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="my-model"} 5120.0
# HELP vllm:prompt_tokens_created Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_created gauge
vllm:prompt_tokens_created{engine="0",model_name="my-model"} 1.767e+09
# HELP vllm:generation_tokens_total Number of generation tokens processed.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="my-model"} 6.49e+07
# HELP vllm:generation_tokens_created Number of generation tokens processed.
# TYPE vllm:generation_tokens_created gauge
vllm:generation_tokens_created{engine="0",model_name="my-model"} 1.767e+09
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.04",model_name="my-model"} 30.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.06",model_name="my-model"} 41.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="my-model"} 42.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="my-model"} 42.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="my-model"} 1.61
# HELP vllm:time_to_first_token_seconds_created Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds_created gauge
vllm:time_to_first_token_seconds_created{engine="0",model_name="my-model"} 1.767e+09
# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_bucket{engine="0",le="0.3",model_name="my-model"} 2.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="1.0",model_name="my-model"} 22.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="my-model"} 42.0
vllm:e2e_request_latency_seconds_count{engine="0",model_name="my-model"} 42.0
vllm:e2e_request_latency_seconds_sum{engine="0",model_name="my-model"} 61.5
# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",cache_dtype="auto",enable_prefix_caching="True",engine="0",gpu_memory_utilization="0.9",num_gpu_blocks="26589"} 1.0
# HELP http_requests_total Total number of requests by method, status and handler.
# TYPE http_requests_total counter
http_requests_total{handler="/v1/chat/completions",method="POST",status="2xx"} 42.0
`;

/** vLLM 0.8 on the V0 engine: only `model_name`, and the KV gauge under its old name. */
const vllmV0 = `# HELP vllm:num_requests_running Number of requests currently running on GPU.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="old-model"} 2.0
# HELP vllm:num_requests_swapped Number of requests swapped to CPU.
# TYPE vllm:num_requests_swapped gauge
vllm:num_requests_swapped{model_name="old-model"} 0.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="old-model"} 7.0
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="old-model"} 0.5
# HELP vllm:cpu_cache_usage_perc CPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:cpu_cache_usage_perc gauge
vllm:cpu_cache_usage_perc{model_name="old-model"} 0.0
`;

/** vLLM with data parallelism: one series per engine. */
const vllmDataParallel = `vllm:num_requests_running{engine="0",model_name="m"} 2.0
vllm:num_requests_running{engine="1",model_name="m"} 5.0
vllm:num_requests_waiting{engine="0",model_name="m"} 1.0
vllm:num_requests_waiting{engine="1",model_name="m"} 0.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.9
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.2
vllm:prompt_tokens_total{engine="0",model_name="m"} 100.0
vllm:prompt_tokens_total{engine="1",model_name="m"} 250.0
vllm:generation_tokens_total{engine="0",model_name="m"} 1000.0
vllm:generation_tokens_total{engine="1",model_name="m"} 3000.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 1.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.5",model_name="m"} 3.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 4.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 4.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 1.5
vllm:time_to_first_token_seconds_bucket{engine="1",le="0.1",model_name="m"} 2.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="0.5",model_name="m"} 2.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="+Inf",model_name="m"} 5.0
vllm:time_to_first_token_seconds_count{engine="1",model_name="m"} 5.0
vllm:time_to_first_token_seconds_sum{engine="1",model_name="m"} 4.25
`;

/** SGLang with --enable-metrics: `_sum` before the buckets, values in exponent form. */
const sglang = `# HELP sglang:num_running_reqs The number of running requests.
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{engine_type="unified",model_name="meta-llama/Llama-3.1-8B-Instruct",moe_ep_rank="0",pp_rank="0",tp_rank="0"} 4.0
# HELP sglang:num_queue_reqs The number of requests in the waiting queue.
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{engine_type="unified",model_name="meta-llama/Llama-3.1-8B-Instruct",moe_ep_rank="0",pp_rank="0",tp_rank="0"} 2.0
# HELP sglang:token_usage The token usage.
# TYPE sglang:token_usage gauge
sglang:token_usage{engine_type="unified",model_name="meta-llama/Llama-3.1-8B-Instruct",moe_ep_rank="0",pp_rank="0",tp_rank="0"} 0.28
# HELP sglang:prompt_tokens_total Number of prefill tokens processed.
# TYPE sglang:prompt_tokens_total counter
sglang:prompt_tokens_total{model_name="meta-llama/Llama-3.1-8B-Instruct"} 8.128902e+06
# HELP sglang:generation_tokens_total Number of generation tokens processed.
# TYPE sglang:generation_tokens_total counter
sglang:generation_tokens_total{model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.557572e+06
# HELP sglang:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE sglang:time_to_first_token_seconds histogram
sglang:time_to_first_token_seconds_sum{model_name="meta-llama/Llama-3.1-8B-Instruct"} 2.3518979474117756e+06
sglang:time_to_first_token_seconds_bucket{le="0.1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 100.0
sglang:time_to_first_token_seconds_bucket{le="0.2",model_name="meta-llama/Llama-3.1-8B-Instruct"} 300.0
sglang:time_to_first_token_seconds_bucket{le="+Inf",model_name="meta-llama/Llama-3.1-8B-Instruct"} 400.0
sglang:time_to_first_token_seconds_count{model_name="meta-llama/Llama-3.1-8B-Instruct"} 400.0
# HELP sglang:e2e_request_latency_seconds Histogram of End-to-end request latency in seconds
# TYPE sglang:e2e_request_latency_seconds histogram
sglang:e2e_request_latency_seconds_sum{model_name="meta-llama/Llama-3.1-8B-Instruct"} 900.0
sglang:e2e_request_latency_seconds_bucket{le="1.0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 10.0
sglang:e2e_request_latency_seconds_bucket{le="+Inf",model_name="meta-llama/Llama-3.1-8B-Instruct"} 400.0
sglang:e2e_request_latency_seconds_count{model_name="meta-llama/Llama-3.1-8B-Instruct"} 400.0
`;

describe('backend metrics', () => {
	it('reads vLLM V1 gauges, counters and histograms', () => {
		const metrics = readBackendMetrics(vllm);
		assert.equal(metrics.flavor, 'vllm');
		assert.equal(metrics.running, 3);
		assert.equal(metrics.waiting, 1, 'waiting_by_reason is not added in');
		assert.equal(metrics.kvCacheUsage, 0.27);
		assert.equal(metrics.promptTokens, 5120);
		assert.equal(metrics.generationTokens, 64_900_000);
		assert.deepEqual(metrics.ttft, {bounds: [0.04, 0.06, Number.POSITIVE_INFINITY], counts: [30, 41, 42], sum: 1.61, count: 42});
		assert.deepEqual(metrics.e2eLatency, {bounds: [0.3, 1, Number.POSITIVE_INFINITY], counts: [2, 22, 42], sum: 61.5, count: 42});
	});

	it('reads the same text with CRLF line ends', () => {
		const metrics = readBackendMetrics(vllm.replaceAll('\n', '\r\n'));
		assert.equal(metrics.running, 3);
		assert.equal(metrics.e2eLatency?.count, 42);
	});

	it('falls back to gpu_cache_usage_perc on a V0 engine, and prefers the new name when both are there', () => {
		const old = readBackendMetrics(vllmV0);
		assert.deepEqual([old.flavor, old.running, old.waiting, old.kvCacheUsage], ['vllm', 2, 7, 0.5]);
		assert.equal(old.promptTokens, undefined);
		assert.equal(old.ttft, undefined);
		// vLLM 0.10 exposed both while the old one was deprecated.
		const both = readBackendMetrics(`${vllmV0}vllm:kv_cache_usage_perc{engine="0",model_name="old-model"} 0.75\n`);
		assert.equal(both.kvCacheUsage, 0.75);
	});

	it('sums data-parallel engines, but takes the fullest KV cache', () => {
		const metrics = readBackendMetrics(vllmDataParallel);
		assert.equal(metrics.running, 7);
		assert.equal(metrics.waiting, 1);
		assert.equal(metrics.kvCacheUsage, 0.9);
		assert.equal(metrics.promptTokens, 350);
		assert.equal(metrics.generationTokens, 4000);
		assert.deepEqual(metrics.ttft, {bounds: [0.1, 0.5, Number.POSITIVE_INFINITY], counts: [3, 5, 9], sum: 5.75, count: 9});
		assert.equal(metrics.e2eLatency, undefined);
	});

	it('sums series of several model names', () => {
		const metrics = readBackendMetrics('vllm:num_requests_running{engine="0",model_name="a"} 1\nvllm:num_requests_running{engine="0",model_name="b"} 2\n');
		assert.equal(metrics.running, 3);
		assert.equal(metrics.waiting, undefined);
		assert.equal(metrics.kvCacheUsage, undefined);
	});

	it('adds engines whose bounds differ by step, each counting what it saw up to a bound', () => {
		const metrics = readBackendMetrics([
			'vllm:e2e_request_latency_seconds_bucket{engine="0",le="1.0"} 4',
			'vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf"} 6',
			'vllm:e2e_request_latency_seconds_bucket{engine="1",le="0.5"} 1',
			'vllm:e2e_request_latency_seconds_bucket{engine="1",le="2.0"} 3',
			'vllm:e2e_request_latency_seconds_bucket{engine="1",le="+Inf"} 3',
		].join('\n'));
		assert.deepEqual(metrics.e2eLatency?.bounds, [0.5, 1, 2, Number.POSITIVE_INFINITY]);
		assert.deepEqual(metrics.e2eLatency?.counts, [1, 5, 7, 9]);
		assert.equal(metrics.e2eLatency?.count, 9, 'without _count, the +Inf bucket');
	});

	it('reads SGLang', () => {
		const metrics = readBackendMetrics(sglang);
		assert.equal(metrics.flavor, 'sglang');
		assert.equal(metrics.running, 4);
		assert.equal(metrics.waiting, 2);
		assert.equal(metrics.kvCacheUsage, 0.28);
		assert.equal(metrics.promptTokens, 8_128_902);
		assert.equal(metrics.generationTokens, 7_557_572);
		assert.deepEqual(metrics.ttft?.counts, [100, 300, 400]);
		assert.equal(metrics.ttft?.sum, 2_351_897.947_411_775_6);
		assert.equal(histogramQuantile(0.5, metrics.e2eLatency!), 1, 'rank 200 is past the last finite bound');
	});

	it('counts an SGLang scheduler once however many ranks report it, and adds DP ranks', () => {
		const gauge = (name: string, dp: number, pp: number, tp: number, value: number) =>
			`sglang:${name}{dp_rank="${dp}",engine_type="unified",model_name="m",moe_ep_rank="0",pp_rank="${pp}",tp_rank="${tp}"} ${value}`;
		const metrics = readBackendMetrics([
			gauge('num_running_reqs', 0, 0, 0, 4),
			gauge('num_running_reqs', 0, 1, 2, 4),
			gauge('num_running_reqs', 1, 0, 1, 6),
			gauge('num_running_reqs', 1, 1, 3, 5),
			gauge('num_queue_reqs', 0, 0, 0, 1),
			gauge('num_queue_reqs', 1, 0, 1, 2),
			gauge('token_usage', 0, 0, 0, 0.3),
			gauge('token_usage', 1, 0, 1, 0.8),
		].join('\n'));
		assert.equal(metrics.running, 10, 'dp 0: 4 (two stages); dp 1: 6, the higher of its two');
		assert.equal(metrics.waiting, 3);
		assert.equal(metrics.kvCacheUsage, 0.8);
	});

	it('knows nothing of a server without these metrics, and ignores malformed lines', () => {
		const unknown = readBackendMetrics('# HELP python_gc_objects_collected_total Objects collected\npython_gc_objects_collected_total{generation="0"} 1234.0\n');
		assert.deepEqual(unknown, {
			flavor: 'unknown',
			running: undefined,
			waiting: undefined,
			kvCacheUsage: undefined,
			promptTokens: undefined,
			generationTokens: undefined,
			ttft: undefined,
			e2eLatency: undefined,
		});
		assert.equal(readBackendMetrics('').flavor, 'unknown');
		const damaged = readBackendMetrics('vllm:num_requests_running{engine="0" 9\nvllm:num_requests_running{engine="1"} 2.0\nvllm:num_requests_waiting{engine="0"} lots\n');
		assert.equal(damaged.running, 2);
		assert.equal(damaged.waiting, undefined);
	});
});

/** A clock standing still: sequences stay where submit left them. */
const stoppedClock: SimClock = {
	monotonicMs: () => 0,
	wallMs: () => 1_767_000_000_000,
	schedule: () => ({cancel() {}, unref() {}}),
};

function busySimEngine(): Engine {
	const engine = new Engine({maxNumSeqs: 2, tokenRate: 10, ttftMs: 1000, kvCapacityTokens: 1600}, stoppedClock, () => {});
	for (const requestId of ['a', 'b', 'c']) {
		engine.submit({requestId, promptTokens: 40, outputTokens: 8, finishReason: 'length', stalled: false, arrivalMs: 0, onToken: null, onFinish() {}});
	}

	return engine;
}

describe('backend metrics from the simulator', () => {
	for (const legacy of [false, true]) {
		it(`reads its ${legacy ? 'legacy (V0)' : 'V1'} output`, () => {
			const engine = busySimEngine();
			const text = renderMetrics({engine, modelName: 'sim', legacy, createdSeconds: 1_767_000_000, kvCapacityTokens: 1600});
			const metrics = readBackendMetrics(text);
			assert.equal(metrics.flavor, 'vllm');
			assert.equal(metrics.running, 2);
			assert.equal(metrics.waiting, 1);
			// Two running sequences of 40 prompt tokens hold 3 blocks of 16 each, of 100.
			assert.equal(metrics.kvCacheUsage, 0.06);
			assert.equal(metrics.promptTokens, 80);
			assert.equal(metrics.generationTokens, 0);
			assert.equal(metrics.ttft?.count, 0);
			assert.equal(metrics.ttft?.bounds.length, 23);
		});
	}
});
