import {defaultCapacity, defaultHealth, defaultHost, defaultLocalModel, defaultLogKeep, defaultLogLevel, defaultLogMaxBytes, defaultMaxBodyBytes, defaultPort, defaultSwitchCommand} from '../../source/config/defaults.js';
import type {Config, ModelConfig} from '../../source/config/types.js';
import {Fleet, type FleetOptions} from '../../source/fleet/fleet.js';
import type {ExitInfo, InstanceListener, JobStatus, Launch, LaunchSpec} from '../../source/launchers/types.js';

/** A backend that runs nothing: the test says when it is ready or exits. */
export class FakeInstance {
	stopped = false;
	readonly url: string;
	readonly pid = 4242;
	/** Its SLURM job, once reported. */
	job: JobStatus | undefined;

	constructor(readonly spec: LaunchSpec, readonly listener: InstanceListener) {
		this.url = `http://127.0.0.1:${spec.port}`;
	}

	async stop(): Promise<void> {
		this.stopped = true;
	}

	becomeReady(): void {
		this.listener.onReady();
	}

	/** Its SLURM job changed (as squeue would show it). */
	report(status: Partial<JobStatus> & Pick<JobStatus, 'phase'>): void {
		this.job = {id: '12', name: 'switchboard-test', state: status.phase === 'waiting' ? 'PENDING' : 'RUNNING', reason: undefined, node: undefined, timeLimitMs: undefined, endsAt: undefined, ...status};
		this.listener.onJob(this.job);
	}

	exit(info: Partial<ExitInfo> = {}): void {
		this.listener.onExit({code: 1, signal: null, description: 'exited with code 1', ...info});
	}
}

/** A launcher of FakeInstances, each added to `instances` as it starts. */
export function fakeLauncher(instances: FakeInstance[]): Launch {
	return (spec, listener) => {
		const instance = new FakeInstance(spec, listener);
		instances.push(instance);
		return instance;
	};
}

/**
 * A Fleet that runs FakeInstances (each added to `instances`), in front of a data plane with
 * nothing in flight, taking the lowest free port from each model's own; `options` replace any of that.
 */
export function fakeFleet(config: Config, instances: FakeInstance[], options: Partial<FleetOptions> = {}): Fleet {
	return new Fleet(config, {
		launch: fakeLauncher(instances),
		quiesce: async () => true,
		busyBackends: async () => [],
		async findPort(model, taken) {
			let port = model.port ?? model.portBase;
			while (taken.has(port)) {
				port++;
			}

			return port;
		},
		portInUse: async () => false,
		...options,
	});
}

/** A model switchboard runs as `vllm serve <name>`, with the settings a config file that names only its command would give it. */
export function localModel(name: string, overrides: Partial<ModelConfig> = {}): ModelConfig {
	return {...defaultLocalModel(name, name, ['vllm', 'serve', name]), ...overrides};
}

/** A model served by servers switchboard does not run, at these URLs. */
export function staticModel(name: string, urls: string[]): ModelConfig {
	return localModel(name, {launcher: 'static', command: [], servedName: undefined, idleTimeoutMs: 0, backends: urls.map(url => ({url, capacity: defaultCapacity}))});
}

/** A Config of these models, for a Fleet: the [server] settings are the defaults (the fleet uses only the port and log dir). */
export function fleetConfig(...models: ModelConfig[]): Config {
	return {
		server: {
			host: defaultHost,
			port: defaultPort,
			apiKeys: [],
			adminKeys: [],
			keys: [],
			keysFile: undefined,
			logDir: '/tmp/switchboard-test-logs',
			logKeep: defaultLogKeep,
			logMaxBytes: defaultLogMaxBytes,
			stateDir: '/tmp/switchboard-test-state',
			slurmPollMs: 2000,
			switchCommand: [...defaultSwitchCommand],
			maxBodyBytes: defaultMaxBodyBytes,
			logLevel: defaultLogLevel,
			jsonLogs: true,
			health: {...defaultHealth},
		},
		models,
		defaults: localModel('', {servedName: undefined, command: []}),
	};
}
