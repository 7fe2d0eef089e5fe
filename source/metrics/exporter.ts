import {collectDefaultMetrics, Counter, Gauge, Registry, type Metric} from 'prom-client';
import type {Fleet} from '../fleet/fleet.js';
import {latencyBucketsMs} from './rolling.js';
import type {BackendView, Telemetry} from './telemetry.js';

const modelStates = ['stopped', 'loading', 'ready', 'draining', 'failed'] as const;

/**
 * switchboard's own Prometheus metrics (`GET /metrics`): requests, errors and queues per model,
 * health, load and latency per backend. Every value is read from the fleet and the telemetry when
 * scraped, so nothing is counted twice and nothing runs between scrapes.
 */
export class PrometheusExporter {
	readonly #registry = new Registry();

	constructor(fleet: Fleet, telemetry: Telemetry) {
		const registers = [this.#registry];
		const views = () => fleet.models.flatMap(model => model.backends().map(backend => telemetry.view(model.name, backend.url)));
		const perModel = (name: string, help: string, read: (snapshot: ReturnType<Fleet['snapshot']>[number]) => number, type: 'counter' | 'gauge') => {
			const options = {
				name, help, labelNames: ['model'], registers,
				collect(this: Counter | Gauge) {
					this.reset();
					for (const snapshot of fleet.snapshot()) {
						const value = read(snapshot);
						if (this instanceof Counter) {
							this.inc({model: snapshot.name}, value);
						} else {
							this.set({model: snapshot.name}, value);
						}
					}
				},
			};
			return type === 'counter' ? new Counter(options) : new Gauge(options);
		};

		perModel('switchboard_requests_total', 'Requests received per model (including those refused while it loaded).', snapshot => snapshot.requests, 'counter');
		perModel('switchboard_request_errors_total', 'Requests per model answered with an error of 5xx.', snapshot => snapshot.errors, 'counter');
		perModel('switchboard_requests_in_flight', 'Requests per model being served or held right now.', snapshot => snapshot.inflight, 'gauge');
		perModel('switchboard_requests_queued', 'Requests per model held until it is ready.', snapshot => snapshot.queued, 'gauge');
		new Gauge({
			name: 'switchboard_model_state', help: '1 for the state each model is in.', labelNames: ['model', 'state'], registers,
			collect() {
				this.reset();
				for (const snapshot of fleet.snapshot()) {
					for (const state of modelStates) {
						this.set({model: snapshot.name, state}, snapshot.state === state ? 1 : 0);
					}
				}
			},
		});

		const perBackend = (name: string, help: string, read: (view: BackendView) => number | undefined, type: 'counter' | 'gauge') => {
			const options = {
				name, help, labelNames: ['model', 'backend'], registers,
				collect(this: Counter | Gauge) {
					this.reset();
					for (const view of views()) {
						const value = read(view);
						if (value === undefined) {
							continue;
						}

						if (this instanceof Counter) {
							this.inc({model: view.model, backend: view.url}, value);
						} else {
							this.set({model: view.model, backend: view.url}, value);
						}
					}
				},
			};
			return type === 'counter' ? new Counter(options) : new Gauge(options);
		};

		perBackend('switchboard_backend_healthy', '1 while the backend passes its health checks.', view => view.health?.healthy === false ? 0 : 1, 'gauge');
		perBackend('switchboard_backend_in_flight', 'Requests switchboard has in flight to the backend.', view => view.inflight, 'gauge');
		perBackend('switchboard_backend_requests_total', 'Request attempts sent to the backend.', view => view.requests, 'counter');
		perBackend('switchboard_backend_errors_total', 'Attempts that failed to connect or got a 5xx.', view => view.errors, 'counter');
		perBackend('switchboard_backend_running', 'Requests running, from the backend\'s last /metrics scrape.', view => view.health?.metrics?.running, 'gauge');
		perBackend('switchboard_backend_waiting', 'Requests waiting, from the backend\'s last /metrics scrape.', view => view.health?.metrics?.waiting, 'gauge');
		perBackend('switchboard_backend_kv_cache_usage', 'KV-cache usage (0–1), from the backend\'s last /metrics scrape.', view => view.health?.metrics?.kvCacheUsage, 'gauge');
		this.#histogram('switchboard_backend_request_duration_seconds', 'Time from sending a request to the backend until its response ended.', views, view => view.latencyCounts);
		this.#histogram('switchboard_backend_first_byte_seconds', 'Time from sending a request to the backend until its first response byte (the time to first token of a stream).', views, view => view.ttftCounts);
		collectDefaultMetrics({register: this.#registry, prefix: 'switchboard_'});
	}

	get contentType(): string {
		return this.#registry.contentType;
	}

	async text(): Promise<string> {
		return this.#registry.metrics();
	}

	/**
	 * A histogram whose buckets the data plane already counted: prom-client's Histogram only takes
	 * single observations, so this hands the registry the finished series. The registry asks a
	 * metric for nothing but its name and `get()`.
	 */
	#histogram(name: string, help: string, views: () => BackendView[], counts: (view: BackendView) => readonly number[]): void {
		const metric = {
			name,
			async get() {
				const values = [];
				for (const view of views()) {
					const perBucket = counts(view);
					const labels = {model: view.model, backend: view.url};
					let cumulative = 0;
					let sum = 0;
					for (const [index, bound] of latencyBucketsMs.entries()) {
						cumulative += perBucket[index] ?? 0;
						// The data plane keeps counts only, so the sum is estimated at each bucket's upper bound.
						sum += (perBucket[index] ?? 0) * bound / 1000;
						values.push({metricName: `${name}_bucket`, labels: {...labels, le: bound / 1000}, value: cumulative});
					}

					cumulative += perBucket[latencyBucketsMs.length] ?? 0;
					values.push({metricName: `${name}_bucket`, labels: {...labels, le: '+Inf'}, value: cumulative}, {metricName: `${name}_sum`, labels, value: sum}, {metricName: `${name}_count`, labels, value: cumulative});
				}

				return {name, help, type: 'histogram', aggregator: 'sum', values};
			},
		};
		this.#registry.registerMetric(metric as unknown as Metric);
	}
}
