import {collectDefaultMetrics, Counter, Gauge, Registry, type Metric} from 'prom-client';
import type {Fleet} from '../fleet/fleet.js';
import type {ModelSnapshot} from '../fleet/model.js';
import {latencyBucketsMs} from './rolling.js';
import type {BackendView, Telemetry} from './telemetry.js';

const modelStates = ['stopped', 'loading', 'ready', 'draining', 'failed'] as const;

/**
 * switchboard's own Prometheus metrics (`GET /metrics`): requests, errors and queues per model,
 * health, load and latency per backend. Every value is read from the fleet and the telemetry when
 * scraped, so nothing is counted twice and nothing runs between scrapes.
 */
type Labels = Record<string, string>;

/** What one scrape reads, once, for every series. */
interface Scrape {
	models: ModelSnapshot[];
	backends: BackendView[];
}

export class PrometheusExporter {
	readonly #registry = new Registry();
	#scrape: Scrape = {models: [], backends: []};

	constructor(private readonly fleet: Fleet, private readonly telemetry: Telemetry, events: {readonly subscribers: number}) {
		const registers = [this.#registry];
		const series = (type: 'counter' | 'gauge', name: string, help: string, labelNames: string[], rows: (scrape: Scrape) => Array<[Labels, number | undefined]>) => {
			const scrape = () => this.#scrape;
			const options = {
				name, help, labelNames, registers,
				collect(this: Counter | Gauge) {
					this.reset();
					for (const [labels, value] of rows(scrape())) {
						if (value === undefined) {
							continue;
						}

						if (this instanceof Counter) {
							this.inc(labels, value);
						} else {
							this.set(labels, value);
						}
					}
				},
			};
			return type === 'counter' ? new Counter(options) : new Gauge(options);
		};

		const perModel = (type: 'counter' | 'gauge', name: string, help: string, read: (model: ModelSnapshot) => number) =>
			series(type, name, help, ['model'], ({models}) => models.map(model => [{model: model.name}, read(model)]));
		const perBackend = (type: 'counter' | 'gauge', name: string, help: string, read: (view: BackendView) => number | undefined) =>
			series(type, name, help, ['model', 'backend'], ({backends}) => backends.map(view => [{model: view.model, backend: view.url}, read(view)]));

		perModel('counter', 'switchboard_requests_total', 'Requests received per model (including those refused while it loaded).', model => model.requests);
		perModel('counter', 'switchboard_request_errors_total', 'Requests per model answered with an error of 5xx.', model => model.errors);
		perModel('gauge', 'switchboard_requests_in_flight', 'Requests per model being served or held right now.', model => model.inflight);
		perModel('gauge', 'switchboard_requests_queued', 'Requests per model held until it is ready.', model => model.queued);
		perModel('gauge', 'switchboard_model_replicas', 'Backends per model that are loading, ready or restarting.', model => model.replicas.filter(replica => replica.state !== 'draining').length);
		perModel('counter', 'switchboard_model_restarts_total', 'Backends restarted after a crash, per model.', model => model.restarts);
		series('gauge', 'switchboard_model_state', '1 for the state each model is in.', ['model', 'state'], ({models}) =>
			models.flatMap(model => modelStates.map((state): [Labels, number] => [{model: model.name, state}, model.state === state ? 1 : 0])));
		perBackend('gauge', 'switchboard_backend_healthy', '1 while the backend passes its health checks.', view => view.health?.healthy === false ? 0 : 1);
		perBackend('gauge', 'switchboard_backend_in_flight', 'Requests switchboard has in flight to the backend.', view => view.inflight);
		perBackend('counter', 'switchboard_backend_requests_total', 'Request attempts sent to the backend.', view => view.requests);
		perBackend('counter', 'switchboard_backend_errors_total', 'Attempts that failed to connect or got a 5xx.', view => view.errors);
		perBackend('gauge', 'switchboard_backend_running', 'Requests running, from the backend\'s last /metrics scrape.', view => view.health?.metrics?.running);
		perBackend('gauge', 'switchboard_backend_waiting', 'Requests waiting, from the backend\'s last /metrics scrape.', view => view.health?.metrics?.waiting);
		perBackend('gauge', 'switchboard_backend_kv_cache_usage', 'KV-cache usage (0–1), from the backend\'s last /metrics scrape.', view => view.health?.metrics?.kvCacheUsage);
		series('gauge', 'switchboard_event_subscribers', 'Clients of GET /events connected now.', [], () => [[{}, events.subscribers]]);
		this.#histogram('switchboard_backend_request_duration_seconds', 'Time from sending a request to the backend until its response ended.', view => view.latencyCounts);
		this.#histogram('switchboard_backend_first_byte_seconds', 'Time from sending a request to the backend until its first response byte (the time to first token of a stream).', view => view.ttftCounts);
		collectDefaultMetrics({register: this.#registry, prefix: 'switchboard_'});
	}

	get contentType(): string {
		return this.#registry.contentType;
	}

	async text(): Promise<string> {
		this.#scrape = {
			models: this.fleet.snapshot(),
			backends: this.fleet.models.flatMap(model => model.backends().map(backend => this.telemetry.view(model.name, backend.url))),
		};
		return this.#registry.metrics();
	}

	/**
	 * A histogram whose buckets the data plane already counted: prom-client's Histogram only takes
	 * single observations, so this hands the registry the finished series. The registry asks a
	 * metric for nothing but its name and `get()`.
	 */
	#histogram(name: string, help: string, counts: (view: BackendView) => readonly number[]): void {
		const scrape = () => this.#scrape;
		const metric = {
			name,
			async get() {
				const values = [];
				for (const view of scrape().backends) {
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
