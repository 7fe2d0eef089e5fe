import type {Config, ModelConfig} from '../config/types.js';
import type {Launch} from '../launchers/types.js';
import {canBind, findFreePort} from '../launchers/ports.js';
import type {ModelActivity} from '../dataplane/protocol.js';
import {systemClock, type Clock} from '../util/clock.js';
import {FleetEvents} from './events.js';
import {ManagedModel, type FleetModel, type ModelSnapshot} from './model.js';
import {StaticModel} from './static-model.js';

export interface FleetOptions {
	launch: Launch;
	/** See ModelContext.quiesce. */
	quiesce(model: string): Promise<boolean>;
	clock?: Clock;
	/** Defaults to binding-test from the model's port base up. */
	findPort?(model: ModelConfig, taken: ReadonlySet<number>): Promise<number>;
	/** Defaults to a bind test. */
	portInUse?(host: string, port: number): Promise<boolean>;
}

/**
 * The single owner of lifecycle state: every model, its backend, and the events that tell
 * the data plane, the admin API and the UI what changed.
 */
export class Fleet {
	readonly events = new FleetEvents();
	readonly #models = new Map<string, FleetModel>();
	readonly #takenPorts = new Set<number>();

	constructor(config: Config, options: FleetOptions) {
		const findPort = options.findPort ?? (async (model, taken) => model.port ?? findFreePort(model.host, model.portBase, taken));
		const context = {
			clock: options.clock ?? systemClock,
			launch: options.launch,
			events: this.events,
			logDir: config.server.logDir,
			quiesce: options.quiesce,
			allocatePort: async (model: ModelConfig) => {
				const taken = new Set([...this.#takenPorts, config.server.port]);
				const port = await findPort(model, taken);
				if (model.port === undefined && this.#takenPorts.has(port)) {
					throw new Error(`port ${port} is already used by another backend`);
				}

				this.#takenPorts.add(port);
				return port;
			},
			releasePort: (port: number) => {
				this.#takenPorts.delete(port);
			},
			portInUse: options.portInUse ?? (async (host: string, port: number) => !await canBind(host, port)),
		};
		for (const model of config.models) {
			this.#models.set(model.name, model.launcher === 'static' ? new StaticModel(model, context) : new ManagedModel(model, context));
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

	activity(activity: readonly ModelActivity[]): void {
		for (const {model, ...traffic} of activity) {
			this.#models.get(model)?.traffic(traffic);
		}
	}

	snapshot(): ModelSnapshot[] {
		return this.models.map(model => model.snapshot());
	}

	/** Stops every backend; used on shutdown. */
	async stopAll(reason: string): Promise<void> {
		await Promise.all(this.models.map(async model => model.stop(reason)));
	}
}
