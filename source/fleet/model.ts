import path from 'node:path';
import {changedSettings, startSettings} from '../config/changes.js';
import type {ModelConfig} from '../config/types.js';
import {substitute} from '../launchers/command.js';
import type {ExitInfo, Instance, Launch} from '../launchers/types.js';
import type {Clock, Timer} from '../util/clock.js';
import {formatDuration} from '../util/duration.js';
import type {FleetEvents} from './events.js';
import {LogRing} from './log-ring.js';

/**
 * `stopped → loading → ready → draining → stopped`; `failed` when a start or a running
 * backend ended without being asked to. A request for a stopped or failed model starts it.
 */
export type ModelState = 'stopped' | 'loading' | 'ready' | 'draining' | 'failed';

/** What a model needs from the fleet around it. */
export interface ModelContext {
	clock: Clock;
	launch: Launch;
	events: FleetEvents;
	logDir: string;
	allocatePort(model: ModelConfig): Promise<number>;
	releasePort(port: number): void;
	/** Whether some process listens on the port (ours are gone when this is asked). */
	portInUse(host: string, port: number): Promise<boolean>;
	/** Takes the model out of the data plane's rotation if nothing is in flight; false otherwise. */
	quiesce(model: string): Promise<boolean>;
	/** Waits for the model's turn to run (its group's other members stop first); false: it may not start now. */
	admit(model: FleetModel): Promise<boolean>;
	/** Resolves once none of the model's requests is at its backend (it is out of rotation by then), or the fleet's drain timeout ends. */
	drained(model: string): Promise<void>;
}

/** The data plane's counters for a model, as last reported. */
export interface ModelTraffic {
	inflight: number;
	/** Of those in flight, held until the model is ready. */
	queued: number;
	requests: number;
	errors: number;
	lastArrivedAt: number;
	lastEndedAt: number;
}

/** A model no request has reached yet. */
export const noTraffic: Readonly<ModelTraffic> = {inflight: 0, queued: 0, requests: 0, errors: 0, lastArrivedAt: 0, lastEndedAt: 0};

export interface ModelSnapshot extends ModelTraffic {
	name: string;
	state: ModelState;
	reason: string | undefined;
	pid: number | undefined;
	port: number | undefined;
	url: string | undefined;
	logPath: string | undefined;
	command: string[];
	startedAt: number | undefined;
	readyAt: number | undefined;
	idleTimeoutMs: number;
	/** When the idle timeout will stop it, if it is counting. */
	idleStopAt: number | undefined;
}

/** A backend requests can be sent to now. */
export interface ReadyBackend {
	url: string;
	/** Its share of the model's load, relative to the other backends. */
	capacity: number;
}

/** What the fleet, the admin API and the data-plane bridge need of any model, however it runs. */
export interface FleetModel {
	readonly name: string;
	/** Its settings as last configured; a reload replaces them (see reconfigure). */
	readonly config: ModelConfig;
	/** The name its backend knows it by, which requests are rewritten to (undefined: not known). */
	readonly servedName: string | undefined;
	readonly state: ModelState;
	readonly logs: LogRing;
	demand(): void;
	traffic(traffic: ModelTraffic): void;
	stop(reason: string): Promise<void>;
	snapshot(): ModelSnapshot;
	backends(): ReadyBackend[];
	/**
	 * Takes edited settings (same name and launcher). Returns those that wait for the backend's
	 * next start: a running backend keeps the command, port, … it was started with.
	 */
	reconfigure(config: ModelConfig): Array<keyof ModelConfig>;
}

const logLinesInErrors = 15;
/** A start gives up after losing this many races for a port. */
const maxPortRaces = 3;

/** A model whose backend switchboard runs: started on demand, stopped when idle. */
export class ManagedModel implements FleetModel {
	readonly logs = new LogRing();
	#config: ModelConfig;
	/** The settings the current backend was started with; undefined while none runs. */
	#launched: ModelConfig | undefined;
	#state: ModelState = 'stopped';
	#reason: string | undefined;
	#instance: Instance | undefined;
	#port: number | undefined;
	#logPath: string | undefined;
	#command: string[] = [];
	#startedAt: number | undefined;
	#readyAt: number | undefined;
	#traffic = noTraffic;
	/** Bumped at every start and stop, so late callbacks of an old instance are ignored. */
	#generation = 0;
	#startupTimer: Timer | undefined;
	#idleTimer: Timer | undefined;
	#idleStopAt: number | undefined;
	#stopping: Promise<void> | undefined;
	/** The last instance's end: its whole process group gone and its port free. */
	#teardown: Promise<void> = Promise.resolve();
	/** Where this start's lines begin in `logs`. */
	#logStart = 0;
	/** Port races lost in this start (see #onExit). */
	#portRaces = 0;
	#restartAfterStop = false;
	/** Its request for a turn in its group, while it waits for one. */
	#admission: Promise<boolean> | undefined;

	constructor(config: ModelConfig, private readonly context: ModelContext) {
		this.#config = config;
	}

	get config(): ModelConfig {
		return this.#config;
	}

	get name(): string {
		return this.#config.name;
	}

	get servedName(): string | undefined {
		// A backend started with another command may serve another name, until it restarts.
		const launched = this.#launched;
		return launched && this.#waitingForStart(launched).length > 0 ? launched.servedName : this.#config.servedName;
	}

	reconfigure(config: ModelConfig): Array<keyof ModelConfig> {
		this.#config = config;
		// A new idle timeout counts from the same last request (and stops the model at once if that is long enough ago).
		this.#scheduleIdleStop();
		return this.#launched ? this.#waitingForStart(this.#launched) : [];
	}

	get state(): ModelState {
		return this.#state;
	}

	backends(): ReadyBackend[] {
		const url = this.#instance?.url;
		return this.#state === 'ready' && url ? [{url, capacity: this.config.capacity}] : [];
	}

	/** Requests are waiting for this model. */
	demand(): void {
		if (this.#state === 'draining') {
			this.#restartAfterStop = true;
		} else if (this.#state === 'stopped' || this.#state === 'failed') {
			void this.start();
		}
	}

	traffic(traffic: ModelTraffic): void {
		this.#traffic = traffic;
		this.#scheduleIdleStop();
	}

	async start(): Promise<void> {
		if (this.#state === 'draining') {
			this.#restartAfterStop = true;
			return;
		}

		if (this.#state === 'loading' || this.#state === 'ready') {
			return;
		}

		if (this.#admission) {
			await this.#admission;
			return;
		}

		this.#admission = this.context.admit(this);
		const admitted = await this.#admission;
		this.#admission = undefined;
		if (!admitted || (this.#state !== 'stopped' && this.#state !== 'failed')) {
			return;
		}

		const generation = ++this.#generation;
		this.#readyAt = undefined;
		this.#startedAt = this.context.clock.now();
		this.#portRaces = 0;
		this.#setState('loading', undefined);
		await this.#launch(generation);
	}

	/** Picks a port and starts the backend on it, for a start or after a lost port race. */
	async #launch(generation: number): Promise<void> {
		// Never two at once: the previous instance may still be leaving the GPU and the port.
		await this.#teardown;
		if (generation !== this.#generation) {
			return;
		}

		// Edits made from here on wait for the next start.
		const config = this.#config;
		let port: number;
		try {
			port = await this.context.allocatePort(config);
		} catch (error) {
			this.#failBeforeLaunch(generation, (error as Error).message);
			return;
		}

		if (generation !== this.#generation) {
			this.context.releasePort(port);
			return;
		}

		this.#launched = config;
		this.#port = port;
		this.#command = substitute(config.command, config.host, port);
		this.#logPath = path.join(this.context.logDir, `${safeFileName(this.name)}-${fileTimestamp(this.#startedAt ?? 0)}-${port}.log`);
		this.#logStart = this.logs.position;
		this.#log(`switchboard: starting ${this.name} on port ${port}: ${this.#command.join(' ')}`);
		this.#startupTimer = this.context.clock.setTimeout(() => {
			void this.#failStart(generation, `did not become ready within ${formatDuration(config.startupTimeoutMs)}`);
		}, config.startupTimeoutMs);
		try {
			this.#instance = this.context.launch({
				model: this.name,
				command: this.#command,
				host: config.host,
				port,
				pingPath: config.pingPath,
				expectedModel: config.servedName,
				env: config.env,
				logPath: this.#logPath,
				stopGraceMs: config.stopGraceMs,
			}, {
				onLog: line => {
					this.#log(line);
				},
				onReady: () => {
					this.#onReady(generation);
				},
				onExit: info => {
					this.#onExit(generation, info);
				},
			});
		} catch (error) {
			this.context.releasePort(port);
			this.#failBeforeLaunch(generation, (error as Error).message);
		}
	}

	async stop(reason: string): Promise<void> {
		this.#restartAfterStop = false;
		if (this.#stopping) {
			return this.#stopping;
		}

		if (this.#state !== 'loading' && this.#state !== 'ready') {
			return;
		}

		this.#stopping = this.#stop(reason);
		return this.#stopping;
	}

	snapshot(): ModelSnapshot {
		return {
			name: this.name,
			state: this.#state,
			reason: this.#reason,
			pid: this.#instance?.pid,
			port: this.#port,
			url: this.#instance?.url,
			logPath: this.#logPath,
			command: this.#command,
			startedAt: this.#startedAt,
			readyAt: this.#readyAt,
			idleTimeoutMs: this.#config.idleTimeoutMs,
			idleStopAt: this.#idleStopAt,
			...this.#traffic,
		};
	}

	async #stop(reason: string): Promise<void> {
		this.#generation++;
		this.#clearTimers();
		this.#setState('draining', reason);
		// Out of rotation from now on: the requests its backend is serving finish first.
		await this.context.drained(this.name);
		this.#log(`switchboard: stopping ${this.name} (${reason})`);
		await this.#retire();
		this.#stopping = undefined;
		this.#setState('stopped', reason);
		if (this.#restartAfterStop) {
			this.#restartAfterStop = false;
			void this.start();
		}
	}

	#onReady(generation: number): void {
		if (generation !== this.#generation || this.#state !== 'loading') {
			return;
		}

		this.#clearTimers();
		this.#readyAt = this.context.clock.now();
		this.#setState('ready', undefined);
		this.#scheduleIdleStop();
	}

	#onExit(generation: number, info: ExitInfo): void {
		if (generation !== this.#generation) {
			return;
		}

		const loading = this.#state === 'loading';
		const reason = this.#withLogTail(`${this.name} ${info.description} ${loading ? 'while loading' : 'while serving'}.`);
		const port = this.#port;
		// The settings this instance was started with, not edits made since.
		const launched = this.#launched ?? this.#config;
		const next = ++this.#generation;
		this.#clearTimers();
		// The leader is gone; what it started may take a moment longer.
		const retired = this.#retire();
		const lostPortRace = loading && port !== undefined && launched.port === undefined
			&& this.#portRaces < maxPortRaces && /address already in use|EADDRINUSE/i.test(reason);
		if (!lostPortRace) {
			this.#setState('failed', reason);
			return;
		}

		// Another process bound the port between our check and our backend's bind (two switchboards
		// starting at once on one node): if the port is still taken once ours is gone, try another.
		void retired.then(async () => this.context.portInUse(launched.host, port)).then(taken => {
			if (next !== this.#generation) {
				return;
			}

			if (!taken) {
				this.#setState('failed', reason);
				return;
			}

			this.#portRaces++;
			this.#log(`switchboard: port ${port} was taken by another process; starting ${this.name} again on another port`);
			void this.#launch(next);
		});
	}

	#failBeforeLaunch(generation: number, why: string): void {
		if (generation === this.#generation) {
			this.#generation++;
			this.#clearTimers();
			this.#setState('failed', `Cannot start ${this.name}: ${why}`);
		}
	}

	async #failStart(generation: number, why: string): Promise<void> {
		if (generation !== this.#generation) {
			return;
		}

		this.#generation++;
		this.#clearTimers();
		const retired = this.#retire();
		this.#setState('failed', this.#withLogTail(`${this.name} ${why}.`));
		await retired;
	}

	#scheduleIdleStop(): void {
		if (this.#idleTimer) {
			this.context.clock.clearTimeout(this.#idleTimer);
			this.#idleTimer = undefined;
			this.#idleStopAt = undefined;
		}

		const {idleTimeoutMs} = this.#config;
		if (this.#state !== 'ready' || idleTimeoutMs === 0 || this.#traffic.inflight > 0) {
			return;
		}

		// Counted from the end of the last request, or from readiness if none came since.
		const since = Math.max(this.#traffic.lastEndedAt, this.#readyAt ?? 0);
		this.#idleStopAt = since + idleTimeoutMs;
		this.#idleTimer = this.context.clock.setTimeout(() => {
			void this.#idleExpired();
		}, Math.max(0, this.#idleStopAt - this.context.clock.now()));
	}

	async #idleExpired(): Promise<void> {
		this.#idleTimer = undefined;
		this.#idleStopAt = undefined;
		if (this.#state !== 'ready' || this.#traffic.inflight > 0) {
			return;
		}

		// The data plane has the last word: a request may have arrived since its last report.
		if (!await this.context.quiesce(this.name) || this.#state !== 'ready') {
			return;
		}

		await this.stop(`idle for ${formatDuration(this.#config.idleTimeoutMs)}`);
	}

	#setState(state: ModelState, reason: string | undefined): void {
		const previous = this.#state;
		this.#state = state;
		this.#reason = reason;
		this.context.events.emit({type: 'model.state', model: this.name, state, previous, reason, at: this.context.clock.now()});
	}

	#log(line: string): void {
		this.logs.push(line);
		this.context.events.emit({type: 'log', model: this.name, line, at: this.context.clock.now()});
	}

	#withLogTail(message: string): string {
		// This start's lines only: an earlier run's last words would mislead.
		const tail = this.logs.tail(logLinesInErrors, this.#logStart).filter(line => !/^switchboard: (starting|stopping) /.test(line));
		return tail.length === 0 ? message : `${message} Last log lines:\n${tail.join('\n')}`;
	}

	/** Ends the current instance, if any; the next start waits for this. */
	async #retire(): Promise<void> {
		const instance = this.#instance;
		const port = this.#port;
		this.#instance = undefined;
		this.#launched = undefined;
		const previous = this.#teardown;
		this.#teardown = (async () => {
			await previous;
			await instance?.stop();
			if (instance && port !== undefined) {
				this.context.releasePort(port);
			}
		})();
		return this.#teardown;
	}

	/** The settings changed since `launched` that only a start applies. */
	#waitingForStart(launched: ModelConfig): Array<keyof ModelConfig> {
		const changed = changedSettings(launched, this.#config);
		// While the backend runs as it was started, requests keep the name it serves (see servedName).
		return changed.some(setting => startSettings.has(setting)) ? changed.filter(setting => startSettings.has(setting) || setting === 'servedName') : [];
	}

	#clearTimers(): void {
		for (const timer of [this.#startupTimer, this.#idleTimer]) {
			if (timer) {
				this.context.clock.clearTimeout(timer);
			}
		}

		this.#startupTimer = undefined;
		this.#idleTimer = undefined;
		this.#idleStopAt = undefined;
	}
}

function safeFileName(name: string): string {
	return name.replaceAll(/[^\w.-]+/g, '_');
}

function fileTimestamp(ms: number): string {
	return new Date(ms).toISOString().replaceAll(':', '-').slice(0, 19);
}
