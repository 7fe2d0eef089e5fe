import {isDeepStrictEqual} from 'node:util';
import {changedSettings} from '../config/changes.js';
import type {Config, ModelConfig} from '../config/types.js';
import type {JobRecord} from '../launchers/slurm/job-ledger.js';
import type {Launch} from '../launchers/types.js';
import {canBind, findFreePort} from '../launchers/ports.js';
import {resolveExecutable} from '../launchers/command.js';
import type {ModelActivity} from '../dataplane/protocol.js';
import {systemClock, type Clock, type Timer} from '../util/clock.js';
import {formatDuration} from '../util/duration.js';
import {adHocConfig, adHocName} from './ad-hoc.js';
import {FleetEvents} from './events.js';
import {GroupScheduler} from './groups.js';
import {isUp, ManagedModel, type BackendTraffic, type FleetModel, type ModelContext, type ModelSnapshot, type ModelState} from './model.js';
import {memoryStore, OperatorChoices, type AdHocModel, type ModelPreferences, type Pin, type PreferenceStore} from './preferences.js';
import {StaticModel} from './static-model.js';

export interface FleetOptions {
	launch: Launch;
	/** See ModelContext.quiesce; for a removed model, whether its last requests have finished. */
	quiesce(model: string): Promise<boolean>;
	busyBackends: ModelContext['busyBackends'];
	/** Where the operator's choices are kept; defaults to memory, for this run only. */
	preferences?: PreferenceStore;
	clock?: Clock;
	/** Defaults to binding-test from the model's port base up. */
	findPort?(model: ModelConfig, taken: ReadonlySet<number>): Promise<number>;
	/** Defaults to a bind test. */
	portInUse?(host: string, port: number): Promise<boolean>;
}

/**
 * How long a removed model's requests in flight may still run before its backend is stopped under
 * them. Generations run for minutes (long completions, reasoning models), and cutting one wastes
 * what its user waited for; a removed model that serves nothing is stopped at once, so this only
 * bounds how long requests that are really running keep its GPU.
 */
export const drainTimeoutMs = 5 * 60_000;

/** What a reload changed in the fleet, by model name (see Fleet.apply). */
export interface ReloadSummary {
	/** New models, and removed ones that were still draining and are back. */
	added: string[];
	/** Taken out of rotation; each is stopped and forgotten once its requests finish. */
	removed: string[];
	changed: ModelChange[];
	/** Edits that cannot be applied live, in words; the models keep running as they were. */
	refused: string[];
}

export interface ModelChange {
	name: string;
	settings: Array<keyof ModelConfig>;
	/** Of `settings`, those its running backend gets at its next start. */
	atNextStart: Array<keyof ModelConfig>;
}

/** How an operator's start ended: ready, failed, stopped before it was ready, or never begun (its turn in its group was withdrawn). */
export type StartOutcome = 'ready' | 'failed' | 'stopped' | 'not started';

/** A model as the fleet sees it: its own snapshot, its group and what the operator chose for it. */
export interface FleetSnapshot extends ModelSnapshot {
	launcher: ModelConfig['launcher'];
	group: string | undefined;
	pin: Pin | undefined;
	/** The idle timeout the operator set, if any (idleTimeoutMs is the one in force). */
	idleTimeoutOverrideMs: number | undefined;
	/** The spec POST /switch started it with (a model and its flags), if it was not configured. */
	spec: string[] | undefined;
	/** Waits for its turn in its group. */
	waitingForGroup: boolean;
	/** Why its requests are refused now, if they are. */
	unavailable: string | undefined;
}

/** An operator command that cannot be carried out, and why: no such model, not in this state, or not a command that makes sense. */
export class OperatorError extends Error {
	constructor(readonly kind: 'not found' | 'conflict' | 'invalid', message: string) {
		super(message);
	}
}

/** A removed model finishing its requests. */
interface Drain {
	model: FleetModel;
	timer: Timer;
	/** The data plane has answered since the model left its routes: activity reports from now on are fresh. */
	answered: boolean;
	done: boolean;
}

/**
 * The single owner of lifecycle state: every model, its backend, and the events that tell
 * the data plane, the admin API and the UI what changed.
 */
export class Fleet {
	readonly events = new FleetEvents();
	#models = new Map<string, FleetModel>();
	/** Removed models whose requests are still finishing, by name. */
	readonly #draining = new Map<string, Drain>();
	readonly #takenPorts = new Set<number>();
	#portSearch: Promise<unknown> = Promise.resolve();
	readonly #context: ModelContext;
	readonly #groups: GroupScheduler;
	readonly #choices: OperatorChoices;
	/** Each model's settings before the operator's choices are applied (see OperatorChoices.applied). */
	readonly #base = new Map<string, ModelConfig>();
	/** The last config applied: its [defaults] and switch command make ad-hoc models. */
	#config: Config;
	/** stopAll was called: switchboard is shutting down, and nothing starts any more. */
	#closed = false;

	constructor(config: Config, options: FleetOptions) {
		const clock = options.clock ?? systemClock;
		this.#config = config;
		this.#choices = new OperatorChoices(options.preferences ?? memoryStore());
		this.#groups = new GroupScheduler({
			clock,
			models: () => [...this.#models.values(), ...[...this.#draining.values()].map(removed => removed.model)],
			pinnedOn: model => this.#choices.pin(model.name) === 'on',
			evict(model, reason) {
				void model.stop(reason);
			},
		});
		const findPort = options.findPort ?? (async (model, taken) => model.port ?? findFreePort(model.host, model.portBase, taken));
		this.#context = {
			clock,
			launch: options.launch,
			events: this.events,
			logDir: config.server.logDir,
			quiesce: options.quiesce,
			busyBackends: options.busyBackends,
			// A removed model only finishes its requests; after stopAll, a start would outlive switchboard.
			admit: async model => !this.#closed && this.#models.get(model.name) === model
				&& this.#choices.pin(model.name) !== 'off' && this.#groups.admit(model),
			allocatePort: async (model: ModelConfig) => {
				// One search at a time: replicas starting together would all find the same free port.
				const allocation = this.#portSearch.then(async () => {
					const taken = new Set([...this.#takenPorts, config.server.port]);
					const port = await findPort(model, taken);
					if (model.port === undefined && this.#takenPorts.has(port)) {
						throw new Error(`port ${port} is already used by another backend`);
					}

					this.#takenPorts.add(port);
					return port;
				});
				this.#portSearch = allocation.catch(() => undefined);
				return allocation;
			},
			claimPort: (port: number) => {
				this.#takenPorts.add(port);
				return port;
			},
			releasePort: (port: number) => {
				this.#takenPorts.delete(port);
			},
			portInUse: options.portInUse ?? (async (host: string, port: number) => !await canBind(host, port)),
		};
		this.#forgetShadowedAdHoc(config);
		for (const model of this.#wanted(config)) {
			this.#models.set(model.name, this.#create(model));
		}

		this.events.on(event => {
			if (event.type === 'model.state') {
				this.#groups.changed(event.model, event.state);
			} else if (event.type === 'backend.state' && event.state === 'stopped') {
				// Its processes are gone: the GPU a leaving model held is free now.
				this.#groups.changed();
			}
		});
	}

	get models(): FleetModel[] {
		return [...this.#models.values()];
	}

	get(name: string): FleetModel | undefined {
		return this.#models.get(name);
	}

	demand(name: string): void {
		// Refused by the data plane already (see unavailable); this only guards against a late report.
		if (this.#choices.pin(name) !== 'off') {
			this.#models.get(name)?.demand();
		}
	}

	activity(activity: readonly ModelActivity[], backends: readonly BackendTraffic[] = []): void {
		for (const {model: name, ...traffic} of activity) {
			const drain = this.#draining.get(name);
			(this.#models.get(name) ?? drain?.model)?.traffic(traffic);
			if (drain?.answered && traffic.inflight === 0) {
				void this.#finishDrain(drain, 'its last request finished');
			}
		}

		if (backends.length > 0) {
			for (const model of this.#models.values()) {
				model.backendTraffic(backends);
			}
		}
	}

	snapshot(): FleetSnapshot[] {
		return this.models.map(model => this.describe(model));
	}

	describe(model: FleetModel): FleetSnapshot {
		const preferences = this.#choices.of(model.name);
		return {
			...model.snapshot(),
			launcher: model.config.launcher,
			group: model.config.group,
			pin: preferences?.pin,
			idleTimeoutOverrideMs: preferences?.idleTimeoutMs,
			spec: this.#choices.adHocModel(model.name)?.spec,
			waitingForGroup: this.#groups.waiting(model),
			unavailable: this.unavailable(model),
		};
	}

	/**
	 * Why the model's requests are refused now, if they are: it crashed too often, the operator stopped
	 * it with a pin, or a member of its group that the operator keeps running holds the group (a
	 * request would wait in vain).
	 */
	unavailable(model: FleetModel): string | undefined {
		const {name} = model;
		if (model.unavailable !== undefined) {
			return model.unavailable;
		}

		if (this.#choices.pin(name) === 'off') {
			return `${name} was stopped by the operator; POST /models/${name}/start to start it.`;
		}

		const holder = this.#pinnedHolder(model);
		return holder && `${name} shares group ${model.config.group} with ${holder.name}, which the operator keeps running; POST /switch {"model": "${name}"} runs ${name} instead.`;
	}

	/**
	 * Makes the fleet match an edited config, by model name: new models are added (routable at
	 * once), models no longer listed drain (no new request; their backend is stopped once those in
	 * flight have finished, or after drainTimeoutMs), and the others take their new settings
	 * (a running backend keeps what it was started with until its next start). Never stops a
	 * backend under its requests. The order of `models` becomes the file's.
	 */
	apply(config: Config): ReloadSummary {
		const summary: ReloadSummary = {added: [], removed: [], changed: [], refused: []};
		this.#config = config;
		summary.refused.push(...this.#forgetShadowedAdHoc(config));
		const next = new Map<string, FleetModel>();
		const updated: string[] = [];
		for (const modelConfig of this.#wanted(config)) {
			const {name} = modelConfig;
			const drain = this.#draining.get(name);
			const current = this.#models.get(name) ?? drain?.model;
			if (current === undefined) {
				next.set(name, this.#create(modelConfig));
				summary.added.push(name);
				continue;
			}

			if (current.config.launcher !== modelConfig.launcher) {
				// A local and a static model of one name would share its requests, its counters and its drain.
				summary.refused.push(`models ${JSON.stringify(name)}.launcher changed from "${current.config.launcher}" to "${modelConfig.launcher}", which is not applied live: restart switchboard, or remove the model, save, and add it back once it has stopped.`);
				if (!drain) {
					next.set(name, current);
				}

				continue;
			}

			next.set(name, current);
			this.#base.set(name, modelConfig);
			if (drain) {
				// Removed by an earlier edit and still finishing its requests: it stays, backend and all.
				this.#draining.delete(name);
				this.#context.clock.clearTimeout(drain.timer);
				summary.added.push(name);
			}

			// Compared as it runs: an idle timeout the operator set wins over the file's.
			const settings = changedSettings(current.config, this.#choices.applied(modelConfig));
			if (settings.length === 0) {
				continue;
			}

			const waiting = current.reconfigure(this.#choices.applied(modelConfig));
			updated.push(name);
			if (!drain) {
				summary.changed.push({name, settings, atNextStart: settings.filter(setting => waiting.includes(setting))});
			}
		}

		const removed = [...this.#models.values()].filter(model => !next.has(model.name));
		this.#models = next;
		const at = this.#context.clock.now();
		for (const name of summary.added) {
			this.events.emit({type: 'model.added', model: name, at});
		}

		for (const name of updated) {
			this.events.emit({type: 'model.updated', model: name, at});
		}

		for (const model of removed) {
			summary.removed.push(model.name);
			this.#base.delete(model.name);
			this.#drain(model);
		}

		// Groups may have changed.
		this.#groups.changed();
		return summary;
	}

	/** Starts a model (in its group's turn) and resolves once it is ready or its start ended otherwise. */
	start(name: string, {pin}: {pin?: boolean | undefined} = {}): Promise<StartOutcome> {
		const model = this.#managed(name);
		this.#refuseIfHeld(model);
		const current = this.#choices.pin(name);
		// `pin: true` keeps it running; without `pin`, a pin on stays and a pin off (a stop) ends with this start.
		this.#choose(name, {pin: pin === true || (pin === undefined && current === 'on') ? 'on' : undefined});
		return this.#startAndWait(model);
	}

	/**
	 * Stops a model once its requests in flight have finished. With `pin`, it stays stopped, its
	 * requests refused, until the operator starts it; without, the next request starts it again.
	 */
	stop(name: string, {pin}: {pin?: boolean | undefined} = {}): Promise<void> {
		const model = this.#managed(name);
		this.#choose(name, {pin: pin ? 'off' : undefined});
		this.#groups.cancel(model);
		return model.stop(pin ? `stopped by the operator; POST /models/${name}/start to start it` : 'stopped by the operator');
	}

	/** Stops a model (its requests in flight finish) and starts it again; a running one keeps its group meanwhile. */
	restart(name: string): Promise<StartOutcome> {
		const model = this.#managed(name);
		this.#refuseIfHeld(model);
		this.#choose(name, {pin: this.#choices.pin(name) === 'on' ? 'on' : undefined});
		if (isUp(model.state)) {
			this.#groups.keep(model);
		}

		return (async () => {
			if (!await this.#stopBeforeStart(model, 'restarted by the operator')) {
				// Stopped again, removed or shut down meanwhile: the newer order wins, and the group is not kept for it.
				this.#groups.release(model);
				return 'not started';
			}

			return this.#startAndWait(model);
		})();
	}

	/** The operator's idle timeout for a model (0 = never), in force at once; undefined goes back to the config's. */
	setIdleTimeout(name: string, ms: number | undefined): void {
		this.#managed(name);
		this.#choose(name, {idleTimeoutMs: ms});
	}

	/**
	 * The operator's order to run this model of its group: the others stop now (their requests in
	 * flight finish; no residency is waited for, and a pin on them ends), then it starts.
	 */
	switchTo(name: string): Promise<StartOutcome> {
		return this.#switch(this.#managed(name));
	}

	/**
	 * `POST /switch {model_spec}`: runs the switch command with the spec as an ad-hoc model, made
	 * (or remade with the new spec) and switched to as switchTo does. It outlives reloads and restarts
	 * until forgotten. A spec that is only the name of a configured model switches to that model.
	 */
	switchToSpec(spec: string[], group: string | undefined): {name: string; outcome: Promise<StartOutcome>} {
		const {switchCommand} = this.#config.server;
		const reading = adHocName(switchCommand, spec);
		if ('expected' in reading) {
			throw new OperatorError('invalid', `The spec's model must be ${reading.expected}.`);
		}

		const name = reading.value;
		const configured = this.#config.models.find(model => model.name === name || model.aliases.includes(name));
		if (configured) {
			if (spec.length === 1 && group === undefined) {
				return {name: configured.name, outcome: this.switchTo(configured.name)};
			}

			throw new OperatorError('conflict', `${name} is a configured model: {"model": "${configured.name}"} runs it as configured; a spec with other settings needs a name of its own (--served-model-name).`);
		}

		// A SLURM job runs the command on its node, whose PATH is not ours to check.
		if (this.#config.defaults.launcher !== 'slurm' && !resolveExecutable(switchCommand[0]!)) {
			throw new OperatorError('conflict', `switchboard cannot run \`${switchCommand[0]}\` (its switch command, \`${switchCommand.join(' ')}\`): no such executable. Set [server] switch_command or --switch-command.`);
		}

		const wanted: AdHocModel = {name, spec, group};
		if (!isDeepStrictEqual(this.#choices.adHocModel(name), wanted)) {
			this.#choices.keepAdHoc(wanted);
		}

		const config = adHocConfig(this.#config.defaults, switchCommand, wanted);
		const existing = this.#models.get(name);
		if (!existing) {
			const model = this.#create(config);
			this.#models.set(name, model);
			this.events.emit({type: 'model.added', model: name, at: this.#context.clock.now()});
			return {name, outcome: this.switchTo(name)};
		}

		this.#base.set(name, config);
		// A backend running another spec of this model is replaced.
		const replaced = existing.reconfigure(this.#choices.applied(config)).length > 0;
		this.events.emit({type: 'model.updated', model: name, at: this.#context.clock.now()});
		return {
			name,
			outcome: (async () => {
				if (replaced) {
					if (!await this.#stopBeforeStart(existing, 'switched to another spec')) {
						return 'not started';
					}
				}

				return this.switchTo(name);
			})(),
		};
	}

	/** Forgets an ad-hoc model: it takes no new request, and its backend stops once those in flight have finished. */
	forget(name: string): FleetModel {
		const model = this.#models.get(name);
		if (!model) {
			throw new OperatorError('not found', `The model \`${name}\` does not exist.`);
		}

		if (!this.#choices.adHocModel(name)) {
			throw new OperatorError('conflict', `${name} is configured, not started by POST /switch with a spec: remove it from the configuration instead.`);
		}

		this.#choices.dropAdHoc(adHoc => adHoc.name === name, {choicesToo: true});
		this.#groups.cancel(model);
		this.#models.delete(name);
		this.#base.delete(name);
		this.#drain(model);
		return model;
	}

	/** Takes over a SLURM job an earlier run left running, as a replica of its model; once, when switchboard starts. */
	adopt(job: JobRecord): void {
		const model = this.#models.get(job.model);
		if (model instanceof ManagedModel) {
			void model.adopt(job);
		}
	}

	/** Starts the models the operator pinned on; once, when switchboard starts. */
	startPinned(): void {
		for (const name of this.#choices.pinnedOn()) {
			const model = this.#models.get(name);
			if (model instanceof ManagedModel) {
				void this.#startAndWait(model);
			}
		}
	}

	/** Stops every backend, those of removed models still draining too; used on shutdown. */
	async stopAll(reason: string): Promise<void> {
		this.#closed = true;
		this.#groups.cancelAll();
		const draining = [...this.#draining.values()];
		for (const drain of draining) {
			this.#context.clock.clearTimeout(drain.timer);
		}

		this.#draining.clear();
		await Promise.all([...this.models, ...draining.map(drain => drain.model)].map(async model => model.stop(reason, {drain: false})));
	}

	#create(config: ModelConfig): FleetModel {
		this.#base.set(config.name, config);
		const running = this.#choices.applied(config);
		return config.launcher === 'static' ? new StaticModel(running, this.#context) : new ManagedModel(running, this.#context);
	}

	/** The configured models, then the ad-hoc ones. */
	#wanted(config: Config): ModelConfig[] {
		return [...config.models, ...this.#choices.adHoc.map(adHoc => adHocConfig(config.defaults, config.server.switchCommand, adHoc))];
	}

	/** Ad-hoc models whose name the config now gives a model of its own: the config's wins. Returns what it says about them. */
	#forgetShadowedAdHoc(config: Config): string[] {
		const configured = new Set(config.models.flatMap(model => [model.name, ...model.aliases]));
		const shadowed = this.#choices.dropAdHoc(adHoc => configured.has(adHoc.name), {choicesToo: false});
		return shadowed.map(adHoc => `the configuration now has a model named ${JSON.stringify(adHoc.name)}, which replaces the one POST /switch started with the spec \`${adHoc.spec.join(' ')}\`.`);
	}

	/** Changes what the operator chose for a model and applies it at once: its idle timeout, its routes. */
	#choose(name: string, change: ModelPreferences): void {
		if (!this.#choices.choose(name, change)) {
			return;
		}

		const model = this.#models.get(name);
		const base = this.#base.get(name);
		if (model && base) {
			model.reconfigure(this.#choices.applied(base));
		}

		// The routes follow: a pin off refuses requests, a pin on may keep a group.
		this.events.emit({type: 'model.updated', model: name, at: this.#context.clock.now()});
		this.#groups.changed();
	}

	/** The managed model of that name; an OperatorError when there is none, or it is static. */
	#managed(name: string): ManagedModel {
		const model = this.#models.get(name);
		if (!model) {
			throw new OperatorError('not found', `The model \`${name}\` does not exist.`);
		}

		if (!(model instanceof ManagedModel)) {
			throw new OperatorError('conflict', `${name} is served by servers switchboard does not run (a static model): it cannot start or stop them.`);
		}

		return model;
	}

	/** A member of the model's group that the operator pinned on and that runs, if any. */
	#pinnedHolder(model: FleetModel): FleetModel | undefined {
		const {group} = model.config;
		return group === undefined ? undefined : this.models.find(other => other !== model && other.config.group === group
			&& this.#choices.pin(other.name) === 'on' && isUp(other.state));
	}

	/** A plain start cannot displace a pinned member of the group: it would wait in vain. */
	#refuseIfHeld(model: ManagedModel): void {
		const holder = this.#pinnedHolder(model);
		if (holder) {
			throw new OperatorError('conflict', `${model.name} shares group ${model.config.group} with ${holder.name}, which the operator keeps running (pinned): POST /switch {"model": "${model.name}"} stops ${holder.name} and runs ${model.name}, or stop ${holder.name} first.`);
		}
	}

	#switch(model: ManagedModel): Promise<StartOutcome> {
		const {group} = model.config;
		for (const other of this.models) {
			if (other !== model && group !== undefined && other.config.group === group && this.#choices.pin(other.name) === 'on') {
				this.#choose(other.name, {pin: undefined});
			}
		}

		this.#choose(model.name, {pin: this.#choices.pin(model.name) === 'on' ? 'on' : undefined});
		if (!isUp(model.state)) {
			this.#groups.order(model);
		}

		return this.#startAndWait(model);
	}

	/** Starts the model, and resolves with how the start ended: its next state other than loading. */
	async #startAndWait(model: ManagedModel): Promise<StartOutcome> {
		if (model.state === 'draining') {
			if (!await this.#stopBeforeStart(model, 'stopping before a start')) {
				return 'not started';
			}
		}

		if (model.state === 'ready') {
			return 'ready';
		}

		let outcome: StartOutcome | undefined;
		let settle!: (outcome: StartOutcome) => void;
		const settled = new Promise<StartOutcome>(resolve => {
			settle = resolve;
		});
		const off = this.events.on(event => {
			if (event.type === 'model.state' && event.model === model.name && event.state !== 'loading' && outcome === undefined) {
				outcome = startOutcome(event.state);
				settle(outcome);
			}
		});
		try {
			await model.start();
			// Not loading and nothing happened: its turn was withdrawn (a stop, a shutdown) or refused.
			if (outcome === undefined && model.state !== 'loading') {
				return 'not started';
			}

			return await settled;
		} finally {
			off();
		}
	}

	/**
	 * Stops the model for a start that follows, and says whether that start still stands once the
	 * stop is done: not if the model was stopped again since (the newer stop wins), if it left the
	 * fleet, or if switchboard is shutting down.
	 */
	async #stopBeforeStart(model: FleetModel, reason: string): Promise<boolean> {
		const stopsBefore = model.stops;
		await model.stop(reason);
		return model.stops === stopsBefore + 1 && this.#models.get(model.name) === model && !this.#closed;
	}

	/**
	 * Takes a removed model out of the routes, then waits until nothing is in flight for it. The
	 * data plane answers `quiesce` after it has applied the routes without the model, so its answer,
	 * and every activity report after it, count only requests that can no longer grow in number.
	 */
	#drain(model: FleetModel): void {
		const {clock} = this.#context;
		const drain: Drain = {
			model,
			answered: false,
			done: false,
			timer: clock.setTimeout(() => {
				void this.#finishDrain(drain, `its requests were still running after ${formatDuration(drainTimeoutMs)}`);
			}, drainTimeoutMs),
		};
		this.#draining.set(model.name, drain);
		this.#groups.cancel(model);
		this.events.emit({type: 'model.removed', model: model.name, at: clock.now()});
		void this.#context.quiesce(model.name).then(idle => {
			drain.answered = true;
			if (idle) {
				void this.#finishDrain(drain, 'nothing was in flight');
			}
		});
	}

	async #finishDrain(drain: Drain, why: string): Promise<void> {
		const {name} = drain.model;
		if (drain.done || this.#draining.get(name) !== drain) {
			return;
		}

		drain.done = true;
		this.#context.clock.clearTimeout(drain.timer);
		await drain.model.stop(`removed from the configuration; ${why}`, {drain: false});
		// Added back while it stopped: it stays (stopped, started again on demand).
		if (this.#draining.get(name) === drain) {
			this.#draining.delete(name);
			this.events.emit({type: 'model.retired', model: name, reason: why, at: this.#context.clock.now()});
		}
	}
}

function startOutcome(state: ModelState): StartOutcome {
	return state === 'ready' || state === 'failed' ? state : 'stopped';
}
