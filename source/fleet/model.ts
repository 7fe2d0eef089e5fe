import {changedSettings, startSettings} from '../config/changes.js';
import type {ModelConfig} from '../config/types.js';
import type {BackendActivity, ModelActivity} from '../dataplane/protocol.js';
import type {JobRecord} from '../launchers/slurm/job-ledger.js';
import type {Launch} from '../launchers/types.js';
import type {Clock, Timer} from '../util/clock.js';
import {formatDuration} from '../util/duration.js';
import type {FleetEvents} from './events.js';
import {LogRing} from './log-ring.js';
import {Replica, type ReplicaOwner, type ReplicaSnapshot} from './replica.js';

/**
 * `stopped → loading → ready → draining → stopped`; `failed` when its start failed (a request starts
 * it again) or its backends crashed too often (only an operator's start does). `ready` while at least
 * one replica is; `loading` again while its only replica restarts after a crash.
 */
export type ModelState = 'stopped' | 'loading' | 'ready' | 'draining' | 'failed';

/** Loading or ready: it runs, or is about to. */
export function isUp(state: ModelState): boolean {
	return state === 'loading' || state === 'ready';
}

/** What a model needs from the fleet around it. */
export interface ModelContext {
	clock: Clock;
	launch: Launch;
	events: FleetEvents;
	logDir: string;
	allocatePort(model: ModelConfig): Promise<number>;
	/** Marks a port as taken by a backend that already has it (a SLURM job taken over from an earlier run). */
	claimPort(port: number): number;
	releasePort(port: number): void;
	/** Whether some process listens on the port (ours are gone when this is asked). */
	portInUse(host: string, port: number): Promise<boolean>;
	/** Takes the model out of the data plane's rotation if nothing is in flight; false otherwise. */
	quiesce(model: string): Promise<boolean>;
	/**
	 * Of these backends, those the data plane still has requests in flight on. Asked once they are
	 * out of its routes, so the answer (and every report of backend traffic after it) is final.
	 */
	busyBackends(urls: string[]): Promise<string[]>;
	/** Waits for the model's turn to run (its group's other members stop first); false: it may not start now. */
	admit(model: FleetModel): Promise<boolean>;
}

/** A backend's requests in flight, as the data plane last reported them. */
export type BackendTraffic = Pick<BackendActivity, 'url' | 'inflight'>;

/** The data plane's counters for a model, as last reported. */
export type ModelTraffic = Omit<ModelActivity, 'model'>;

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
	/** Its backends that are not stopped (a static model's are not switchboard's to show here). */
	replicas: ReplicaSnapshot[];
	/** Unasked ends (crashes, failed starts) within its crash window. */
	crashes: number;
	/** Replicas restarted after a crash since switchboard started. */
	restarts: number;
}

/** A backend requests can be sent to now. */
export interface ReadyBackend {
	url: string;
	/** Its share of the model's load, relative to the other backends. */
	capacity: number;
}

export interface StopOptions {
	/** Wait for requests in flight (up to the model's drain timeout); default true. */
	drain?: boolean;
}

/** What the fleet, the admin API and the data-plane bridge need of any model, however it runs. */
export interface FleetModel {
	readonly name: string;
	/** Its settings as last configured; a reload replaces them (see reconfigure). */
	readonly config: ModelConfig;
	/** The name its backend knows it by, which requests are rewritten to (undefined: not known). */
	readonly servedName: string | undefined;
	readonly state: ModelState;
	/** Why it refuses requests by itself (it crashed too often), if it does. */
	readonly unavailable: string | undefined;
	/** How many stops it has been asked for: a start planned before one must not undo it. */
	readonly stops: number;
	/** Its backends are still stopping (their processes may hold the GPU a little longer). */
	readonly leaving: boolean;
	readonly logs: LogRing;
	demand(): void;
	traffic(traffic: ModelTraffic): void;
	backendTraffic(backends: readonly BackendTraffic[]): void;
	/** Takes it out of rotation, lets requests in flight finish (unless `drain` is false), then stops its backends. */
	stop(reason: string, options?: StopOptions): Promise<void>;
	snapshot(): ModelSnapshot;
	backends(): ReadyBackend[];
	/** One replica's own log lines and file (`index` as in its snapshot); undefined if it never ran. */
	replicaLog(index: number): {logs: LogRing; logPath: string | undefined} | undefined;
	/**
	 * Takes edited settings (same name and launcher). Returns those that wait for the backend's
	 * next start: a running backend keeps the command, port, … it was started with.
	 */
	reconfigure(config: ModelConfig): Array<keyof ModelConfig>;
}

/** After a crash a replica waits this long before it starts again, doubled for each further crash in the window. */
const restartBackoff = {firstMs: 1000, maxMs: 60_000};

/** A replica being stopped that still has requests running; done once the data plane reports none left. */
interface Drain {
	replica: Replica;
	url: string;
	done(): void;
}

/**
 * A model whose backends switchboard runs: started on demand, as many replicas as its load asks
 * for (within its min and max), restarted when they crash, stopped when idle.
 */
export class ManagedModel implements FleetModel {
	readonly logs = new LogRing();
	#config: ModelConfig;
	/** The settings its backends were started with; undefined while none runs. */
	#launched: ModelConfig | undefined;
	#state: ModelState = 'stopped';
	#reason: string | undefined;
	/** By index; a stopped one is a free slot (its GPU slice follows its index). */
	readonly #replicas: Replica[] = [];
	readonly #owner: ReplicaOwner;
	#startedAt: number | undefined;
	#readyAt: number | undefined;
	#traffic = noTraffic;
	/** When its backends ended unasked, within the crash window. */
	#crashes: number[] = [];
	#restarts = 0;
	#stops = 0;
	/** Failed for crashing too often: requests do not start it, an operator's start does. */
	#crashLooping = false;
	#idleTimer: Timer | undefined;
	#idleStopAt: number | undefined;
	#scaleUpTimer: Timer | undefined;
	#scaleDownTimer: Timer | undefined;
	/** When a replica was last added or removed: scaling counts its windows from there. */
	#scaledAt = 0;
	#stopping: Promise<void> | undefined;
	#restartAfterStop = false;
	readonly #drains = new Set<Drain>();
	/** A stop without draining was asked for: no drain waits any more. */
	#hurry = false;
	/** Replicas whose job nears its time limit, by the time their renewal starts (renew_before). */
	readonly #renewals = new Map<Replica, Timer>();
	/** Fresh replicas started to take over from another, and the one each replaces. */
	readonly #replacing = new Map<Replica, Replica>();
	/** Its request for a turn in its group, while it waits for one. */
	#admission: Promise<boolean> | undefined;

	constructor(config: ModelConfig, private readonly context: ModelContext) {
		this.#config = config;
		const model = this;
		this.#owner = {
			get name() {
				return model.name;
			},
			context,
			changed: (replica, reason) => {
				if (replica.state !== 'ready') {
					this.#forgetRenewal(replica);
				}

				if (replica.state !== 'draining') {
					// It ended while draining: nothing is left to wait for.
					this.#settleDrains(drain => drain.replica === replica);
				}

				const {url, port} = replica.snapshot();
				context.events.emit({type: 'backend.state', model: this.name, replica: replica.index, url, port, state: replica.state, reason, at: context.clock.now()});
			},
			log: (replica, line) => {
				this.#log(this.#config.replicas.max > 1 ? `[replica ${replica.index}] ${line}` : line);
			},
			ready: replica => {
				this.#replicaReady(replica);
			},
			ended: (replica, reason, whileLoading) => {
				this.#replicaEnded(replica, reason, whileLoading);
			},
			left: (_replica, reason) => {
				if (!isUp(this.#state)) {
					return;
				}

				// The others serve on; with none left the model stops, and the next request starts it again.
				if (!this.#replicas.some(other => other.live)) {
					void this.stop(reason);
				} else if (this.#state === 'ready' && !this.#replicas.some(other => other.state === 'ready')) {
					// Those left are still coming up: its requests wait for them.
					this.#setState('loading', reason);
				}
			},
		};
	}

	get config(): ModelConfig {
		return this.#config;
	}

	get name(): string {
		return this.#config.name;
	}

	get servedName(): string | undefined {
		// Backends started with another command may serve another name, until they restart.
		const launched = this.#launched;
		return launched && this.#waitingForStart(launched).length > 0 ? launched.servedName : this.#config.servedName;
	}

	reconfigure(config: ModelConfig): Array<keyof ModelConfig> {
		this.#config = config;
		// A new idle timeout counts from the same last request (and stops the model at once if that is long enough ago).
		this.#scheduleIdleStop();
		this.#scale();
		return this.#launched ? this.#waitingForStart(this.#launched) : [];
	}

	get state(): ModelState {
		return this.#state;
	}

	get unavailable(): string | undefined {
		return this.#crashLooping ? this.#reason : undefined;
	}

	get stops(): number {
		return this.#stops;
	}

	get leaving(): boolean {
		return this.#replicas.some(replica => replica.state === 'stopping');
	}

	backends(): ReadyBackend[] {
		if (this.#state !== 'ready') {
			return [];
		}

		const backends: ReadyBackend[] = [];
		for (const replica of this.#replicas) {
			const {url} = replica;
			if (replica.state === 'ready' && url) {
				backends.push({url, capacity: this.#config.capacity});
			}
		}

		return backends;
	}

	/** Requests are waiting for this model. */
	demand(): void {
		if (this.#crashLooping) {
			return;
		}

		if (this.#state === 'draining') {
			this.#restartAfterStop = true;
		} else if (this.#state === 'stopped' || this.#state === 'failed') {
			void this.#start();
		}
	}

	traffic(traffic: ModelTraffic): void {
		this.#traffic = traffic;
		this.#scheduleIdleStop();
		this.#scale();
	}

	backendTraffic(backends: readonly BackendTraffic[]): void {
		for (const drain of this.#drains) {
			if (drain.replica.state === 'draining' && backends.some(backend => backend.url === drain.url && backend.inflight === 0)) {
				drain.done();
			}
		}
	}

	replicaLog(index: number): {logs: LogRing; logPath: string | undefined} | undefined {
		const replica = this.#replicas[index];
		return replica && {logs: replica.logs, logPath: replica.snapshot().logPath};
	}

	/** An operator's start: also the way out of a crash loop. */
	async start(): Promise<void> {
		this.#crashes = [];
		if (this.#crashLooping) {
			this.#crashLooping = false;
			// The data plane stops refusing its requests now, even while it waits for its group.
			this.context.events.emit({type: 'model.updated', model: this.name, at: this.context.clock.now()});
		}

		await this.#start();
	}

	/** Runs a SLURM job an earlier switchboard left running as one of its replicas (see recoverJobs). */
	async adopt(job: JobRecord): Promise<void> {
		if (!isUp(this.#state)) {
			this.#launched = this.#config;
			this.#startedAt = job.submittedAt;
			this.#readyAt = undefined;
			this.#scaledAt = this.context.clock.now();
			this.#setState('loading', `taking over SLURM job ${job.id ?? job.name}`);
		}

		const replica = this.#freeReplica();
		await replica.start(this.#launched ?? this.#config, job);
	}

	async stop(reason: string, options: StopOptions = {}): Promise<void> {
		this.#stops++;
		this.#restartAfterStop = false;
		if (options.drain === false) {
			// Shutting down: requests still running are not waited for any longer.
			this.#hurry = true;
			this.#settleDrains(() => true);
		}

		if (this.#stopping) {
			return this.#stopping;
		}

		if (!isUp(this.#state)) {
			// Failed: what it ran may still be leaving.
			await Promise.all(this.#replicas.map(async replica => replica.gone()));
			return;
		}

		this.#stopping = this.#stop(reason, options.drain ?? true);
		return this.#stopping;
	}

	snapshot(): ModelSnapshot {
		const replicas = this.#replicas.filter(replica => replica.state !== 'stopped').map(replica => replica.snapshot());
		const first = replicas[0];
		return {
			name: this.name,
			state: this.#state,
			reason: this.#reason,
			pid: first?.pid,
			port: first?.port,
			url: first?.url,
			logPath: first?.logPath ?? this.#lastLogPath(),
			command: first?.command ?? [],
			startedAt: this.#startedAt,
			readyAt: this.#readyAt,
			idleTimeoutMs: this.#config.idleTimeoutMs,
			idleStopAt: this.#idleStopAt,
			replicas,
			crashes: this.#crashes.length,
			restarts: this.#restarts,
			...this.#traffic,
		};
	}

	async #start(): Promise<void> {
		if (this.#state === 'draining') {
			this.#restartAfterStop = true;
			return;
		}

		if (isUp(this.#state)) {
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

		// Edits made from here on wait for the next start.
		this.#hurry = false;
		this.#launched = this.#config;
		this.#startedAt = this.context.clock.now();
		this.#readyAt = undefined;
		this.#scaledAt = this.#startedAt;
		this.#setState('loading', undefined);
		const starts: Array<Promise<void>> = [];
		for (let count = 0; count < this.#config.replicas.min; count++) {
			starts.push(this.#addReplica());
		}

		await Promise.all(starts);
	}

	/** Starts the free replica slot with the lowest index (so replicas keep their GPUs). */
	async #addReplica(): Promise<void> {
		const launched = this.#launched;
		if (!launched) {
			return;
		}

		this.#scaledAt = this.context.clock.now();
		await this.#freeReplica().start(launched);
	}

	/** The free slot with the lowest index, or a new one; a slot still stopping is fine (its next start waits for that). */
	#freeReplica(): Replica {
		let replica = this.#replicas.find(candidate => candidate.state === 'stopped' || candidate.state === 'stopping');
		if (!replica) {
			replica = new Replica(this.#replicas.length, this.#owner);
			this.#replicas.push(replica);
		}

		return replica;
	}

	async #stop(reason: string, drain: boolean): Promise<void> {
		this.#clearTimers();
		this.#setState('draining', reason);
		this.#log(`switchboard: stopping ${this.name} (${reason})`);
		await this.#retireReplicas(this.#replicas, reason, drain);
		this.#launched = undefined;
		this.#stopping = undefined;
		this.#setState('stopped', reason);
		if (this.#restartAfterStop) {
			this.#restartAfterStop = false;
			void this.#start();
		}
	}

	/**
	 * Takes these replicas out of rotation and stops each once the data plane has no request in
	 * flight on it (or after the drain timeout); `drain` false stops them at once.
	 */
	async #retireReplicas(replicas: Replica[], reason: string, drain: boolean): Promise<void> {
		for (const replica of replicas) {
			replica.drain(reason);
		}

		await Promise.all(replicas.map(async replica => {
			const {generation} = replica;
			if (drain && replica.state === 'draining') {
				await this.#drained(replica);
			}

			// Ended meanwhile, and perhaps started again for another purpose: that one is not ours to stop.
			if (replica.generation === generation) {
				await replica.stop(reason);
			}
		}));
	}

	/** Resolves once the data plane has no request in flight on this replica (out of rotation by now), or after the drain timeout. */
	async #drained(replica: Replica): Promise<void> {
		const {url} = replica;
		const timeoutMs = this.#config.drainTimeoutMs;
		if (url === undefined || timeoutMs === 0 || this.#hurry) {
			return;
		}

		const busy = await this.context.busyBackends([url]);
		// A stop without draining, or the replica's own end, may have come meanwhile.
		if (busy.length === 0 || this.#hurry || replica.state !== 'draining') {
			return;
		}

		const {clock} = this.context;
		await new Promise<void>(resolve => {
			const drain: Drain = {
				replica,
				url,
				done: () => {
					clock.clearTimeout(timer);
					this.#drains.delete(drain);
					resolve();
				},
			};
			const timer = clock.setTimeout(() => {
				this.#log(`switchboard: requests on ${url} were still running after ${formatDuration(timeoutMs)}; stopping under them`);
				drain.done();
			}, timeoutMs);
			this.#drains.add(drain);
		});
	}

	#settleDrains(which: (drain: Drain) => boolean): void {
		for (const drain of this.#drains) {
			if (which(drain)) {
				drain.done();
			}
		}
	}

	#replicaReady(replica: Replica): void {
		const replaced = this.#replacing.get(replica);
		if (replaced) {
			this.#replacing.delete(replica);
			void this.#retireReplicas([replaced], 'replaced by a fresh SLURM job before its time limit', true);
		}

		this.#scheduleRenewal(replica);
		if (this.#state === 'loading') {
			this.#readyAt = this.context.clock.now();
			this.#setState('ready', undefined);
		}

		this.#scheduleIdleStop();
		this.#scale();
	}

	#replicaEnded(replica: Replica, reason: string, whileLoading: boolean): void {
		if (!isUp(this.#state)) {
			// Stopping anyway.
			return;
		}

		const now = this.context.clock.now();
		this.#crashes = this.#crashes.filter(at => at > now - this.#config.crashWindowMs);
		this.#crashes.push(now);
		const crashes = this.#crashes.length;
		if (crashes >= this.#config.maxCrashes) {
			void this.#fail(`${reason}\n${this.name} ended unexpectedly ${crashes} times within ${formatDuration(this.#config.crashWindowMs)}, so switchboard does not start it again until an operator does (POST /models/${this.name}/start).`, true);
			return;
		}

		if (whileLoading && !this.#replicas.some(other => other.live)) {
			// Nothing else will serve its waiters: they hear why now, not at their timeout; the next request tries again.
			void this.#fail(reason, false);
			return;
		}

		this.#restarts++;
		replica.restartAfter(Math.min(restartBackoff.maxMs, restartBackoff.firstMs * (2 ** (crashes - 1))), this.#launched ?? this.#config, reason);
		if (this.#state === 'ready' && !this.#replicas.some(other => other.state === 'ready')) {
			// Its requests wait for the restart rather than fail.
			this.#setState('loading', reason);
		}
	}

	/** Stops what is left of it; `crashLooping` keeps it failed until an operator's start. */
	async #fail(reason: string, crashLooping: boolean): Promise<void> {
		this.#crashLooping = crashLooping;
		this.#clearTimers();
		this.#launched = undefined;
		const stopped = Promise.all(this.#replicas.map(async replica => replica.stop('its model failed')));
		this.#setState('failed', reason);
		await stopped;
	}

	/** Adds a replica when the queue stays long, drops those above `min` when requests stop. */
	#scale(): void {
		const {min, max, scaleUpQueue, scaleUpAfterMs, scaleDownAfterMs} = this.#config.replicas;
		const live = this.#live();
		if (this.#state !== 'ready' || this.#stopping) {
			this.#clearScaleTimers();
			return;
		}

		if (live.length < min) {
			// A reload raised min.
			for (let count = live.length; count < min; count++) {
				void this.#addReplica();
			}

			return;
		}

		if (live.length > max) {
			// A reload lowered max.
			void this.#removeReplicas(live.length - max, 'max_replicas was lowered');
			return;
		}

		const {clock} = this.context;
		if (this.#wantsReplica(live)) {
			this.#scaleUpTimer ??= clock.setTimeout(() => {
				this.#scaleUpTimer = undefined;
				if (this.#wantsReplica(this.#live())) {
					this.#log(`switchboard: adding a replica to ${this.name}: more than ${scaleUpQueue} requests per replica waited for ${formatDuration(scaleUpAfterMs)}`);
					void this.#addReplica();
				}
			}, scaleUpAfterMs);
		} else if (this.#scaleUpTimer) {
			clock.clearTimeout(this.#scaleUpTimer);
			this.#scaleUpTimer = undefined;
		}

		if (this.#spare(live) > 0) {
			const since = Math.max(this.#traffic.lastEndedAt, this.#scaledAt);
			this.#scaleDownTimer ??= clock.setTimeout(() => {
				this.#scaleDownTimer = undefined;
				const spare = this.#spare(this.#live());
				if (spare > 0) {
					void this.#removeReplicas(spare, `no requests for ${formatDuration(scaleDownAfterMs)}`);
				}
			}, Math.max(0, since + scaleDownAfterMs - clock.now()));
		} else if (this.#scaleDownTimer) {
			clock.clearTimeout(this.#scaleDownTimer);
			this.#scaleDownTimer = undefined;
		}
	}

	/** Its replicas that are loading, ready or restarting. */
	#live(): Replica[] {
		// One being replaced by a fresh job is on its way out: scaling counts the fresh one.
		const replaced = new Set(this.#replacing.values());
		return this.#replicas.filter(replica => replica.live && !replaced.has(replica));
	}

	/** With renew_before, a fresh job is started that long before this replica's job reaches its time limit. */
	#scheduleRenewal(replica: Replica): void {
		const renewBeforeMs = this.#launched?.slurm?.renewBeforeMs ?? 0;
		const endsAt = replica.snapshot().job?.endsAt;
		if (renewBeforeMs === 0 || endsAt === undefined || this.#renewals.has(replica)) {
			return;
		}

		const {clock} = this.context;
		this.#renewals.set(replica, clock.setTimeout(() => {
			this.#renewals.delete(replica);
			void this.#renew(replica);
		}, Math.max(0, endsAt - renewBeforeMs - clock.now())));
	}

	/** Starts a fresh job beside a replica whose job nears its time limit; the old one drains once the fresh one is ready. */
	async #renew(replica: Replica): Promise<void> {
		const launched = this.#launched;
		if (!launched || replica.state !== 'ready' || this.#stopping) {
			return;
		}

		const {job} = replica.snapshot();
		this.#log(`switchboard: SLURM job ${job?.id ?? ''} of ${this.name} reaches its time limit in ${formatDuration(Math.max(0, (job?.endsAt ?? 0) - this.context.clock.now()))}; starting a fresh job to take over`);
		const fresh = this.#freeReplica();
		this.#replacing.set(fresh, replica);
		await fresh.start(launched);
	}

	#forgetRenewal(replica: Replica): void {
		const timer = this.#renewals.get(replica);
		if (timer) {
			this.context.clock.clearTimeout(timer);
			this.#renewals.delete(replica);
		}

		if (replica.state === 'stopping' || replica.state === 'stopped' || replica.state === 'restarting') {
			// A fresh job that did not make it: the old one serves on until its own end. An old one
			// that ended first: the fresh one simply serves once ready, and the slot may be reused.
			this.#replacing.delete(replica);
			for (const [fresh, old] of this.#replacing) {
				if (old === replica) {
					this.#replacing.delete(fresh);
				}
			}
		}
	}

	/**
	 * How many replicas above min may go now: none while a request runs, nor while one restarts or
	 * loads (those dropped could be the only ones serving).
	 */
	#spare(live: Replica[]): number {
		const idle = this.#state === 'ready' && this.#traffic.inflight === 0 && live.every(replica => replica.state === 'ready');
		return idle ? Math.max(0, live.length - this.#config.replicas.min) : 0;
	}

	/** More requests per replica than it serves at once plus `scale_up_queue`, and room for one more that is not already coming. */
	#wantsReplica(live: Replica[]): boolean {
		const {max, scaleUpQueue} = this.#config.replicas;
		if (live.length === 0 || live.length >= max || live.some(replica => replica.state !== 'ready')) {
			return false;
		}

		const queued = this.#traffic.inflight - (live.length * this.#config.capacity);
		return queued / live.length > scaleUpQueue;
	}

	/** Drains and stops the `count` live replicas with the highest indexes. */
	async #removeReplicas(count: number, reason: string): Promise<void> {
		const leaving = this.#live().slice(-count);
		this.#scaledAt = this.context.clock.now();
		this.#log(`switchboard: stopping ${leaving.length} replica${leaving.length === 1 ? '' : 's'} of ${this.name} (${reason})`);
		await this.#retireReplicas(leaving, reason, true);
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

	/** The log file of the most recent start, once every replica has stopped. */
	#lastLogPath(): string | undefined {
		return this.#replicas.map(replica => replica.snapshot()).filter(replica => replica.logPath !== undefined).sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0))[0]?.logPath;
	}

	/** The settings changed since `launched` that only a start applies. */
	#waitingForStart(launched: ModelConfig): Array<keyof ModelConfig> {
		const changed = changedSettings(launched, this.#config);
		// While the backends run as they were started, requests keep the name they serve (see servedName).
		return changed.some(setting => startSettings.has(setting)) ? changed.filter(setting => startSettings.has(setting) || setting === 'servedName') : [];
	}

	#clearScaleTimers(): void {
		for (const timer of [this.#scaleUpTimer, this.#scaleDownTimer]) {
			if (timer) {
				this.context.clock.clearTimeout(timer);
			}
		}

		this.#scaleUpTimer = undefined;
		this.#scaleDownTimer = undefined;
	}

	#clearTimers(): void {
		this.#clearScaleTimers();
		for (const timer of this.#renewals.values()) {
			this.context.clock.clearTimeout(timer);
		}

		this.#renewals.clear();
		this.#replacing.clear();
		if (this.#idleTimer) {
			this.context.clock.clearTimeout(this.#idleTimer);
		}

		this.#idleTimer = undefined;
		this.#idleStopAt = undefined;
	}
}
