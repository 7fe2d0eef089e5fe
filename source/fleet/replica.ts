import type {ModelConfig} from '../config/types.js';
import {substitute} from '../launchers/command.js';
import {backendLogPath} from '../launchers/log-files.js';
import {jobPortVariable} from '../launchers/slurm/job-script.js';
import type {JobRecord} from '../launchers/slurm/job-ledger.js';
import type {ExitInfo, Instance, JobStatus} from '../launchers/types.js';
import type {Timer} from '../util/clock.js';
import {formatDuration} from '../util/duration.js';
import {LogRing} from './log-ring.js';
import type {ModelContext} from './model.js';

/**
 * One backend of a model: `(queued →) loading → ready → draining → stopping → stopped`; `queued`
 * while its SLURM job waits for an allocation; `restarting` while it waits to be started again
 * after a crash; `stopping` until its processes (or its job) are gone and its port is free.
 */
export type ReplicaState = 'queued' | 'loading' | 'ready' | 'draining' | 'restarting' | 'stopping' | 'stopped';

export interface ReplicaSnapshot {
	/** Its place among the model's replicas, from 0; it decides its GPU slice. */
	index: number;
	state: ReplicaState;
	pid: number | undefined;
	port: number | undefined;
	url: string | undefined;
	logPath: string | undefined;
	/** The command line it runs (its port filled in). */
	command: string[];
	/** CUDA_VISIBLE_DEVICES, when the model lists GPUs. */
	gpus: string[];
	startedAt: number | undefined;
	readyAt: number | undefined;
	/** Its SLURM job, for a backend run as one. */
	job: JobStatus | undefined;
}

/** What a replica tells its model. */
export interface ReplicaOwner {
	readonly name: string;
	readonly context: ModelContext;
	/** Its state changed (an event and the data plane's routes follow). */
	changed(replica: Replica, reason: string | undefined): void;
	log(replica: Replica, line: string): void;
	ready(replica: Replica): void;
	/**
	 * It ended without being asked to: its process exited, or it was not ready in time. `reason`
	 * ends with its last log lines.
	 */
	ended(replica: Replica, reason: string, whileLoading: boolean): void;
	/** It was ended on purpose from outside (its SLURM job cancelled) while it served: not a crash. */
	left(replica: Replica, reason: string): void;
}

const logLinesInErrors = 15;
/** A start gives up after losing this many races for a port. */
const maxPortRaces = 3;

/** One backend process of a managed model, from its port and command to its teardown. */
export class Replica {
	/** This replica's own lines; the model's log has every replica's. */
	readonly logs = new LogRing(500);
	#state: ReplicaState = 'stopped';
	/** The settings of its last start. */
	#config: ModelConfig | undefined;
	#instance: Instance | undefined;
	#port: number | undefined;
	#logPath: string | undefined;
	#command: string[] = [];
	#startedAt: number | undefined;
	#readyAt: number | undefined;
	/** Bumped at every start and stop, so late callbacks of an old instance are ignored. */
	#generation = 0;
	#timer: Timer | undefined;
	/** The last instance's end: its whole process group gone and its port free. */
	#teardown: Promise<void> = Promise.resolve();
	/** Where this start's lines begin in `logs`. */
	#logStart = 0;
	#portRaces = 0;

	constructor(readonly index: number, private readonly owner: ReplicaOwner) {}

	get state(): ReplicaState {
		return this.#state;
	}

	/** Where requests go while it is ready. */
	get url(): string | undefined {
		return this.#instance?.url;
	}

	/** Up or on its way up: it counts towards the model's replicas. */
	get live(): boolean {
		return this.#starting || this.#state === 'ready' || this.#state === 'restarting';
	}

	/**
	 * Starts its backend with `config` (the settings the model was started with); resolves once
	 * launched. With `adopt`, takes over that SLURM job of an earlier run instead.
	 */
	async start(config: ModelConfig, adopt?: JobRecord): Promise<void> {
		this.#clearTimer();
		const generation = ++this.#generation;
		this.#startedAt = adopt?.submittedAt ?? this.owner.context.clock.now();
		this.#readyAt = undefined;
		this.#portRaces = 0;
		this.#setState('loading', undefined);
		await this.#launch(config, generation, adopt);
	}

	/** Waits `delayMs`, then starts again: after a crash, so a crash loop does not spin. */
	restartAfter(delayMs: number, config: ModelConfig, reason: string): void {
		const generation = ++this.#generation;
		this.#clearTimer();
		this.#setState('restarting', reason);
		this.#log(`switchboard: restarting in ${formatDuration(delayMs)}`);
		this.#timer = this.owner.context.clock.setTimeout(() => {
			if (generation === this.#generation) {
				void this.start(config);
			}
		}, delayMs);
	}

	/** Takes no new request from now on (the model waits for those in flight, then stops it). */
	drain(reason: string): void {
		if (this.#state === 'ready') {
			this.#setState('draining', reason);
		}
	}

	/** Bumped at every start and stop: what a replica was doing when someone decided about it. */
	get generation(): number {
		return this.#generation;
	}

	/** Resolves once its last backend's processes are gone and its port is free. */
	async gone(): Promise<void> {
		return this.#teardown;
	}

	/** Ends its backend, if any runs; resolves once its processes are gone and its port is free. */
	async stop(reason: string): Promise<void> {
		if (this.#instance) {
			this.#log(`switchboard: stopping ${this.#describe()} (${reason})`);
		}

		await this.#halt(reason);
	}

	snapshot(): ReplicaSnapshot {
		return {
			index: this.index,
			state: this.#state,
			pid: this.#instance?.pid,
			port: this.#port,
			url: this.#instance?.url,
			logPath: this.#logPath,
			command: this.#command,
			gpus: this.#gpus(this.#config),
			startedAt: this.#startedAt,
			readyAt: this.#readyAt,
			job: this.#instance?.job,
		};
	}

	/** The reason, followed by this start's last log lines (an earlier run's last words would mislead). */
	#withLogTail(message: string): string {
		const tail = this.logs.tail(logLinesInErrors, this.#logStart).filter(line => !/^switchboard: (starting|stopping|restarting) /.test(line));
		return tail.length === 0 ? message : `${message} Last log lines:\n${tail.join('\n')}`;
	}

	async #launch(config: ModelConfig, generation: number, adopt?: JobRecord): Promise<void> {
		const {context} = this.owner;
		// Never two at once: the previous instance may still be leaving the GPU and the port.
		await this.#teardown;
		if (generation !== this.#generation) {
			return;
		}

		let port: number;
		try {
			port = adopt ? context.claimPort(adopt.port) : await context.allocatePort(config);
		} catch (error) {
			this.#end(generation, `Cannot start ${this.#describe()}: ${(error as Error).message}`, true);
			return;
		}

		if (generation !== this.#generation) {
			context.releasePort(port);
			return;
		}

		this.#config = config;
		this.#port = port;
		// A SLURM job picks its backend's port on its node.
		this.#command = substitute(config.command, config.host, config.slurm ? jobPortVariable : port);
		const gpus = this.#gpus(config);
		this.#logPath = adopt?.logPath ?? backendLogPath(context.logDir, this.owner.name, this.#startedAt ?? 0, port);
		this.#logStart = this.logs.position;
		if (adopt) {
			this.#log(`switchboard: taking over SLURM job ${adopt.id ?? adopt.name} of ${this.#describe()}, left running by an earlier switchboard`);
		} else {
			this.#log(`switchboard: starting ${this.#describe()} ${config.slurm ? 'as a SLURM job ' : ''}on port ${port}${gpus.length > 0 ? ` with CUDA_VISIBLE_DEVICES=${gpus.join(',')}` : ''}: ${this.#command.join(' ')}`);
		}

		this.#startTimer(config, generation);
		try {
			this.#instance = context.launch({
				model: this.owner.name,
				command: this.#command,
				host: config.host,
				port,
				pingPath: config.pingPath,
				expectedModel: config.servedName,
				env: gpus.length > 0 ? {...config.env, CUDA_VISIBLE_DEVICES: gpus.join(',')} : config.env,
				logPath: this.#logPath,
				stopGraceMs: config.stopGraceMs,
				idleTimeoutMs: config.idleTimeoutMs,
				slurm: config.slurm,
				adopt,
			}, {
				onLog: line => {
					this.#log(line);
				},
				onJob: job => {
					this.#onJob(generation, config, job);
				},
				onReady: () => {
					this.#onReady(generation);
				},
				onExit: info => {
					this.#onExit(generation, config, info);
				},
			});
		} catch (error) {
			context.releasePort(port);
			this.#port = undefined;
			this.#end(generation, `Cannot start ${this.#describe()}: ${(error as Error).message}`, true);
		}
	}

	/** The startup timeout counts from the launch, or for a SLURM job from when it runs (not while it waits in the queue). */
	#startTimer(config: ModelConfig, generation: number): void {
		this.#clearTimer();
		this.#timer = this.owner.context.clock.setTimeout(() => {
			this.#end(generation, this.#withLogTail(`${this.#describe()} did not become ready within ${formatDuration(config.startupTimeoutMs)}.`), true);
		}, config.startupTimeoutMs);
	}

	/** On its way up: its job queued, or its process loading. */
	get #starting(): boolean {
		return this.#state === 'queued' || this.#state === 'loading';
	}

	#onJob(generation: number, config: ModelConfig, job: JobStatus): void {
		if (generation !== this.#generation || !this.#starting) {
			return;
		}

		const id = `SLURM job ${job.id ?? job.name}`;
		if (job.phase === 'waiting') {
			this.#clearTimer();
			this.#setState('queued', `${id} is ${job.state.toLowerCase()}${job.reason ? `: ${job.reason}` : ''}`);
		} else if (job.phase === 'running' && this.#state === 'queued') {
			this.#startTimer(config, generation);
			this.#setState('loading', `${id} runs on ${job.node ?? 'its node'}`);
		}
	}

	#onReady(generation: number): void {
		if (generation !== this.#generation || !this.#starting) {
			return;
		}

		this.#clearTimer();
		this.#readyAt = this.owner.context.clock.now();
		this.#setState('ready', undefined);
		this.owner.ready(this);
	}

	#onExit(generation: number, config: ModelConfig, info: ExitInfo): void {
		if (generation !== this.#generation) {
			return;
		}

		const loading = this.#starting;
		const reason = this.#withLogTail(`${this.#describe()} ${info.description} while ${this.#state === 'queued' ? 'queued' : loading ? 'loading' : 'serving'}.`);
		const port = this.#port;
		if (this.#state === 'draining') {
			// It was being stopped anyway: an end, not a crash.
			void this.#halt(reason);
		} else if (info.outside && !loading) {
			void this.#halt(reason);
			this.owner.left(this, reason);
		} else if (loading && port !== undefined && config.port === undefined && !config.slurm && this.#portRaces < maxPortRaces && /address already in use|EADDRINUSE/i.test(reason)) {
			this.#retryPort(config, port, reason);
		} else {
			this.#end(generation, reason, loading);
		}
	}

	/**
	 * Another process may have bound the port between our check and our backend's bind (two
	 * switchboards starting at once on one node): if the port is still taken once ours is gone, try another.
	 */
	#retryPort(config: ModelConfig, port: number, reason: string): void {
		const next = ++this.#generation;
		this.#clearTimer();
		// The leader is gone; what it started may take a moment longer.
		const retired = this.#retire();
		const {context} = this.owner;
		void retired.then(async () => context.portInUse(config.host, port)).then(taken => {
			if (next !== this.#generation) {
				return;
			}

			if (!taken) {
				this.#end(next, reason, true);
				return;
			}

			this.#portRaces++;
			this.#log(`switchboard: port ${port} was taken by another process; starting ${this.#describe()} again on another port`);
			void this.#launch(config, next);
		});
	}

	/** It ended without being asked to, and is down for good unless its model starts it again. */
	#end(generation: number, reason: string, whileLoading: boolean): void {
		if (generation !== this.#generation) {
			return;
		}

		void this.#halt(reason);
		this.owner.ended(this, reason, whileLoading);
	}

	/**
	 * Ends its backend, if any, and whatever was planned for it: `stopping` at once, `stopped` once its
	 * processes are gone and its port is free (unless it was started again meanwhile).
	 */
	async #halt(reason: string): Promise<void> {
		const generation = ++this.#generation;
		this.#clearTimer();
		const retired = this.#retire();
		if (this.#state !== 'stopped') {
			this.#setState('stopping', reason);
			void retired.then(() => {
				if (generation === this.#generation && this.#state === 'stopping') {
					this.#setState('stopped', reason);
				}
			});
		}

		return retired;
	}

	/** This replica's CUDA_VISIBLE_DEVICES slice under `config`. */
	#gpus(config: ModelConfig | undefined): string[] {
		if (!config || config.gpus.length === 0) {
			return [];
		}

		const size = config.gpusPerReplica;
		return config.gpus.slice(this.index * size, (this.index + 1) * size);
	}

	/** "qwen" for a model of one replica, "qwen replica 1" otherwise (its index, as /status shows it). */
	#describe(): string {
		const config = this.#config;
		return config && config.replicas.max > 1 ? `${this.owner.name} replica ${this.index}` : this.owner.name;
	}

	#setState(state: ReplicaState, reason: string | undefined): void {
		this.#state = state;
		this.owner.changed(this, reason);
	}

	#log(line: string): void {
		this.logs.push(line);
		this.owner.log(this, line);
	}

	/** Ends the current instance, if any; the next start waits for this. */
	async #retire(): Promise<void> {
		const instance = this.#instance;
		const port = this.#port;
		this.#instance = undefined;
		const previous = this.#teardown;
		const {context} = this.owner;
		this.#teardown = (async () => {
			await previous;
			await instance?.stop();
			if (instance && port !== undefined) {
				context.releasePort(port);
			}
		})();
		return this.#teardown;
	}

	#clearTimer(): void {
		if (this.#timer) {
			this.owner.context.clock.clearTimeout(this.#timer);
			this.#timer = undefined;
		}
	}
}
