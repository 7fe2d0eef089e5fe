import path from 'node:path';
import {declaredModelName, resolveExecutable, servedModelName} from '../launchers/command.js';
import {commandLineGroup, defaultHealth, defaultHost, defaultLocalModel, defaultLogKeep, defaultLogLevel, defaultLogMaxBytes, defaultMaxBodyBytes, defaultModelSettings, defaultPort, defaultSlurmPollMs, defaultSrunCommand, defaultSwitchCommand} from './defaults.js';
import {ConfigError} from './errors.js';
import {defaultBackendHost, resolveSlurm, srunCommandExpected} from './slurm.js';
import type {Config, LogLevel, ModelConfig, SlurmConfig} from './types.js';
import {checked, defaultLogDir, defaultStateDir, readAdminKeys, readApiKeys, readCommand, readDuration, readLogLevel, readSize} from './values.js';

/** The command-line flags of the one-model mode, as meow parsed them. */
export interface RunFlags {
	port: string;
	host: string;
	targetPort: string | undefined;
	idleTimeout: string;
	pingPath: string;
	apiKey: string[];
	adminKey: string | undefined;
	logLevel: string;
	logFormat: string | undefined;
	logDir: string | undefined;
	stateDir: string | undefined;
	switchCommand: string | undefined;
	ui: boolean;
	startupTimeout: string;
	maxQueue: string;
	maxWait: string | undefined;
	maxBodySize: string;
	useSlurm: boolean;
	srunCmd: string | undefined;
	loopbackUser: string | undefined;
	loopbackHost: string | undefined;
	loopbackPort: string | undefined;
}

/** What each flag is when not given (the CLI's defaults, also a base for programs that build flags). */
export const runFlagDefaults: RunFlags = {
	port: String(defaultPort),
	host: defaultHost,
	targetPort: undefined,
	idleTimeout: String(defaultModelSettings.idleTimeoutMs / 1000),
	pingPath: defaultModelSettings.pingPath,
	apiKey: [],
	adminKey: undefined,
	logLevel: defaultLogLevel,
	logFormat: undefined,
	logDir: undefined,
	stateDir: undefined,
	switchCommand: undefined,
	ui: true,
	startupTimeout: `${defaultModelSettings.startupTimeoutMs / 60_000}m`,
	maxQueue: String(defaultModelSettings.maxQueue),
	maxWait: undefined,
	maxBodySize: `${defaultMaxBodyBytes / 1024 ** 2}mb`,
	useSlurm: false,
	srunCmd: undefined,
	loopbackUser: undefined,
	loopbackHost: undefined,
	loopbackPort: undefined,
};

/** Turns flags plus the server command after `--` into a validated Config. */
export function configFromFlags(flags: RunFlags, command: string[], env: NodeJS.ProcessEnv = process.env): Config {
	if (command.length === 0) {
		throw new ConfigError('No server command given. Put it after `--`, e.g. `switchboard -- vllm serve Qwen/Qwen3-0.6B`.');
	}

	const slurm = slurmFlags(flags, env);
	// A SLURM job runs the command on a compute node, whose programs this machine may not have.
	if (!slurm && !resolveExecutable(command[0]!)) {
		throw new ConfigError(`Cannot run \`${command[0]}\`: no such executable${command[0]!.includes('/') ? '' : ' on PATH'}.`);
	}

	const proxyPort = portFlag('--port', flags.port);
	const targetPort = flags.targetPort === undefined ? undefined : portFlag('--target-port', flags.targetPort);
	if (targetPort === proxyPort) {
		throw new ConfigError(`--target-port ${targetPort} is the proxy's own --port; pick another.`);
	}

	const logLevel = logLevelFlag(flags.logLevel);

	if (flags.logFormat !== undefined && flags.logFormat !== 'json' && flags.logFormat !== 'text') {
		throw new ConfigError(`--log-format must be json or text (got ${flags.logFormat}).`);
	}

	if (!flags.pingPath.startsWith('/')) {
		throw new ConfigError(`--ping-path must start with / (got ${flags.pingPath}).`);
	}

	const maxQueue = wholeNumber('--max-queue', flags.maxQueue, 0, 1_000_000);

	const startupTimeoutMs = duration('--startup-timeout', flags.startupTimeout);
	const model: ModelConfig = {
		...defaultLocalModel(servedModelName(command), declaredModelName(command), command),
		...slurm && {launcher: 'slurm', slurm, host: defaultBackendHost(slurm)},
		port: targetPort,
		pingPath: flags.pingPath,
		idleTimeoutMs: duration('--idle-timeout', flags.idleTimeout, {zeroMeans: 'never'}),
		group: commandLineGroup,
		startupTimeoutMs,
		maxQueue,
		maxWaitMs: flags.maxWait === undefined ? startupTimeoutMs : duration('--max-wait', flags.maxWait),
	};
	return {
		server: {
			host: flags.host,
			port: proxyPort,
			apiKeys: apiKeysFlag(flags.apiKey, env),
			adminKeys: adminKeysFlag(flags.adminKey, env),
			// Per-user keys need a switchboard.toml.
			keys: [],
			keysFile: undefined,
			logDir: path.resolve(flags.logDir ?? defaultLogDir(env)),
			logKeep: defaultLogKeep,
			logMaxBytes: defaultLogMaxBytes,
			stateDir: path.resolve(flags.stateDir ?? defaultStateDir(env)),
			slurmPollMs: defaultSlurmPollMs,
			switchCommand: switchCommandFlag(flags.switchCommand),
			maxBodyBytes: maxBodySizeFlag(flags.maxBodySize),
			logLevel,
			jsonLogs: jsonLogsFlag(flags),
			health: {...defaultHealth},
		},
		models: [model],
		// Ad-hoc models of POST /switch run as the flags say, on a port of their own.
		defaults: {...model, name: '', servedName: undefined, command: [], port: undefined},
	};
}

/** The flags that make the one model a slurm model, in the order they apply. */
const slurmFlagNames = {srunCmd: '--srun-cmd', loopbackUser: '--loopback-user', loopbackHost: '--loopback-host', loopbackPort: '--loopback-port'} as const;

/**
 * llm-proxy-ondemand's --use-slurm: the model runs under `--srun-cmd` (default `srun --mem=30G
 * --gres=gpu:1`), reached through a tunnel to --loopback-user@--loopback-host. Without
 * --loopback-host, switchboard connects to the job's node directly (llm-proxy-ondemand required it).
 */
function slurmFlags(flags: RunFlags, env: NodeJS.ProcessEnv): SlurmConfig | undefined {
	if (!flags.useSlurm) {
		const given = (Object.keys(slurmFlagNames) as Array<keyof typeof slurmFlagNames>).find(flag => flags[flag] !== undefined);
		if (given !== undefined) {
			throw new ConfigError(`${slurmFlagNames[given]} needs --use-slurm: it says how the model's SLURM job runs.`);
		}

		return undefined;
	}

	const tunnelFlag = (['loopbackUser', 'loopbackPort'] as const).find(flag => flags[flag] !== undefined);
	if (flags.loopbackHost === undefined && tunnelFlag !== undefined) {
		throw new ConfigError(`${slurmFlagNames[tunnelFlag]} needs --loopback-host: the host the job opens its SSH tunnel to (this machine, as the compute nodes reach it).`);
	}

	const slurm = resolveSlurm({
		srun_command: checked('--srun-cmd', JSON.stringify(flags.srunCmd), readCommand(flags.srunCmd ?? defaultSrunCommand, srunCommandExpected)),
		loopback_user: flags.loopbackUser === undefined ? undefined : nonEmpty('--loopback-user', flags.loopbackUser, 'a user name on the --loopback-host'),
		loopback_host: flags.loopbackHost === undefined ? undefined : nonEmpty('--loopback-host', flags.loopbackHost, 'a host name or address, such as 10.10.10.5'),
		loopback_ssh_port: flags.loopbackPort === undefined ? undefined : wholeNumber('--loopback-port', flags.loopbackPort, 1, 65_535, 'a port number from 1 to 65535'),
	}, {}, env);
	if (slurm.reach === 'tunnel' && slurm.tunnel === undefined) {
		throw new ConfigError('--loopback-user is required: neither USER nor LOGNAME is set and the current user has no name.');
	}

	return slurm;
}

function nonEmpty(flag: string, text: string, expected: string): string {
	if (text.trim() === '') {
		throw new ConfigError(`${flag} must be ${expected} (got ${JSON.stringify(text)}).`);
	}

	return text;
}

/*
 * Flags that set [server] settings: read here for the one-model mode and, over a config file's
 * values, in from-cli.ts, so both accept the same values and refuse the others in the same words.
 */

/** --api-key, repeated or not, plus SWITCHBOARD_API_KEY. */
export function apiKeysFlag(keys: readonly string[], env: NodeJS.ProcessEnv): string[] {
	return checked('--api-key (or SWITCHBOARD_API_KEY)', '""', readApiKeys(keys, env));
}

/** --admin-key plus SWITCHBOARD_ADMIN_KEY. */
export function adminKeysFlag(key: string | undefined, env: NodeJS.ProcessEnv): string[] {
	return checked('--admin-key (or SWITCHBOARD_ADMIN_KEY)', '""', readAdminKeys(key === undefined ? [] : [key], env));
}

/** --switch-command, a command line split as a shell would; `vllm serve` when not given. */
export function switchCommandFlag(text: string | undefined): string[] {
	return text === undefined ? [...defaultSwitchCommand] : checked('--switch-command', JSON.stringify(text), readCommand(text));
}

export function logLevelFlag(text: string): LogLevel {
	return checked('--log-level', text, readLogLevel(text));
}

export function maxBodySizeFlag(text: string): number {
	return checked('--max-body-size', text, readSize(text));
}

/** JSON log lines unless --log-format says text; without it, JSON exactly when there is no UI to read text in (--no-ui). */
export function jsonLogsFlag(flags: Pick<RunFlags, 'logFormat' | 'ui'>): boolean {
	return flags.logFormat === undefined ? !flags.ui : flags.logFormat === 'json';
}

/** A port number typed as a flag: 0 to 65535 (0 = any free port). */
export function portFlag(flag: string, text: string): number {
	return wholeNumber(flag, text, 0, 65_535, 'a port number from 0 to 65535');
}

function wholeNumber(flag: string, text: string, min: number, max: number, expected = `a whole number from ${min} to ${max}`): number {
	const value = Number(text);
	if (!/^\s*\d+\s*$/.test(text) || value < min || value > max) {
		throw new ConfigError(`${flag} must be ${expected} (got ${JSON.stringify(text)}).`);
	}

	return value;
}

function duration(flag: string, text: string, options: {zeroMeans?: string} = {}): number {
	return checked(flag, text, readDuration(text, options));
}
