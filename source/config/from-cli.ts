import path from 'node:path';
import {ConfigError} from './errors.js';
import {adminKeysFlag, apiKeysFlag, configFromFlags, jsonLogsFlag, logLevelFlag, maxBodySizeFlag, portFlag, switchCommandFlag, type RunFlags} from './flags.js';
import {findConfigFile, loadConfigFile} from './toml.js';
import type {Config} from './types.js';

export interface CliInput {
	flags: RunFlags & {config: string | undefined; backends: string | undefined};
	/** The server command after `--`, if any. */
	command: string[];
	/** Long flags the user typed, without `--` (to tell them from meow's defaults). */
	given: ReadonlySet<string>;
	cwd: string;
	env: NodeJS.ProcessEnv;
}

/** The config file a configuration came from, and how to read it again (for live reload). */
export interface ConfigOrigin {
	file: string;
	/** Reads and validates the file as at startup, with the same flags over it; throws a ConfigError saying what is wrong. */
	load(): Config;
}

export interface ResolvedConfig {
	config: Config;
	/** Undefined for the one model of `switchboard -- <command>`, which no file describes. */
	origin: ConfigOrigin | undefined;
}

/** Flags that describe the one model of the command-line mode; a config file says these per model. */
const modelFlags = ['target-port', 'idle-timeout', 'ping-path', 'startup-timeout', 'max-queue', 'max-wait', 'use-slurm', 'srun-cmd', 'loopback-user', 'loopback-host', 'loopback-port'];

/** A model flag's key in the file, where it is not the flag's name in snake case. */
const fileKeys: Partial<Record<string, string>> = {
	'target-port': 'port',
	'use-slurm': 'launcher = "slurm"',
	'srun-cmd': 'srun_command',
	'loopback-port': 'loopback_ssh_port',
};

/**
 * One model from the command after `--`, or a fleet from `--config`, `./switchboard.toml` or the
 * user config dir, in that order of preference. With a file, the server flags (--port, --host,
 * --api-key, --admin-key, --log-level, --log-dir, --state-dir, --switch-command, --max-body-size)
 * override its [server] table.
 */
export function configFromCli({flags, command, given, cwd, env}: CliInput): ResolvedConfig {
	if (command.length > 0) {
		if (flags.config !== undefined || flags.backends !== undefined) {
			throw new ConfigError('Give either a server command after `--` or --config/--backends, not both.');
		}

		return {config: configFromFlags(flags, command, env), origin: undefined};
	}

	if (flags.config !== undefined && flags.backends !== undefined) {
		throw new ConfigError('Give --config or --backends, not both.');
	}

	// --backends is the forwarder's and vllm-router's habit; the file decides what it holds.
	const file = flags.config ?? flags.backends ?? findConfigFile(cwd, env);
	if (file === undefined) {
		throw new ConfigError('No server command given. Put it after `--`, e.g. `switchboard -- vllm serve Qwen/Qwen3-0.6B`, or describe your models in a switchboard.toml (see --config).');
	}

	const misplaced = modelFlags.filter(flag => given.has(flag));
	if (misplaced.length > 0) {
		throw new ConfigError(`--${misplaced[0]} sets the one model of \`switchboard -- <command>\`; with ${file}, set it in [defaults] or per model (as ${fileKeys[misplaced[0]!] ?? misplaced[0]!.replaceAll('-', '_')}).`);
	}

	const config = loadConfigFile(file, env);
	const {server} = config;
	return {
		origin: {
			file,
			// This file even if another one appears where findConfigFile looks first.
			load: () => configFromCli({flags: {...flags, config: file, backends: undefined}, command, given, cwd, env}).config,
		},
		config: {
			...config,
			server: {
				...server,
				host: given.has('host') ? flags.host : server.host,
				port: given.has('port') ? portFlag('--port', flags.port) : server.port,
				apiKeys: given.has('api-key') ? apiKeysFlag(flags.apiKey, env) : server.apiKeys,
				adminKeys: given.has('admin-key') ? adminKeysFlag(flags.adminKey, env) : server.adminKeys,
				logLevel: given.has('log-level') ? logLevelFlag(flags.logLevel) : server.logLevel,
				logDir: given.has('log-dir') && flags.logDir ? path.resolve(flags.logDir) : server.logDir,
				stateDir: given.has('state-dir') && flags.stateDir ? path.resolve(flags.stateDir) : server.stateDir,
				switchCommand: given.has('switch-command') ? switchCommandFlag(flags.switchCommand) : server.switchCommand,
				maxBodyBytes: given.has('max-body-size') ? maxBodySizeFlag(flags.maxBodySize) : server.maxBodyBytes,
				jsonLogs: jsonLogsFlag(flags),
			},
		},
	};
}
