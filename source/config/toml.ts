import {readFileSync, statSync} from 'node:fs';
import path from 'node:path';
import type {z} from 'zod';
import {declaredModelName, resolveExecutable} from '../launchers/command.js';
import {ConfigError} from './errors.js';
import {defaultPort, defaultTargetPortBase} from './flags.js';
import {keyPath} from './key-path.js';
import {parseLegacyConfig, type LegacyFleet} from './legacy.js';
import {parseToml} from './toml-text.js';
import {configFileSchema, type ConfigFile, type ModelEntry, type ModelSettings} from './schema.js';
import type {Config, ModelConfig, ServerConfig} from './types.js';
import {defaultLogDir, homeDirectory, mustBe, readApiKeys} from './values.js';

const configFileName = 'switchboard.toml';
/** A static backend's capacity when the file gives none (vLLM's default max_num_seqs is larger; this errs low). */
const defaultCapacity = 32;

/**
 * The config file to use when no `--config` names one: `./switchboard.toml`, else the user's
 * `$XDG_CONFIG_HOME/switchboard/switchboard.toml` (`~/.config/…` by default).
 */
export function findConfigFile(cwd: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
	const configHome = env['XDG_CONFIG_HOME'] || path.join(homeDirectory(env), '.config');
	return [path.join(cwd, configFileName), path.join(configHome, 'switchboard', configFileName)]
		.find(candidate => statSync(candidate, {throwIfNoEntry: false})?.isFile());
}

/**
 * Reads a switchboard.toml, or one of the files of the tools switchboard replaces, unchanged:
 * vllm-router's servers.toml or the forwarder's ip.txt become one static model.
 */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
	let text: string;
	try {
		text = readFileSync(file, 'utf8');
	} catch (error) {
		const {code, message} = error as NodeJS.ErrnoException;
		throw new ConfigError(`${file}: cannot be read: ${code === 'ENOENT' ? 'no such file' : message}.`);
	}

	const legacy = parseLegacyConfig(text, file);
	return legacy ? legacyConfig(legacy, file, env) : parseConfig(text, file, env);
}

/** One static model, named after the file, that every request goes to (one model takes any name). */
function legacyConfig(legacy: LegacyFleet, file: string, env: NodeJS.ProcessEnv): Config {
	const name = path.basename(file).replace(/\.[^.]*$/, '') || 'backends';
	return {
		server: resolveServer({}, file, env),
		models: [{
			name,
			servedName: undefined,
			launcher: 'static',
			command: [],
			backends: legacy.backends.map(backend => ({url: backend.url, capacity: backend.capacity ?? defaultCapacity})),
			host: builtInModelSettings.host,
			port: undefined,
			portBase: defaultTargetPortBase,
			pingPath: builtInModelSettings.pingPath,
			idleTimeoutMs: 0,
			startupTimeoutMs: builtInModelSettings.startupTimeoutMs,
			stopGraceMs: builtInModelSettings.stopGraceMs,
			maxQueue: builtInModelSettings.maxQueue,
			maxWaitMs: builtInModelSettings.startupTimeoutMs,
			env: {},
		}],
		reloadIntervalMs: legacy.settings.configReloadIntervalMs,
	};
}

/**
 * Turns the text of a switchboard.toml into the Config the flags produce too. Every problem
 * found is reported at once, one line each, as `<file>: <key path> <what is wrong>`.
 *
 * `server.jsonLogs` is always false: the log format is the command line's choice (`--no-ui`,
 * `--log-format`), not the file's, so the caller sets it.
 */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
	const document = parseToml(text, file);
	const result = configFileSchema.safeParse(document);
	if (!result.success) {
		throw new ConfigError(result.error.issues.flatMap(issue => describeIssue(issue, document)).map(line => `${file}: ${line}`).join('\n'));
	}

	const config = resolveConfig(result.data, file, env);
	const problems = findConflicts(config, result.data, document);
	if (problems.length > 0) {
		throw new ConfigError(problems.map(line => `${file}: ${line}`).join('\n'));
	}

	return config;
}

function describeIssue(issue: z.core.$ZodIssue, document: unknown): string[] {
	if (issue.code === 'unrecognized_keys') {
		return issue.keys.map(key => `${keyPath([...issue.path, key], document)} ${issue.message}`);
	}

	return [`${keyPath(issue.path, document)} ${issue.message}`];
}

/** Settings a model has when neither it nor [defaults] sets them (those of the flags). */
const builtInModelSettings = {
	host: '127.0.0.1',
	pingPath: '/health',
	idleTimeoutMs: 1_800_000,
	startupTimeoutMs: 15 * 60_000,
	stopGraceMs: 10_000,
	maxQueue: 100,
} as const;

function resolveConfig(parsed: ConfigFile, file: string, env: NodeJS.ProcessEnv): Config {
	const defaults = parsed.defaults ?? {};
	return {
		server: resolveServer(parsed.server ?? {}, file, env),
		models: (parsed.models ?? []).map(model => resolveModel(model, defaults)),
	};
}

function resolveServer(server: NonNullable<ConfigFile['server']>, file: string, env: NodeJS.ProcessEnv): ServerConfig {
	const keys = readApiKeys(server.api_keys ?? [], env);
	if ('expected' in keys) {
		throw new ConfigError(`${file}: SWITCHBOARD_API_KEY ${mustBe(keys, '""')}.`);
	}

	return {
		host: server.host ?? '127.0.0.1',
		port: server.port ?? defaultPort,
		apiKeys: keys.value,
		logDir: server.log_dir === undefined ? defaultLogDir(env) : resolveDirectory(server.log_dir, file, env),
		maxBodyBytes: server.max_body_size ?? 32 * 1024 * 1024,
		logLevel: server.log_level ?? 'info',
		jsonLogs: false,
	};
}

/** `~` is the home directory; a relative path is read from the config file's folder, not from wherever switchboard was started. */
function resolveDirectory(directory: string, file: string, env: NodeJS.ProcessEnv): string {
	const expanded = directory === '~' || directory.startsWith('~/') ? path.join(homeDirectory(env), directory.slice(1)) : directory;
	return path.resolve(path.dirname(path.resolve(file)), expanded);
}

function resolveModel(model: ModelEntry, defaults: ModelSettings): ModelConfig {
	const setting = <Key extends keyof ModelSettings>(key: Key): ModelSettings[Key] => model[key] ?? defaults[key];
	const startupTimeoutMs = setting('startup_timeout') ?? builtInModelSettings.startupTimeoutMs;
	const command = model.command ?? [];
	return {
		name: model.name,
		servedName: setting('served_name') ?? declaredModelName(command),
		launcher: setting('launcher') ?? (model.backends ? 'static' : 'local'),
		command,
		backends: (model.backends ?? []).map(backend => ({url: backend.url, capacity: backend.capacity ?? defaultCapacity})),
		host: setting('host') ?? builtInModelSettings.host,
		port: setting('port'),
		portBase: setting('port_base') ?? defaultTargetPortBase,
		pingPath: setting('ping_path') ?? builtInModelSettings.pingPath,
		idleTimeoutMs: setting('idle_timeout') ?? builtInModelSettings.idleTimeoutMs,
		startupTimeoutMs,
		stopGraceMs: setting('stop_grace') ?? builtInModelSettings.stopGraceMs,
		maxQueue: setting('max_queue') ?? builtInModelSettings.maxQueue,
		maxWaitMs: setting('max_wait') ?? startupTimeoutMs,
		// Merged key by key, so [defaults] can set HF_HOME while each model picks its GPUs.
		env: {...defaults.env, ...model.env},
	};
}

/** What each value alone cannot show: names and ports that collide, programs that do not exist. */
function findConflicts(config: Config, parsed: ConfigFile, document: unknown): string[] {
	if (config.models.length === 0) {
		return ['defines no model; add a [[models]] table with at least a name and a command.'];
	}

	const problems: string[] = [];
	const at = (index: number, key: string) => keyPath(['models', index, key], document);
	const portOrigin = (index: number) => parsed.models?.[index]?.port === undefined ? ' (from defaults.port)' : '';
	const firstWithName = new Map<string, number>();
	const firstWithPort = new Map<number, number>();
	for (const [index, model] of config.models.entries()) {
		const sameName = firstWithName.get(model.name);
		if (sameName === undefined) {
			firstWithName.set(model.name, index);
		} else {
			problems.push(`${at(index, 'name')} ${JSON.stringify(model.name)} is already the name of models[${sameName}]; each model needs its own name.`);
		}

		if (model.port !== undefined) {
			const samePort = firstWithPort.get(model.port);
			if (model.port === config.server.port) {
				problems.push(`${at(index, 'port')} ${model.port}${portOrigin(index)} is the proxy's own server.port; pick another.`);
			} else if (samePort === undefined) {
				firstWithPort.set(model.port, index);
			} else {
				problems.push(`${at(index, 'port')} ${model.port}${portOrigin(index)} is already the port of ${keyPath(['models', samePort], document)}; each model needs its own port.`);
			}
		}

		if (model.launcher === 'static') {
			if (model.backends.length === 0) {
				problems.push(`${at(index, 'backends')} is required for a static model: the servers it is served by, such as [{url = "http://10.0.0.5:8000", capacity = 32}].`);
			}

			if (model.command.length > 0) {
				problems.push(`${at(index, 'command')} does not apply to a static model: switchboard does not run its servers.`);
			}

			continue;
		}

		if (model.backends.length > 0) {
			problems.push(`${at(index, 'backends')} applies to static models only; set launcher = "static", or drop it and give a command.`);
		}

		// The backend is spawned with the process's environment plus the model's, so its PATH decides.
		const program = model.command[0];
		if (program === undefined) {
			problems.push(`${at(index, 'command')} is required: the server to run, such as ["vllm", "serve", "Qwen/Qwen3-8B"] (or launcher = "static" with backends).`);
		} else if (!resolveExecutable(program, model.env['PATH'] ?? process.env['PATH'])) {
			problems.push(`${at(index, 'command')} runs \`${program}\`, which is not an executable${program.includes('/') ? '' : ' on PATH'}.`);
		}
	}

	return problems;
}
