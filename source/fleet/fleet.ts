import {changedSettings} from '../config/changes.js';
import type {Config, ModelConfig} from '../config/types.js';
import type {Launch} from '../launchers/types.js';
import {canBind, findFreePort} from '../launchers/ports.js';
import type {ModelActivity} from '../dataplane/protocol.js';
import {systemClock, type Clock, type Timer} from '../util/clock.js';
import {formatDuration} from '../util/duration.js';
import {FleetEvents} from './events.js';
import {ManagedModel, type BackendTraffic, type FleetModel, type ModelContext, type ModelSnapshot} from './model.js';
import {StaticModel} from './static-model.js';

export interface FleetOptions {
	launch: Launch;
	/** See ModelContext.quiesce; for a removed model, whether its last requests have finished. */
	quiesce(model: string): Promise<boolean>;
	busyBackends: ModelContext['busyBackends'];
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

	constructor(config: Config, options: FleetOptions) {
		const findPort = options.findPort ?? (async (model, taken) => model.port ?? findFreePort(model.host, model.portBase, taken));
		this.#context = {
			clock: options.clock ?? systemClock,
			launch: options.launch,
			events: this.events,
			logDir: config.server.logDir,
			quiesce: options.quiesce,
			busyBackends: options.busyBackends,
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
			releasePort: (port: number) => {
				this.#takenPorts.delete(port);
			},
			portInUse: options.portInUse ?? (async (host: string, port: number) => !await canBind(host, port)),
		};
		for (const model of config.models) {
			this.#models.set(model.name, this.#create(model));
		}
	}

	get models(): FleetModel[] {
		return [...this.#models.values()];
	}

	get(name: string): FleetModel | undefined {
		return this.#models.get(name);
	}

	demand(name: string): void {
		this.#models.get(name)?.demand();
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

	snapshot(): ModelSnapshot[] {
		return this.models.map(model => model.snapshot());
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
		const next = new Map<string, FleetModel>();
		const updated: string[] = [];
		for (const modelConfig of config.models) {
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
			if (drain) {
				// Removed by an earlier edit and still finishing its requests: it stays, backend and all.
				this.#draining.delete(name);
				this.#context.clock.clearTimeout(drain.timer);
				summary.added.push(name);
			}

			const settings = changedSettings(current.config, modelConfig);
			if (settings.length === 0) {
				continue;
			}

			const waiting = current.reconfigure(modelConfig);
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
			this.#drain(model);
		}

		return summary;
	}

	/** Stops every backend, those of removed models still draining too; used on shutdown. */
	async stopAll(reason: string): Promise<void> {
		const draining = [...this.#draining.values()];
		for (const drain of draining) {
			this.#context.clock.clearTimeout(drain.timer);
		}

		this.#draining.clear();
		await Promise.all([...this.models, ...draining.map(drain => drain.model)].map(async model => model.stop(reason, {drain: false})));
	}

	#create(config: ModelConfig): FleetModel {
		return config.launcher === 'static' ? new StaticModel(config, this.#context) : new ManagedModel(config, this.#context);
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
