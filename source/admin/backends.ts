import type {Fleet} from '../fleet/fleet.js';
import type {BackendView, Telemetry} from '../metrics/telemetry.js';

interface BackendRow {
	view: BackendView;
	capacity: number;
}

function rows(fleet: Fleet, telemetry: Telemetry): BackendRow[] {
	return fleet.models.flatMap(model => model.backends().map(backend => ({view: telemetry.view(model.name, backend.url), capacity: backend.capacity})));
}

/** Running plus waiting from the last scrape; switchboard's own in-flight count for a backend without /metrics. */
function currentLoad(view: BackendView): number {
	const metrics = view.health?.metrics;
	return metrics?.running === undefined ? view.inflight : metrics.running + (metrics.waiting ?? 0);
}

const oneDecimal = (value: number) => Math.round(value * 10) / 10;
const orNull = (value: number | undefined) => value === undefined ? null : value;
const roundedOrNull = (value: number | undefined) => value === undefined ? null : oneDecimal(value);

/** `GET /load-stats` in vllm-router's shape (its dashboards and scripts read it), with switchboard's figures added. */
export function loadStats(fleet: Fleet, telemetry: Telemetry) {
	const servers = rows(fleet, telemetry).map(({view, capacity}) => {
		const load = currentLoad(view);
		const metrics = view.health?.metrics;
		const kvCache = metrics?.kvCacheUsage;
		return {
			url: view.url,
			model: view.model,
			current_load: load,
			max_capacity: capacity,
			available_capacity: Math.max(0, capacity - load),
			utilization_percent: oneDecimal((load / capacity) * 100),
			status: view.health?.healthy ?? true,
			detailed_metrics: {
				num_requests_running: orNull(metrics?.running),
				num_requests_waiting: orNull(metrics?.waiting),
				gpu_cache_usage_perc: kvCache === undefined ? null : oneDecimal(kvCache * 100),
				prompt_tokens_per_second: roundedOrNull(view.scrape?.promptTokensPerSecond),
				generation_tokens_per_second: roundedOrNull(view.scrape?.generationTokensPerSecond),
				in_flight: view.inflight,
				requests_per_second: oneDecimal(view.lastMinute.requestsPerSecond),
				latency_p50_ms: roundedOrNull(view.lastMinute.latencyP50Ms),
				latency_p95_ms: roundedOrNull(view.lastMinute.latencyP95Ms),
				ttft_p50_ms: roundedOrNull(view.scrape?.ttftP50Ms ?? view.lastMinute.ttftP50Ms),
				errors: view.errors,
				consecutive_failures: view.health?.failures ?? 0,
				last_error: view.health?.lastError ?? null,
			},
		};
	});
	const healthy = servers.filter(server => server.status);
	const totalLoad = servers.reduce((sum, server) => sum + server.current_load, 0);
	const totalCapacity = servers.reduce((sum, server) => sum + server.max_capacity, 0);
	return {
		servers,
		summary: {
			total_servers: servers.length,
			healthy_servers: healthy.length,
			total_active_load: totalLoad,
			total_capacity: totalCapacity,
			overall_utilization_percent: totalCapacity === 0 ? 0 : oneDecimal((totalLoad / totalCapacity) * 100),
		},
	};
}

/** `GET /_backends` in the vLLM Forwarder's shape: health and running/waiting per backend. */
export function backendsStatus(fleet: Fleet, telemetry: Telemetry) {
	return {
		backends: rows(fleet, telemetry).map(({view}) => ({
			url: view.url,
			model: view.model,
			healthy: view.health?.healthy ?? true,
			num_requests_running: orNull(view.health?.metrics?.running),
			num_requests_waiting: orNull(view.health?.metrics?.waiting),
			last_checked: view.health?.checkedAt === undefined ? null : view.health.checkedAt / 1000,
			last_error: view.health?.lastError ?? null,
		})),
	};
}

export type LoadStatsReply = ReturnType<typeof loadStats>;
export type ServerLoad = LoadStatsReply['servers'][number];
