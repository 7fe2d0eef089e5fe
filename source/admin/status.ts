import type {Fleet, FleetSnapshot} from '../fleet/fleet.js';
import type {JobStatus} from '../launchers/types.js';

/** `GET /health`: llm-proxy-ondemand's fields for the current model, and a summary of every model. */
export function health(fleet: Fleet) {
	const models = fleet.snapshot();
	const current = currentModel(models);
	const lastRequest = Math.max(0, ...models.map(model => model.lastArrivedAt));
	return {
		status: 'healthy',
		llm_running: models.some(model => model.state === 'ready'),
		target_port: current?.port ?? null,
		last_request: lastRequest === 0 ? null : lastRequest / 1000,
		state: current?.state ?? null,
		pid: current?.pid ?? null,
		models: models.map(model => summary(model)),
	};
}

/** What /status says about switchboard itself (the console's header reads it). */
export interface About {
	version: string;
	/** Where the proxy listens. */
	url: string;
	/** ms since the epoch. */
	startedAt: number;
	/** Whether /v1 needs a key. */
	auth: boolean;
}

/** `GET /status`: aic-vllm-proxy's fields for the current model, every model's entry, and switchboard's own. */
export function status(fleet: Fleet, about: About) {
	const models = fleet.snapshot();
	const current = currentModel(models);
	return {
		switchboard: {version: about.version, url: about.url, started_at: about.startedAt / 1000, auth: about.auth},
		running: current?.state === 'ready',
		pid: current?.pid ?? null,
		// What /switch was given for an ad-hoc model, as aic-vllm-proxy shows it; a configured model's command.
		model_spec: current ? (current.spec ?? current.command).join(' ') : null,
		vllm_base: current?.url ?? null,
		log_path: current?.logPath ?? null,
		state: current?.state ?? null,
		models: models.map(model => modelEntry(model)),
	};
}

/** A model as `GET /status` lists it; the operator's verbs and the snapshots of GET /events show it too. */
export function modelEntry(model: FleetSnapshot) {
	return {...summary(model), command: model.command, log_path: model.logPath ?? null};
}

/**
 * The model the single-model fields describe: the first one running (after a /switch, the one
 * switched to), else the first one.
 */
function currentModel(models: FleetSnapshot[]): FleetSnapshot | undefined {
	return models.find(model => model.state === 'loading' || model.state === 'ready' || model.state === 'draining') ?? models[0];
}

function summary(model: FleetSnapshot) {
	return {
		name: model.name,
		state: model.state,
		reason: model.reason ?? null,
		pid: model.pid ?? null,
		port: model.port ?? null,
		url: model.url ?? null,
		group: model.group ?? null,
		pin: model.pin ?? null,
		launcher: model.launcher,
		ad_hoc: model.spec !== undefined,
		waiting_for_group: model.waitingForGroup,
		unavailable: model.unavailable ?? null,
		inflight: model.inflight,
		requests: model.requests,
		errors: model.errors,
		last_request: model.lastArrivedAt === 0 ? null : model.lastArrivedAt / 1000,
		idle_timeout: model.idleTimeoutMs / 1000,
		idle_timeout_override: model.idleTimeoutOverrideMs === undefined ? null : model.idleTimeoutOverrideMs / 1000,
		idle_stop_at: model.idleStopAt === undefined ? null : model.idleStopAt / 1000,
		started_at: model.startedAt === undefined ? null : model.startedAt / 1000,
		ready_at: model.readyAt === undefined ? null : model.readyAt / 1000,
		crashes: model.crashes,
		restarts: model.restarts,
		replicas: model.replicas.map(replica => ({
			index: replica.index,
			state: replica.state,
			pid: replica.pid ?? null,
			port: replica.port ?? null,
			url: replica.url ?? null,
			gpus: replica.gpus,
			log_path: replica.logPath ?? null,
			started_at: replica.startedAt === undefined ? null : replica.startedAt / 1000,
			ready_at: replica.readyAt === undefined ? null : replica.readyAt / 1000,
			job: replica.job ? slurmJob(replica.job) : null,
		})),
	};
}

/** A backend's SLURM job as /status shows it: times in seconds, as everywhere in it. */
function slurmJob(job: JobStatus) {
	return {
		id: job.id ?? null,
		name: job.name,
		state: job.state,
		reason: job.reason ?? null,
		node: job.node ?? null,
		time_limit: job.timeLimitMs === undefined ? null : job.timeLimitMs / 1000,
		ends_at: job.endsAt === undefined ? null : job.endsAt / 1000,
	};
}

export type StatusReply = ReturnType<typeof status>;
export type ModelEntry = StatusReply['models'][number];
export type ReplicaEntry = ModelEntry['replicas'][number];
