import type {HealthConfig, LogLevel, ModelConfig, ReplicaConfig, RoutingConfig} from './types.js';

/*
 * What a setting is when neither the flags nor the config file set it. Both read their defaults
 * from here, so `switchboard -- <command>` and a switchboard.toml that leaves a setting out agree.
 */

/** squeue is asked this often while a SLURM job starts, five times less often while all are stable. */
export const defaultSlurmPollMs = 2000;

/** What `--use-slurm` runs the model under when `--srun-cmd` is not given: llm-proxy-ondemand's default. */
export const defaultSrunCommand: readonly string[] = ['srun', '--mem=30G', '--gres=gpu:1'];

/** sshd's port on the host a SLURM job tunnels back to. */
export const defaultLoopbackSshPort = 22;

/**
 * The interface a SLURM job reached directly binds to: switchboard connects from another machine,
 * so loopback would not do. A tunnelled job binds loopback, where its tunnel connects.
 */
export const directSlurmHost = '0.0.0.0';

/** The proxy's port. */
export const defaultPort = 8100;

/** The proxy's and each backend's interface: loopback, so nothing is reachable from outside unless asked. */
export const defaultHost = '127.0.0.1';

export const defaultMaxBodyBytes = 32 * 1024 * 1024;

/** Backend log files kept per model. */
export const defaultLogKeep = 10;

/** Past this, a running backend's log file is rotated (copied aside and emptied). */
export const defaultLogMaxBytes = 100 * 1024 * 1024;

export const defaultLogLevel: LogLevel = 'info';

/** A backend's capacity when nothing sets one (vLLM's default max_num_seqs is larger; this errs low). */
export const defaultCapacity = 32;

/** Per-model settings; a model's max_wait defaults to its startup timeout. */
export const defaultModelSettings: Readonly<Pick<ModelConfig, 'host' | 'portBase' | 'pingPath' | 'idleTimeoutMs' | 'startupTimeoutMs' | 'stopGraceMs' | 'maxQueue' | 'onCold' | 'minResidencyMs' | 'maxCrashes' | 'crashWindowMs' | 'drainTimeoutMs'>> = {
	host: defaultHost,
	/** The first port tried for a backend that names none. */
	portBase: 8101,
	pingPath: '/health',
	idleTimeoutMs: 30 * 60_000,
	/**
	 * Long enough for a model that just loaded to serve the burst that woke it (and its user's next
	 * few turns) before another member of its group may take the GPU; short next to a vLLM load.
	 */
	minResidencyMs: 30_000,
	startupTimeoutMs: 15 * 60_000,
	stopGraceMs: 10_000,
	maxQueue: 100,
	onCold: 'hold',
	maxCrashes: 5,
	crashWindowMs: 10 * 60_000,
	/** Generations run for minutes; cutting one wastes what its user waited for. */
	drainTimeoutMs: 5 * 60_000,
};

/** One backend per model unless a config asks for more. */
export const defaultReplicas: Readonly<ReplicaConfig> = {
	min: 1,
	max: 1,
	scaleUpQueue: 4,
	scaleUpAfterMs: 30_000,
	scaleDownAfterMs: 5 * 60_000,
};

export const defaultRouting: Readonly<RoutingConfig> = {
	policy: 'least-load',
	retries: 2,
	retryBackoffMs: 10,
	kvCacheLimit: 0.95,
	waitingLimit: 16,
};

export const defaultHealth: Readonly<HealthConfig> = {
	enabled: true,
	intervalMs: 2000,
	timeoutMs: 2000,
	unhealthyAfter: 3,
};

/** What `POST /switch {model_spec}` runs the spec with: aic-vllm-proxy's command. */
export const defaultSwitchCommand: readonly string[] = ['vllm', 'serve'];

/**
 * The group of the one model of `switchboard -- <command>`: ad-hoc models of `POST /switch` join it,
 * so a switch replaces the running model, as aic-vllm-proxy's does.
 */
export const commandLineGroup = 'default';

/**
 * A local model that runs `command` with every other setting at its default: what a [[models]]
 * entry of only a name and a command gives, and what the flags start from.
 */
export function defaultLocalModel(name: string, servedName: string | undefined, command: string[]): ModelConfig {
	// In the order of ModelConfig: reloads report changed settings in this order.
	return {
		name,
		servedName,
		aliases: [],
		launcher: 'local',
		slurm: undefined,
		command,
		backends: [],
		host: defaultModelSettings.host,
		port: undefined,
		portBase: defaultModelSettings.portBase,
		pingPath: defaultModelSettings.pingPath,
		idleTimeoutMs: defaultModelSettings.idleTimeoutMs,
		group: undefined,
		minResidencyMs: defaultModelSettings.minResidencyMs,
		startupTimeoutMs: defaultModelSettings.startupTimeoutMs,
		stopGraceMs: defaultModelSettings.stopGraceMs,
		maxQueue: defaultModelSettings.maxQueue,
		maxWaitMs: defaultModelSettings.startupTimeoutMs,
		onCold: defaultModelSettings.onCold,
		capacity: defaultCapacity,
		replicas: {...defaultReplicas},
		gpus: [],
		gpusPerReplica: 0,
		maxCrashes: defaultModelSettings.maxCrashes,
		crashWindowMs: defaultModelSettings.crashWindowMs,
		drainTimeoutMs: defaultModelSettings.drainTimeoutMs,
		routing: {...defaultRouting},
		env: {},
	};
}
