import type {LoadStatsReply, ServerLoad} from '../../source/admin/backends.js';
import type {ModelEntry, ReplicaEntry, StatusReply} from '../../source/admin/status.js';
import type {FleetEvent} from '../../source/fleet/events.js';
import type {ConsoleLink, LinkMethod, LinkReply} from '../../source/ui/link/link.js';

/**
 * A model as the fake switchboard holds it: its /status entry and its backends' /load-stats
 * entries (a model that runs nothing has none).
 */
export interface FakeModel {
	entry: ModelEntry;
	servers: ServerLoad[];
}

/** A command the console sent (anything but GET). */
export interface SentRequest {
	method: LinkMethod;
	path: string;
	body: unknown;
}

/** An error reply, as switchboard's admin API sends it (OpenAI's envelope). */
export interface Refusal {
	status: number;
	message: string;
	type: string;
}

const seconds = (ms: number) => ms / 1000;

/**
 * A switchboard as the console sees it through its link: GET /status, /load-stats and /logs/tail
 * answer from what the test set; every other call is recorded and answered as the test chose; the
 * test emits the fleet's events.
 */
export class FakeLink implements ConsoleLink {
	readonly remote: boolean;
	readonly sent: SentRequest[] = [];
	about: StatusReply['switchboard'];
	models: FakeModel[] = [];
	/** switchboard's own log lines, as /logs/tail?model=switchboard gives them. */
	ownLog: string[] = [];
	/** What commands get now: undefined, 200 and the model's entry; else this error. */
	refusal: Refusal | undefined;
	readonly #listeners = new Set<(event: FleetEvent) => void>();
	#trouble: ((message: string | undefined) => void) | undefined;

	constructor({remote = false, startedAt}: {remote?: boolean; startedAt: number}) {
		this.remote = remote;
		this.about = {version: '0.1.0', url: 'http://127.0.0.1:8080', started_at: seconds(startedAt), auth: false};
	}

	async request(method: LinkMethod, path: string, body?: unknown): Promise<LinkReply> {
		if (method === 'GET') {
			return this.#read(path);
		}

		this.sent.push({method, path, body});
		if (this.refusal) {
			const {status, message, type} = this.refusal;
			return {status, body: JSON.stringify({error: {message, type}})};
		}

		const name = /^\/models\/([^/]+)\//.exec(path)?.[1] ?? (body as {model?: string} | undefined)?.model;
		const model = this.models.find(candidate => candidate.entry.name === (name === undefined ? undefined : decodeURIComponent(name)));
		return {status: 200, body: JSON.stringify(model?.entry ?? {})};
	}

	subscribe(listener: (event: FleetEvent) => void, trouble?: (message: string | undefined) => void): () => void {
		this.#listeners.add(listener);
		this.#trouble = trouble;
		return () => this.#listeners.delete(listener);
	}

	close(): void {
		this.#listeners.clear();
	}

	emit(event: FleetEvent): void {
		for (const listener of this.#listeners) {
			listener(event);
		}
	}

	/** What an attached console hears when the event stream drops (undefined: it is back). */
	troubled(message: string | undefined): void {
		this.#trouble?.(message);
	}

	statusReply(): StatusReply {
		const current = this.models.find(model => model.entry.state === 'ready') ?? this.models[0];
		return {
			switchboard: this.about,
			running: current?.entry.state === 'ready',
			pid: current?.entry.pid ?? null,
			model_spec: current ? current.entry.command.join(' ') : null,
			vllm_base: current?.entry.url ?? null,
			log_path: current?.entry.log_path ?? null,
			state: current?.entry.state ?? null,
			models: this.models.map(model => model.entry),
		};
	}

	loadStatsReply(): LoadStatsReply {
		const servers = this.models.flatMap(model => model.servers);
		const load = servers.reduce((sum, server) => sum + server.current_load, 0);
		const capacity = servers.reduce((sum, server) => sum + server.max_capacity, 0);
		return {
			servers,
			summary: {
				total_servers: servers.length,
				healthy_servers: servers.filter(server => server.status).length,
				total_active_load: load,
				total_capacity: capacity,
				overall_utilization_percent: capacity === 0 ? 0 : Math.round((load / capacity) * 1000) / 10,
			},
		};
	}

	#read(path: string): LinkReply {
		const [route, query = ''] = path.split('?') as [string, string?];
		switch (route) {
			case '/status': {
				return {status: 200, body: JSON.stringify(this.statusReply())};
			}

			case '/load-stats': {
				return {status: 200, body: JSON.stringify(this.loadStatsReply())};
			}

			case '/logs/tail': {
				const wanted = new URLSearchParams(query);
				const lines = Number(wanted.get('lines') ?? 100);
				return wanted.get('model') === 'switchboard'
					? {status: 200, body: this.ownLog.slice(-lines).map(line => `${line}\n`).join('')}
					: {status: 404, body: JSON.stringify({error: {message: `No log for ${wanted.get('model')}.`, type: 'invalid_request_error'}})};
			}

			default: {
				return {status: 404, body: JSON.stringify({error: {message: `Unknown path GET ${path}.`, type: 'invalid_request_error'}})};
			}
		}
	}
}

/** A model's /status entry, stopped and configured with a 30 minute idle timeout, unless told otherwise. */
export function modelEntry(name: string, fields: Partial<ModelEntry> = {}): ModelEntry {
	return {
		name,
		state: 'stopped',
		reason: null,
		pid: null,
		port: null,
		url: null,
		group: null,
		pin: null,
		launcher: 'local',
		ad_hoc: false,
		waiting_for_group: false,
		unavailable: null,
		inflight: 0,
		requests: 0,
		errors: 0,
		last_request: null,
		idle_timeout: 1800,
		idle_timeout_override: null,
		idle_stop_at: null,
		started_at: null,
		ready_at: null,
		crashes: 0,
		restarts: 0,
		replicas: [],
		command: ['vllm', 'serve', name],
		log_path: null,
		...fields,
	};
}

export function replicaEntry(index: number, fields: Partial<ReplicaEntry> = {}): ReplicaEntry {
	return {index, state: 'loading', pid: null, port: null, url: null, gpus: [], log_path: null, started_at: null, ready_at: null, job: null, ...fields};
}

type Metrics = ServerLoad['detailed_metrics'];

/** A backend's /load-stats entry: healthy and idle unless `metrics` says otherwise. */
export function serverLoad(model: string, url: string, metrics: Partial<Metrics> = {}, capacity = 8): ServerLoad {
	const detailed: Metrics = {
		num_requests_running: null,
		num_requests_waiting: null,
		gpu_cache_usage_perc: null,
		prompt_tokens_per_second: null,
		generation_tokens_per_second: null,
		in_flight: 0,
		requests_per_second: 0,
		latency_p50_ms: null,
		latency_p95_ms: null,
		ttft_p50_ms: null,
		errors: 0,
		consecutive_failures: 0,
		last_error: null,
		...metrics,
	};
	const load = (detailed.num_requests_running ?? detailed.in_flight) + (detailed.num_requests_waiting ?? 0);
	return {
		url,
		model,
		current_load: load,
		max_capacity: capacity,
		available_capacity: Math.max(0, capacity - load),
		utilization_percent: Math.round((load / capacity) * 1000) / 10,
		status: detailed.consecutive_failures < 3,
		detailed_metrics: detailed,
	};
}

/** The models of a realistic fleet, each in one of the states a row can show. */
export const models = {
	stopped(name: string, fields: Partial<ModelEntry> = {}): FakeModel {
		return {entry: modelEntry(name, fields), servers: []};
	},

	/** A local model whose vLLM started `startedAt` and is still loading its weights. */
	loading(name: string, {startedAt, port = 8101, pid = 4101}: {startedAt: number; port?: number; pid?: number}): FakeModel {
		const url = `http://127.0.0.1:${port}`;
		return {
			entry: modelEntry(name, {
				state: 'loading', pid, port, url, started_at: seconds(startedAt), log_path: `/tmp/switchboard/${name}.log`,
				replicas: [replicaEntry(0, {state: 'loading', pid, port, url, gpus: ['0'], started_at: seconds(startedAt), log_path: `/tmp/switchboard/${name}.log`})],
			}),
			// Not ready yet: the load balancer does not list it.
			servers: [],
		};
	},

	/** A local model serving since `readyAt`, stopping at `idleStopAt` unless a request comes. */
	ready(name: string, {readyAt, idleStopAt, port = 8102, pid = 4102, group, metrics = {}}: {readyAt: number; idleStopAt?: number; port?: number; pid?: number; group?: string; metrics?: Partial<Metrics>}): FakeModel {
		const url = `http://127.0.0.1:${port}`;
		return {
			entry: modelEntry(name, {
				state: 'ready', pid, port, url, group: group ?? null, requests: 1234, errors: metrics.errors ?? 7, started_at: seconds(readyAt - 60_000), ready_at: seconds(readyAt),
				idle_stop_at: idleStopAt === undefined ? null : seconds(idleStopAt), log_path: `/tmp/switchboard/${name}.log`,
				replicas: [replicaEntry(0, {state: 'ready', pid, port, url, gpus: ['1'], started_at: seconds(readyAt - 60_000), ready_at: seconds(readyAt), log_path: `/tmp/switchboard/${name}.log`})],
			}),
			servers: [serverLoad(name, url, {
				num_requests_running: 3,
				num_requests_waiting: 2,
				gpu_cache_usage_perc: 41.6,
				generation_tokens_per_second: 812.4,
				in_flight: 5,
				requests_per_second: 4.2,
				latency_p50_ms: 850,
				latency_p95_ms: 2310,
				ttft_p50_ms: 120,
				errors: 7,
				...metrics,
			})],
		};
	},

	/** A SLURM model whose job waits in the queue for `reason`. */
	queued(name: string, {jobId, reason, startedAt}: {jobId: string; reason: string; startedAt: number}): FakeModel {
		return {
			entry: modelEntry(name, {
				state: 'loading', launcher: 'slurm', started_at: seconds(startedAt),
				replicas: [replicaEntry(0, {
					state: 'queued', started_at: seconds(startedAt),
					job: {id: jobId, name: `switchboard-${name}`, state: 'PENDING', reason, node: null, time_limit: 14_400, ends_at: null},
				})],
			}),
			servers: [],
		};
	},

	failed(name: string, reason: string): FakeModel {
		return {entry: modelEntry(name, {state: 'failed', reason, crashes: 3}), servers: []};
	},

	/** A backend switchboard does not start (`static`): always there, with its own figures. */
	static(name: string, url: string, metrics: Partial<Metrics> = {}): FakeModel {
		return {entry: modelEntry(name, {launcher: 'static', state: 'ready', url, command: [], idle_timeout: 0}), servers: [serverLoad(name, url, {requests_per_second: 1.5, in_flight: 1, ...metrics})]};
	},
};

/** One model in each state a row shows, as a fleet at `now` would have them. */
export function sampleFleet(now: number): FakeModel[] {
	return [
		models.stopped('qwen3-8b'),
		models.loading('llama-70b', {startedAt: now - 42_000}),
		models.ready('mistral-7b', {readyAt: now - 600_000, idleStopAt: now + 300_000}),
		models.queued('deepseek-r1', {jobId: '81734', reason: 'Resources', startedAt: now - 5000}),
		models.failed('gemma-9b', 'exited with code 1: CUDA out of memory'),
		models.static('embedder', 'http://127.0.0.1:9000'),
	];
}
