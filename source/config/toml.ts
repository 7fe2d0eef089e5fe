import {statSync} from 'node:fs';
import path from 'node:path';
import {declaredModelName, resolveExecutable} from '../launchers/command.js';
import {defaultCapacity, defaultHealth, defaultHost, defaultLogKeep, defaultLogLevel, defaultLogMaxBytes, defaultMaxBodyBytes, defaultModelSettings, defaultPort, defaultReplicas, defaultRouting, defaultSlurmPollMs, defaultSwitchCommand} from './defaults.js';
import {describeIssues, readConfigText} from './config-source.js';
import {ConfigError} from './errors.js';
import {keyPath} from './key-path.js';
import {loadKeysFile, unknownModels, userKey} from './keys-file.js';
import {parseLegacyConfig, type LegacyFleet} from './legacy.js';
import {parseToml} from './toml-text.js';
import {configFileSchema, type ConfigFile, type ModelEntry, type ModelSettings} from './schema.js';
import {defaultBackendHost, misplacedSlurmKeys, resolveSlurm, slurmContradictions, slurmModelProblems} from './slurm.js';
import type {Config, ModelConfig, ReplicaConfig, ServerConfig} from './types.js';
import {checked, defaultLogDir, defaultStateDir, homeDirectory, readAdminKeys, readApiKeys} from './values.js';

const configFileName = 'switchboard.toml';

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
	const text = readConfigText(file);
	const legacy = parseLegacyConfig(text, file);
	return legacy ? legacyConfig(legacy, file, env) : parseConfig(text, file, env);
}

/**
 * One static model, named after the file, that every request goes to (one model takes any name).
 * vllm-router's [config] settings apply where switchboard has their counterpart; see the README.
 */
function legacyConfig(legacy: LegacyFleet, file: string, env: NodeJS.ProcessEnv): Config {
	const {settings} = legacy;
	const server = resolveServer({
		health_checks: settings.activeHealthCheck,
		health_interval: settings.healthCheckIntervalMs,
		health_timeout: settings.healthCheckTimeoutMs,
	}, file, env);
	const model = resolveModel({
		name: path.basename(file).replace(/\.[^.]*$/, '') || 'backends',
		launcher: 'static',
		backends: legacy.backends,
		// Switchboard does not run these servers, so there is nothing to stop when idle.
		idle_timeout: 0,
		retries: settings.maxRetries,
		retry_backoff: settings.retryDelayMs,
	}, {}, env);
	return {server, models: [model], defaults: resolveModel({name: ''}, {}, env), reloadIntervalMs: settings.configReloadIntervalMs};
}

/**
 * Turns the text of a switchboard.toml into the Config the flags produce too. Every problem
 * found is reported at once, one line each, as `<file>: <key path> <what is wrong>`.
 *
 * `server.jsonLogs` is always false: the log format is the command line's choice (`--no-ui`,
 * `--log-format`), not the file's, so the caller sets it.
 */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
	const source = {file, text, document: parseToml(text, file)};
	const result = configFileSchema.safeParse(source.document);
	if (!result.success) {
		throw new ConfigError(describeIssues(result.error.issues, source).join('\n'));
	}

	const config = resolveConfig(result.data, file, env);
	const modelNames = config.models.map(model => model.name);
	const problems = findConflicts(config, result.data, source.document).map(line => `${file}: ${line}`);
	if (modelNames.length > 0) {
		problems.push(...unknownModels(result.data.server?.keys ?? [], ['server', 'keys'], modelNames, source));
	}

	if (problems.length > 0) {
		throw new ConfigError(problems.join('\n'));
	}

	// Read once the file itself is sound: its keys are checked against the models it defines.
	const keysFile = result.data.server?.keys_file;
	if (keysFile === undefined) {
		return config;
	}

	const keysPath = resolvePath(keysFile, file, env);
	return {...config, server: {...config.server, keysFile: {path: keysPath, keys: loadKeysFile(keysPath, modelNames)}}};
}

function resolveConfig(parsed: ConfigFile, file: string, env: NodeJS.ProcessEnv): Config {
	const defaults = parsed.defaults ?? {};
	return {
		server: resolveServer(parsed.server ?? {}, file, env),
		models: (parsed.models ?? []).map(model => resolveModel(model, defaults, env)),
		defaults: resolveModel({name: ''}, defaults, env),
	};
}

function resolveServer(server: NonNullable<ConfigFile['server']>, file: string, env: NodeJS.ProcessEnv): ServerConfig {
	// The file's own keys cannot be empty (see the schema): an empty one comes from the environment.
	const apiKeys = checked(`${file}: SWITCHBOARD_API_KEY`, '""', readApiKeys(server.api_keys ?? [], env));
	const adminKeys = checked(`${file}: SWITCHBOARD_ADMIN_KEY`, '""', readAdminKeys(server.admin_key === undefined ? [] : [server.admin_key], env));
	return {
		host: server.host ?? defaultHost,
		port: server.port ?? defaultPort,
		apiKeys,
		adminKeys,
		keys: (server.keys ?? []).map(entry => userKey(entry)),
		// Read by parseConfig once the rest of the file is known to be sound.
		keysFile: undefined,
		logDir: server.log_dir === undefined ? defaultLogDir(env) : resolvePath(server.log_dir, file, env),
		logKeep: server.log_keep ?? defaultLogKeep,
		logMaxBytes: server.log_max_size ?? defaultLogMaxBytes,
		stateDir: server.state_dir === undefined ? defaultStateDir(env) : resolvePath(server.state_dir, file, env),
		slurmPollMs: server.slurm_poll ?? defaultSlurmPollMs,
		switchCommand: server.switch_command ?? [...defaultSwitchCommand],
		maxBodyBytes: server.max_body_size ?? defaultMaxBodyBytes,
		logLevel: server.log_level ?? defaultLogLevel,
		jsonLogs: false,
		health: {
			enabled: server.health_checks ?? defaultHealth.enabled,
			intervalMs: server.health_interval ?? defaultHealth.intervalMs,
			timeoutMs: server.health_timeout ?? defaultHealth.timeoutMs,
			unhealthyAfter: server.unhealthy_after ?? defaultHealth.unhealthyAfter,
		},
	};
}

/** `~` is the home directory; a relative path is read from the config file's folder, not from wherever switchboard was started. */
function resolvePath(target: string, file: string, env: NodeJS.ProcessEnv): string {
	const expanded = target === '~' || target.startsWith('~/') ? path.join(homeDirectory(env), target.slice(1)) : target;
	return path.resolve(path.dirname(path.resolve(file)), expanded);
}

/** `replicas = N` is `min_replicas = max_replicas = N`. */
function resolveReplicas(setting: <Key extends keyof ModelSettings>(key: Key) => ModelSettings[Key]): ReplicaConfig {
	const fixed = setting('replicas');
	const min = setting('min_replicas') ?? fixed ?? defaultReplicas.min;
	const max = setting('max_replicas') ?? fixed ?? Math.max(min, defaultReplicas.max);
	return {
		min,
		max,
		scaleUpQueue: setting('scale_up_queue') ?? defaultReplicas.scaleUpQueue,
		scaleUpAfterMs: setting('scale_up_after') ?? defaultReplicas.scaleUpAfterMs,
		scaleDownAfterMs: setting('scale_down_after') ?? defaultReplicas.scaleDownAfterMs,
	};
}

function resolveModel(model: ModelEntry, defaults: ModelSettings, env: NodeJS.ProcessEnv): ModelConfig {
	const setting = <Key extends keyof ModelSettings>(key: Key): ModelSettings[Key] => model[key] ?? defaults[key];
	const startupTimeoutMs = setting('startup_timeout') ?? defaultModelSettings.startupTimeoutMs;
	const command = model.command ?? [];
	const replicas = resolveReplicas(setting);
	const launcher = setting('launcher') ?? (model.backends ? 'static' : 'local');
	const slurm = launcher === 'slurm' ? resolveSlurm(model, defaults, env) : undefined;
	// SLURM gives a job its GPUs: ids in [defaults] are for the local models (a slurm model's own are refused).
	const gpus = slurm ? [] : setting('gpus') ?? [];
	return {
		name: model.name,
		servedName: setting('served_name') ?? declaredModelName(command),
		aliases: model.aliases ?? [],
		launcher,
		slurm,
		command,
		backends: (model.backends ?? []).map(backend => ({url: backend.url, capacity: backend.capacity ?? setting('capacity') ?? defaultCapacity})),
		host: setting('host') ?? defaultBackendHost(slurm),
		port: setting('port'),
		portBase: setting('port_base') ?? defaultModelSettings.portBase,
		pingPath: setting('ping_path') ?? defaultModelSettings.pingPath,
		idleTimeoutMs: setting('idle_timeout') ?? defaultModelSettings.idleTimeoutMs,
		group: setting('group'),
		minResidencyMs: setting('min_residency') ?? defaultModelSettings.minResidencyMs,
		startupTimeoutMs,
		stopGraceMs: setting('stop_grace') ?? defaultModelSettings.stopGraceMs,
		maxQueue: setting('max_queue') ?? defaultModelSettings.maxQueue,
		maxWaitMs: setting('max_wait') ?? startupTimeoutMs,
		onCold: setting('on_cold') ?? defaultModelSettings.onCold,
		capacity: setting('capacity') ?? defaultCapacity,
		replicas,
		gpus,
		// Split evenly over the most replicas there can be, unless said otherwise.
		gpusPerReplica: slurm ? 0 : setting('gpus_per_replica') ?? Math.floor(gpus.length / replicas.max),
		maxCrashes: setting('max_crashes') ?? defaultModelSettings.maxCrashes,
		crashWindowMs: setting('crash_window') ?? defaultModelSettings.crashWindowMs,
		drainTimeoutMs: setting('drain_timeout') ?? defaultModelSettings.drainTimeoutMs,
		routing: {
			policy: setting('routing') ?? defaultRouting.policy,
			retries: setting('retries') ?? defaultRouting.retries,
			retryBackoffMs: setting('retry_backoff') ?? defaultRouting.retryBackoffMs,
			kvCacheLimit: setting('kv_cache_limit') ?? defaultRouting.kvCacheLimit,
			waitingLimit: setting('waiting_limit') ?? defaultRouting.waitingLimit,
		},
		// Merged key by key, so [defaults] can set HF_HOME while each model picks its GPUs.
		env: {...defaults.env, ...model.env},
	};
}

/** What each value alone cannot show: names and ports that collide, programs that do not exist. */
/** Replica counts that contradict each other or the ports and GPUs they need. */
function replicaProblems(model: ModelConfig, entry: ModelEntry | undefined, at: (key: string) => string): string[] {
	const problems: string[] = [];
	const {min, max} = model.replicas;
	const {gpus, gpusPerReplica} = model;
	if (entry?.replicas !== undefined && (entry.min_replicas !== undefined || entry.max_replicas !== undefined)) {
		problems.push(`${at('replicas')} is a fixed count; set either replicas or min_replicas/max_replicas, not both.`);
	} else if (min > max) {
		problems.push(`${at('min_replicas')} ${min} is more than max_replicas ${max}.`);
	}

	if (max > 1 && model.port !== undefined) {
		problems.push(`${at('port')} ${model.port} is one port, but each of up to ${max} replicas needs its own: drop port (replicas take free ports from port_base up).`);
	}

	if (gpus.length > 0 && (gpusPerReplica === 0 || gpusPerReplica * max > gpus.length)) {
		problems.push(`${at('gpus')} lists ${gpus.length} GPU${gpus.length === 1 ? '' : 's'}, too few for ${max} replica${max === 1 ? '' : 's'} of ${Math.max(gpusPerReplica, 1)}; list more GPUs or lower max_replicas or gpus_per_replica.`);
	}

	return problems;
}

function findConflicts(config: Config, parsed: ConfigFile, document: unknown): string[] {
	if (config.models.length === 0) {
		return ['defines no model; add a [[models]] table with at least a name and a command.'];
	}

	const defaults = parsed.defaults ?? {};
	// Slurm keys in [defaults] apply to the slurm models only, but must not contradict each other.
	const problems = slurmContradictions(defaults, {}, (...keys) => keyPath(['defaults', ...keys], document));
	const at = (index: number, ...keys: string[]) => keyPath(['models', index, ...keys], document);
	const portOrigin = (index: number) => parsed.models?.[index]?.port === undefined ? ' (from defaults.port)' : '';
	const firstWithName = new Map<string, number>();
	const firstWithPort = new Map<number, number>();
	const claim = (name: string, index: number, where: string) => {
		const holder = firstWithName.get(name);
		if (holder === undefined) {
			firstWithName.set(name, index);
		} else {
			problems.push(`${where} ${JSON.stringify(name)} is already a name of models[${holder}]; each model and alias needs its own name.`);
		}
	};

	for (const [index, model] of config.models.entries()) {
		claim(model.name, index, at(index, 'name'));
		for (const [aliasIndex, alias] of model.aliases.entries()) {
			claim(alias, index, keyPath(['models', index, 'aliases', aliasIndex], document));
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

		const entry = parsed.models?.[index] ?? {name: model.name};
		problems.push(...model.slurm
			? slurmModelProblems(model.slurm, entry, defaults, (...keys) => at(index, ...keys))
			: misplacedSlurmKeys(entry, (...keys) => at(index, ...keys)));
		const replicaKeys = (['replicas', 'min_replicas', 'max_replicas', 'gpus'] as const).filter(key => entry[key] !== undefined);
		if (model.launcher === 'static') {
			if (replicaKeys.length > 0) {
				problems.push(`${at(index, replicaKeys[0]!)} does not apply to a static model: list its servers in backends.`);
			}

			if (model.backends.length === 0) {
				problems.push(`${at(index, 'backends')} is required for a static model: the servers it is served by, such as [{url = "http://10.0.0.5:8000", capacity = 32}].`);
			}

			if (model.command.length > 0) {
				problems.push(`${at(index, 'command')} does not apply to a static model: switchboard does not run its servers.`);
			}

			continue;
		}

		problems.push(...replicaProblems(model, entry, key => at(index, key)));
		if (model.backends.length > 0) {
			problems.push(`${at(index, 'backends')} applies to static models only; set launcher = "static", or drop it and give a command.`);
		}

		// The backend is spawned with the process's environment plus the model's, so its PATH decides.
		// A slurm model's runs on a compute node, whose programs this machine may not have.
		const program = model.command[0];
		if (program === undefined) {
			problems.push(`${at(index, 'command')} is required: the server to run, such as ["vllm", "serve", "Qwen/Qwen3-8B"] (or launcher = "static" with backends).`);
		} else if (!model.slurm && !resolveExecutable(program, model.env['PATH'] ?? process.env['PATH'])) {
			problems.push(`${at(index, 'command')} runs \`${program}\`, which is not an executable${program.includes('/') ? '' : ' on PATH'}.`);
		}
	}

	return problems;
}
