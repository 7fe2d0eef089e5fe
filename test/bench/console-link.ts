/**
 * A busy switchboard for the console to watch without running one: a ConsoleLink whose /status
 * and /load-stats describe ready replicas (local and SLURM) with figures that differ on every
 * change(), and whose log lines arrive when the bench delivers them. The replies (in the shapes of
 * the tests' FakeLink) are built and serialized in change(), so a measurement that leaves change()
 * out counts the console's work only (parsing, rows, layout, drawing), not the admin API's.
 */
import type {LoadStatsReply, ServerLoad} from '../../dist/admin/backends.js';
import type {StatusReply} from '../../dist/admin/status.js';
import type {FleetEvent} from '../../dist/fleet/events.js';
import type {ConsoleLink, LinkReply} from '../../dist/ui/link/link.js';
import type {Clock} from '../../dist/util/clock.js';
import {FakeLink, modelEntry, replicaEntry, serverLoad} from '../helpers/console-link.js';

const modelNames = ['qwen3-8b', 'llama-3.1-70b-instruct', 'mistral-small-24b', 'gemma-3-27b-it'];
const startedAtMs = Date.UTC(2025, 0, 1, 12);
/** How many of switchboard's own lines /logs/tail answers: the console starts with a full pane. */
const ownLines = 200;

export class BusyFleetLink implements ConsoleLink {
	readonly remote = false;
	readonly #clock: Clock;
	readonly #replicasPerModel: number;
	readonly #listeners = new Set<(event: FleetEvent) => void>();
	#generation = 0;
	#status = '';
	#loadStats = '';
	#lines: Array<{model: string; line: string}> = [];
	#lineCount = 0;

	/** `models` × `replicasPerModel` ready replicas (at most four models). */
	constructor(clock: Clock, readonly models: number, replicasPerModel: number) {
		this.#clock = clock;
		this.#replicasPerModel = replicasPerModel;
		this.change(0);
	}

	get replicas(): number {
		return this.models * this.#replicasPerModel;
	}

	/** New figures for every replica, and `logLines` new lines for deliverLogs() to hand over. */
	change(logLines: number): void {
		this.#generation++;
		const replies = this.#replies();
		this.#status = JSON.stringify(replies.status);
		this.#loadStats = JSON.stringify(replies.loadStats);
		this.nextLines(logLines);
	}

	/** `count` new lines for deliverLogs() to hand over; the figures stay. */
	nextLines(count: number): void {
		this.#lines = Array.from({length: count}, () => this.#logLine(this.#lineCount++));
	}

	/** The lines change() prepared, as events, to every subscriber. */
	deliverLogs(): void {
		const at = this.#clock.now();
		for (const {model, line} of this.#lines) {
			for (const listener of this.#listeners) {
				listener({type: 'log', model, line, at});
			}
		}
	}

	async request(method: string, path: string): Promise<LinkReply> {
		if (method === 'GET' && path === '/status') {
			return {status: 200, body: this.#status};
		}

		if (method === 'GET' && path === '/load-stats') {
			return {status: 200, body: this.#loadStats};
		}

		if (method === 'GET' && path.startsWith('/logs/tail')) {
			return {status: 200, body: Array.from({length: ownLines}, (_unused, index) => `12:00:${String(index % 60).padStart(2, '0')}.123 INFO  [fleet] replica ${index % this.replicas} ready after 41s model=${modelNames[index % this.models]!}`).join('\n')};
		}

		return {status: 404, body: JSON.stringify({error: {message: `the bench's link answers no ${method} ${path}`}})};
	}

	subscribe(listener: (event: FleetEvent) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	close(): void {
		this.#listeners.clear();
	}

	#replies(): {status: StatusReply; loadStats: LoadStatsReply} {
		const now = this.#clock.now() / 1000;
		const startedAt = (startedAtMs / 1000) + 60;
		const readyAt = startedAt + 41;
		const fleet = modelNames.slice(0, this.models).map((name, modelIndex) => {
			const slurm = modelIndex % 2 === 1;
			const replicas = Array.from({length: this.#replicasPerModel}, (_unused, index) => {
				const port = 8101 + (modelIndex * this.#replicasPerModel) + index;
				return replicaEntry(index, {
					state: 'ready',
					pid: slurm ? null : 40_000 + port,
					port,
					url: `http://${slurm ? `10.0.3.${20 + index}` : '127.0.0.1'}:${port}`,
					gpus: slurm ? [] : [String(index % 8)],
					log_path: `/home/ada/.local/state/switchboard/logs/${name}-${index}.log`,
					started_at: startedAt,
					ready_at: readyAt,
					job: slurm
						? {id: String(4_812_000 + port), name: `switchboard-${name}-${index}`, state: 'RUNNING', reason: null, node: `gpu-${String(index + 1).padStart(2, '0')}`, time_limit: 86_400, ends_at: now + 80_000}
						: null,
				});
			});
			const entry = modelEntry(name, {
				state: 'ready',
				pid: replicas[0]!.pid,
				port: replicas[0]!.port,
				url: replicas[0]!.url,
				launcher: slurm ? 'slurm' : 'local',
				inflight: this.#figure(modelIndex, 12),
				requests: 10_000 + (this.#generation * 7),
				errors: modelIndex === 2 ? 3 : 0,
				last_request: now,
				idle_stop_at: now + 1800,
				started_at: startedAt,
				ready_at: readyAt,
				replicas,
				command: ['vllm', 'serve', `org/${name}`, '--host', '{host}', '--port', '{port}'],
				log_path: replicas[0]!.log_path,
			});
			const servers = replicas.map(replica => this.#server(name, replica.url!, (modelIndex * this.#replicasPerModel) + replica.index));
			return {entry, servers};
		});
		const link = new FakeLink({startedAt: startedAtMs});
		link.about = {...link.about, auth: true};
		link.models = fleet;
		return {status: link.statusReply(), loadStats: link.loadStatsReply()};
	}

	#server(model: string, url: string, index: number): ServerLoad {
		return serverLoad(model, url, {
			num_requests_running: this.#figure(index, 24),
			num_requests_waiting: this.#figure(index + 3, 4),
			gpu_cache_usage_perc: this.#figure(index + 1, 1000) / 10,
			prompt_tokens_per_second: this.#figure(index + 2, 40_000) / 10,
			generation_tokens_per_second: this.#figure(index + 4, 9000) / 10,
			in_flight: this.#figure(index, 24),
			requests_per_second: this.#figure(index + 5, 300) / 10,
			latency_p50_ms: 400 + (this.#figure(index + 6, 8000) / 10),
			latency_p95_ms: 2000 + (this.#figure(index + 7, 30_000) / 10),
			ttft_p50_ms: 40 + (this.#figure(index + 8, 3000) / 10),
			errors: index === 11 ? 3 : 0,
		}, 256);
	}

	/** A whole number below `range` that moves with every change, differently for each `seed`. */
	#figure(seed: number, range: number): number {
		return ((this.#generation * 7919) + (seed * 104_729)) % range;
	}

	/** The `n`th line: mostly access log lines, every tenth an engine stats line, a warning now and then. */
	#logLine(n: number): {model: string; line: string} {
		const model = modelNames[n % this.models]!;
		const pid = 40_000 + (n % this.replicas);
		const line = n % 10 === 9
			? `(APIServer pid=${pid}) INFO 01-01 12:00:00 [loggers.py:123] Engine 000: Avg prompt throughput: ${(n % 977) + 0.4} tokens/s, Avg generation throughput: ${(n % 311) + 0.2} tokens/s, Running: ${n % 24} reqs, Waiting: 0 reqs, GPU KV cache usage: ${n % 100}.0%, Prefix cache hit rate: 41.2%`
			: n % 50 === 7
				? `(APIServer pid=${pid}) WARNING 01-01 12:00:00 [serving_chat.py:211] the request's max_tokens was cut to the model's context`
				: `(APIServer pid=${pid}) INFO:     127.0.0.1:${50_000 + (n % 9000)} - "POST /v1/chat/completions HTTP/1.1" 200 OK`;
		return {model, line};
	}
}
