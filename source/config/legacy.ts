import path from 'node:path';
import {parse} from 'smol-toml';
import {backendExpected, readBackendUrl} from './backend-url.js';
import {ConfigError} from './errors.js';
import {isTable, keyPath} from './key-path.js';
import {parseToml, show} from './toml-text.js';
import {longestTimerMs, mustBe, type Reading} from './values.js';

/*
 * The backend lists of the tools switchboard replaces, read as their users wrote them:
 * vllm-router's servers.toml and the vLLM Forwarder's ip.txt. Pure: text in, fleet out. Every
 * problem is reported at once, one line each, naming the file and the key path (servers.toml)
 * or the line (ip.txt), and saying what is expected.
 */

type LegacyFormat = 'servers.toml' | 'ip.txt';

export interface LegacyBackend {
	/** `scheme://host:port`, without a trailing slash or `/v1`: switchboard forwards /v1/... itself. */
	url: string;
	/** servers.toml's `max_concurrent_requests`; ip.txt has none. */
	capacity: number | undefined;
}

/**
 * vllm-router's `[config]` table, in switchboard's units (seconds become ms). A setting the file
 * leaves out stays undefined; vllmRouterDefaults has the values the router would use instead.
 */
export interface LegacySettings {
	/** `health_check_interval` (s): how often each server's health is checked. */
	healthCheckIntervalMs?: number;
	/** `health_check_timeout` (s): a check slower than this fails. */
	healthCheckTimeoutMs?: number;
	/** `health_check_min_success_rate` (0–1): the share of recent checks that must pass for a server to count as healthy. */
	healthCheckMinSuccessRate?: number;
	/** `health_check_max_response_time` (s): a server answering its checks slower than this counts as unhealthy. */
	healthCheckMaxResponseTimeMs?: number;
	/** `enable_active_health_check`: false = no probing, health from request outcomes only. */
	activeHealthCheck?: boolean;
	/** `config_reload_interval` (s): how often the router looked for edits of the file. */
	configReloadIntervalMs?: number;
	/** `request_timeout` (s): a forwarded request taking longer fails. */
	requestTimeoutMs?: number;
	/** `max_retries`: how many times a failed request is tried again on another server. */
	maxRetries?: number;
	/** `retry_delay` (s): the pause before each retry. */
	retryDelayMs?: number;
}

export interface LegacyFleet {
	format: LegacyFormat;
	backends: LegacyBackend[];
	settings: LegacySettings;
}

/** What vllm-router uses for the settings a servers.toml leaves out, as its README documents them. */
export const vllmRouterDefaults: Readonly<Required<LegacySettings>> = {
	healthCheckIntervalMs: 10_000,
	healthCheckTimeoutMs: 5000,
	healthCheckMinSuccessRate: 0.8,
	healthCheckMaxResponseTimeMs: 2000,
	activeHealthCheck: true,
	configReloadIntervalMs: 30_000,
	requestTimeoutMs: 120_000,
	maxRetries: 3,
	retryDelayMs: 100,
};

/** The forwarder's port for an ip.txt entry that names none (its `BACKEND_DEFAULT_PORT`). */
const forwarderDefaultPort = 8101;

/**
 * Which legacy format a file is in, if any:
 * - a name ending in `.txt` is an ip.txt, whatever it holds (so its mistakes are reported by line);
 * - text that is valid TOML is a servers.toml when its top level has `servers` (vllm-router's
 *   `[servers]` table, or a `servers = [...]` list) and no `models` (switchboard.toml's [[models]]);
 * - other text, unless the name ends in `.toml`, is an ip.txt when it has at least one entry and
 *   every line, once blank lines and `#` comments are dropped, is a single word shaped like a host,
 *   host:port or http(s) URL. (A list of hosts is never valid TOML: a bare key needs `= value`.)
 */
export function legacyFormat(file: string, text: string): LegacyFormat | undefined {
	const extension = path.extname(file).toLowerCase();
	if (extension === '.txt') {
		return 'ip.txt';
	}

	let document: unknown;
	try {
		document = parse(text);
	} catch {
		return extension !== '.toml' && looksLikeBackendList(text) ? 'ip.txt' : undefined;
	}

	return isTable(document) && Object.hasOwn(document, 'servers') && !Object.hasOwn(document, 'models') ? 'servers.toml' : undefined;
}

export function isLegacyConfig(file: string, text: string): boolean {
	return legacyFormat(file, text) !== undefined;
}

/** The fleet of a legacy file, or undefined when the file is in neither legacy format (see legacyFormat). */
export function parseLegacyConfig(text: string, file: string): LegacyFleet | undefined {
	switch (legacyFormat(file, text)) {
		case 'servers.toml': {
			return parseServersToml(text, file);
		}

		case 'ip.txt': {
			return parseIpTxt(text, file);
		}

		case undefined: {
			return undefined;
		}
	}
}

const looseBackend = /^(?:https?:\/\/)?(?:\[[\da-f:.]+\]|[\w.-]+)(?::\d*)?(?:[/?#]\S*)?$/i;

function looksLikeBackendList(text: string): boolean {
	const entries = meaningfulLines(text).map(({entry}) => entry);
	return entries.length > 0 && entries.every(entry => looseBackend.test(entry));
}

/** The lines that are not blank or comments, numbered from 1. `#` starts a comment at the start of a line or after a space. */
function meaningfulLines(text: string): Array<{line: number; entry: string}> {
	return text.replace(/^\uFEFF/, '').split(/\r?\n|\r/)
		.map((content, index) => ({line: index + 1, entry: content.replace(/(?:^|\s)#.*$/, '').trim()}))
		.filter(({entry}) => entry !== '');
}

/**
 * The vLLM Forwarder's ip.txt: one backend per line, as `host` (port `defaultPort`, 8101 unless
 * the caller was given the forwarder's BACKEND_DEFAULT_PORT), `host:port`, `[IPv6]:port`, or an
 * http(s) URL with or without `/v1`. A URL without a port gets `defaultPort` too: the forwarder
 * uses its default for every entry that names no port. Blank lines and `#` comments are ignored.
 */
export function parseIpTxt(text: string, file: string, {defaultPort = forwarderDefaultPort}: {defaultPort?: number} = {}): LegacyFleet {
	const problems: string[] = [];
	const backends: LegacyBackend[] = [];
	const lineOf = new Map<string, number>();
	for (const {line, entry} of meaningfulLines(text)) {
		const shown = JSON.stringify(entry);
		if (/\s/.test(entry)) {
			problems.push(`${file}:${line}: the line must be one backend, ${backendExpected} (got ${shown}); put each backend on its own line`);
			continue;
		}

		const url = readBackendUrl(entry, {defaultPort});
		if ('expected' in url) {
			problems.push(`${file}:${line}: the backend ${mustBe(url, shown)}`);
			continue;
		}

		const first = lineOf.get(url.value);
		if (first === undefined) {
			lineOf.set(url.value, line);
			backends.push({url: url.value, capacity: undefined});
		} else {
			problems.push(`${file}:${line}: the backend is already on line ${first} (both are ${url.value}); list each backend once (got ${shown})`);
		}
	}

	if (problems.length > 0) {
		throw new ConfigError(problems.join('\n'));
	}

	if (backends.length === 0) {
		throw new ConfigError(`${file}: lists no backend; write one per line, ${backendExpected}.`);
	}

	return {format: 'ip.txt', backends, settings: {}};
}

const serverExample = '{url = "http://gpu-1:8000", max_concurrent_requests = 4}';

/**
 * vllm-router's servers.toml: `[servers]` with `servers = [{url, max_concurrent_requests}, ...]`
 * (a top-level `servers = [...]` list is taken too), and its settings in `[config]`. Each `url`
 * is an http(s) URL, `/v1` or not; `max_concurrent_requests` becomes the backend's capacity.
 * `weight` (1–100), which older vllm-router versions used for weighted random choice, is checked
 * and accepted so their files still load, but not used: capacity and live load decide the share.
 */
export function parseServersToml(text: string, file: string): LegacyFleet {
	const document = parseToml(text, file);
	const problems: string[] = [];
	const at = (...keys: PropertyKey[]) => keyPath(keys, document);
	problems.push(...unknownKeys(document, [], ['servers', 'config']));

	let list: unknown = document['servers'];
	let listPath: PropertyKey[] = ['servers'];
	if (isTable(list)) {
		problems.push(...unknownKeys(list, ['servers'], ['servers']));
		list = list['servers'];
		listPath = ['servers', 'servers'];
	}

	const backends: LegacyBackend[] = [];
	if (list === undefined) {
		problems.push(`${at(...listPath)} is required: the servers to route to, such as [${serverExample}]`);
	} else if (Array.isArray(list)) {
		if (list.length === 0) {
			problems.push(`${at(...listPath)} lists no server; add one such as ${serverExample}`);
		}

		const indexOf = new Map<string, number>();
		for (const [index, server] of list.entries()) {
			const backend = readServer(server, [...listPath, index], at, problems);
			if (backend === undefined) {
				continue;
			}

			const first = indexOf.get(backend.url);
			if (first === undefined) {
				indexOf.set(backend.url, index);
				backends.push(backend);
			} else {
				problems.push(`${at(...listPath, index, 'url')} is the server of ${at(...listPath, first)} again (both are ${backend.url}); list each server once (got ${show((server as Record<string, unknown>)['url'])})`);
			}
		}
	} else {
		problems.push(`${at(...listPath)} ${mustBe({expected: `a list such as [${serverExample}]`}, show(list))}`);
	}

	const settings = readSettings(document['config'], at, problems);
	if (problems.length > 0) {
		throw new ConfigError(problems.map(line => `${file}: ${line}`).join('\n'));
	}

	return {format: 'servers.toml', backends, settings};
}

function readServer(server: unknown, where: PropertyKey[], at: (...keys: PropertyKey[]) => string, problems: string[]): LegacyBackend | undefined {
	if (!isTable(server)) {
		problems.push(`${at(...where)} ${mustBe({expected: `a table such as ${serverExample}`}, show(server))}`);
		return undefined;
	}

	const before = problems.length;
	problems.push(...unknownKeys(server, where, ['url', 'max_concurrent_requests', 'weight']));
	let url: string | undefined;
	const text = server['url'];
	if (text === undefined) {
		problems.push(`${at(...where, 'url')} is required: the server's address, such as "http://gpu-1:8000"`);
	} else {
		const reading: Reading<string> = typeof text === 'string' ? readBackendUrl(text.trim(), {requireScheme: true}) : {expected: 'an http:// or https:// URL such as "http://gpu-1:8000"'};
		if ('expected' in reading) {
			problems.push(`${at(...where, 'url')} ${mustBe(reading, show(text))}`);
		} else {
			url = reading.value;
		}
	}

	const capacity = readWhole(server['max_concurrent_requests'], 1, 1_000_000, 'a whole number of concurrent requests, 1 or more');
	if ('expected' in capacity) {
		problems.push(`${at(...where, 'max_concurrent_requests')} ${mustBe(capacity, show(server['max_concurrent_requests']))}`);
	}

	const weight = readWhole(server['weight'], 1, 100, 'a whole number from 1 to 100');
	if ('expected' in weight) {
		problems.push(`${at(...where, 'weight')} ${mustBe(weight, show(server['weight']))}`);
	}

	return url === undefined || problems.length > before || 'expected' in capacity ? undefined : {url, capacity: capacity.value};
}

function readWhole(value: unknown, min: number, max: number, expected: string): Reading<number | undefined> {
	if (value === undefined) {
		return {value: undefined};
	}

	return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? {value} : {expected};
}

type SettingReader = (value: unknown) => Reading<number | boolean>;

function seconds(minimum: 'above 0' | '0 or more', example: string): SettingReader {
	const expected = minimum === 'above 0' ? `a number of seconds above 0, such as ${example}` : `a number of seconds, 0 or more, such as ${example}`;
	return value => {
		if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && minimum === 'above 0')) {
			return {expected};
		}

		const ms = Math.round(value * 1000);
		return ms > longestTimerMs ? {expected: 'at most 2147483 seconds (24 days)'} : {value: ms};
	};
}

/** The keys of [config] vllm-router's README documents, and where each goes. */
const settingReaders: Record<string, {field: keyof LegacySettings; read: SettingReader}> = {
	health_check_interval: {field: 'healthCheckIntervalMs', read: seconds('above 0', '10')},
	health_check_timeout: {field: 'healthCheckTimeoutMs', read: seconds('above 0', '5')},
	health_check_min_success_rate: {
		field: 'healthCheckMinSuccessRate',
		read: value => typeof value === 'number' && value >= 0 && value <= 1 ? {value} : {expected: 'a fraction from 0 to 1, such as 0.8'},
	},
	health_check_max_response_time: {field: 'healthCheckMaxResponseTimeMs', read: seconds('above 0', '2.0')},
	enable_active_health_check: {field: 'activeHealthCheck', read: value => typeof value === 'boolean' ? {value} : {expected: 'true or false'}},
	config_reload_interval: {field: 'configReloadIntervalMs', read: seconds('above 0', '30')},
	request_timeout: {field: 'requestTimeoutMs', read: seconds('above 0', '120')},
	max_retries: {
		field: 'maxRetries',
		read: value => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 100 ? {value} : {expected: 'a whole number from 0 to 100, such as 3'},
	},
	retry_delay: {field: 'retryDelayMs', read: seconds('0 or more', '0.1')},
};

function readSettings(config: unknown, at: (...keys: PropertyKey[]) => string, problems: string[]): LegacySettings {
	const settings: LegacySettings = {};
	if (config === undefined) {
		return settings;
	}

	if (!isTable(config)) {
		problems.push(`${at('config')} ${mustBe({expected: 'a table of settings such as [config] max_retries = 3'}, show(config))}`);
		return settings;
	}

	problems.push(...unknownKeys(config, ['config'], Object.keys(settingReaders)));
	for (const [key, value] of Object.entries(config)) {
		if (!Object.hasOwn(settingReaders, key)) {
			continue;
		}

		const {field, read} = settingReaders[key]!;
		const reading = read(value);
		if ('expected' in reading) {
			problems.push(`${at('config', key)} ${mustBe(reading, show(value))}`);
		} else {
			(settings as Record<string, number | boolean>)[field] = reading.value;
		}
	}

	return settings;
}

function unknownKeys(table: Record<string, unknown>, where: PropertyKey[], known: readonly string[]): string[] {
	return Object.keys(table)
		.filter(key => !known.includes(key))
		.map(key => `${keyPath([...where, key], undefined)} is not a known key; the keys here are ${known.join(', ')}`);
}
