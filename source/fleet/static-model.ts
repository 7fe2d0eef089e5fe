import type {ModelConfig} from '../config/types.js';
import type {Clock} from '../util/clock.js';
import type {FleetEvents} from './events.js';
import {LogRing} from './log-ring.js';
import {noTraffic, type FleetModel, type ModelSnapshot, type ModelState, type ModelTraffic, type ReadyBackend} from './model.js';

/**
 * A model served by servers someone else runs (vllm-router's servers.toml, the forwarder's ip.txt):
 * switchboard routes to them and never starts or stops them. Stopping it only takes it out of rotation.
 */
export class StaticModel implements FleetModel {
	readonly logs = new LogRing();
	#state: ModelState = 'ready';
	#traffic = noTraffic;
	#config: ModelConfig;

	constructor(config: ModelConfig, private readonly context: {clock: Clock; events: FleetEvents}) {
		this.#config = config;
	}

	get config(): ModelConfig {
		return this.#config;
	}

	get name(): string {
		return this.#config.name;
	}

	get servedName(): string | undefined {
		return this.#config.servedName;
	}

	/** Everything applies at once: the data plane routes to the new backend list (see DataPlane.#applyRoutes). */
	reconfigure(config: ModelConfig): Array<keyof ModelConfig> {
		this.#config = config;
		return [];
	}

	get state(): ModelState {
		return this.#state;
	}

	/** Its servers are someone else's to keep running. */
	readonly unavailable = undefined;
	readonly leaving = false;
	#stops = 0;

	get stops(): number {
		return this.#stops;
	}

	demand(): void {
		if (this.#state === 'stopped') {
			this.#setState('ready', undefined);
		}
	}

	traffic(traffic: ModelTraffic): void {
		this.#traffic = traffic;
	}

	/** Switchboard runs none of its servers, so it has no log of theirs. */
	replicaLog(): undefined {
		return undefined;
	}

	/** Nothing to drain: switchboard never stops these servers. */
	backendTraffic(): void {}

	async stop(reason: string): Promise<void> {
		this.#stops++;
		if (this.#state === 'ready') {
			this.#setState('stopped', reason);
		}
	}

	backends(): ReadyBackend[] {
		return this.#state === 'ready' ? this.#config.backends : [];
	}

	snapshot(): ModelSnapshot {
		return {
			name: this.name,
			state: this.#state,
			reason: undefined,
			pid: undefined,
			port: undefined,
			url: this.#config.backends[0]?.url,
			logPath: undefined,
			command: [],
			startedAt: undefined,
			readyAt: undefined,
			idleTimeoutMs: 0,
			idleStopAt: undefined,
			replicas: [],
			crashes: 0,
			restarts: 0,
			...this.#traffic,
		};
	}

	#setState(state: ModelState, reason: string | undefined): void {
		const previous = this.#state;
		this.#state = state;
		this.context.events.emit({type: 'model.state', model: this.name, state, previous, reason, at: this.context.clock.now()});
	}
}
