import type {LoadStatsReply, ServerLoad} from '../../admin/backends.js';
import type {ModelEntry, StatusReply} from '../../admin/status.js';

/** A SLURM job as a row shows it. */
export interface RowJob {
	id: string | null;
	state: string;
	node: string | null;
	reason: string | null;
}

/** One line of the backends table: a replica (or a static backend), or a model with none running. */
export interface BackendRow {
	/** Stable across refreshes and starts: `model#replica` (`model#0` for a model that runs none). */
	key: string;
	model: string;
	/** Undefined: the model runs no backend now (stopped, failed, waiting for its group). */
	replica: number | undefined;
	launcher: ModelEntry['launcher'];
	state: string;
	/** When the state began (ms): a loading replica's elapsed time counts from it. */
	since: number | undefined;
	reason: string | undefined;
	pid: number | undefined;
	job: RowJob | undefined;
	port: number | undefined;
	url: string | undefined;
	gpus: readonly string[];
	logPath: string | undefined;
	running: number | undefined;
	waiting: number | undefined;
	/** 0..100. */
	kvPercent: number | undefined;
	requestsPerSecond: number | undefined;
	latencyP50Ms: number | undefined;
	latencyP95Ms: number | undefined;
	ttftMs: number | undefined;
	tokensPerSecond: number | undefined;
	errors: number | undefined;
	/** When the idle timeout stops the model (ms), if it is counting. */
	idleStopAt: number | undefined;
	/** The model's idle timeout in ms; 0 = never. */
	idleTimeoutMs: number;
	/** Its model's group, if any: starting it is then a switch. */
	group: string | undefined;
}

const movingStates: ReadonlySet<string> = new Set(['loading', 'queued', 'restarting', 'stopping', 'draining']);
const idleStates: ReadonlySet<string> = new Set(['stopped', 'failed', 'waiting']);

/** On its way somewhere (a spinner and the time it has taken so far). */
export function isMoving(row: BackendRow): boolean {
	return movingStates.has(row.state);
}

/** Runs nothing: stopping it, or quitting, would stop nothing. */
export function isIdle(row: BackendRow): boolean {
	return idleStates.has(row.state);
}

const seconds = (value: number | null) => value === null ? undefined : value * 1000;
const orUndefined = <T>(value: T | null): T | undefined => value ?? undefined;

/** The table's rows from GET /status and GET /load-stats, in the models' order. */
export function backendRows(status: StatusReply, loads: LoadStatsReply): BackendRow[] {
	const byUrl = new Map(loads.servers.map(server => [server.url, server]));
	return status.models.flatMap(model => {
		const common = {
			model: model.name,
			launcher: model.launcher,
			idleStopAt: seconds(model.idle_stop_at),
			idleTimeoutMs: model.idle_timeout * 1000,
			group: orUndefined(model.group),
		};
		if (model.launcher === 'static') {
			return loads.servers.filter(server => server.model === model.name).map((server, index): BackendRow => ({
				...common,
				...figures(server),
				key: `${model.name}#${index}`,
				replica: index,
				state: server.status ? 'ready' : 'unhealthy',
				since: undefined,
				reason: orUndefined(server.detailed_metrics.last_error),
				pid: undefined,
				job: undefined,
				port: portOf(server.url),
				url: server.url,
				gpus: [],
				logPath: undefined,
			}));
		}

		if (model.replicas.length === 0) {
			return [{
				...common,
				...figures(undefined),
				// As its first replica's: the selection stays on the model when it starts.
				key: `${model.name}#0`,
				replica: undefined,
				state: model.waiting_for_group ? 'waiting' : model.state,
				since: undefined,
				reason: orUndefined(model.unavailable ?? model.reason),
				pid: undefined,
				job: undefined,
				port: undefined,
				url: undefined,
				gpus: [],
				logPath: orUndefined(model.log_path),
			}];
		}

		return model.replicas.map((replica): BackendRow => ({
			...common,
			...figures(replica.url === null ? undefined : byUrl.get(replica.url)),
			key: `${model.name}#${replica.index}`,
			replica: replica.index,
			state: replica.state,
			since: seconds(replica.state === 'ready' ? replica.ready_at : replica.started_at),
			reason: orUndefined(replica.job?.reason ?? model.reason),
			pid: orUndefined(replica.pid),
			job: replica.job ? {id: replica.job.id, state: replica.job.state, node: replica.job.node, reason: replica.job.reason} : undefined,
			port: orUndefined(replica.port),
			url: orUndefined(replica.url),
			gpus: replica.gpus,
			logPath: orUndefined(replica.log_path),
		}));
	});
}

function figures(server: ServerLoad | undefined) {
	const metrics = server?.detailed_metrics;
	return {
		running: orUndefined(metrics?.num_requests_running ?? null) ?? metrics?.in_flight,
		waiting: orUndefined(metrics?.num_requests_waiting ?? null),
		kvPercent: orUndefined(metrics?.gpu_cache_usage_perc ?? null),
		requestsPerSecond: metrics?.requests_per_second,
		latencyP50Ms: orUndefined(metrics?.latency_p50_ms ?? null),
		latencyP95Ms: orUndefined(metrics?.latency_p95_ms ?? null),
		ttftMs: orUndefined(metrics?.ttft_p50_ms ?? null),
		tokensPerSecond: orUndefined(metrics?.generation_tokens_per_second ?? null),
		errors: metrics?.errors,
	};
}

function portOf(url: string): number | undefined {
	try {
		const {port} = new URL(url);
		return port === '' ? undefined : Number(port);
	} catch {
		return undefined;
	}
}
