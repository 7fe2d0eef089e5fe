import os from 'node:os';
import path from 'node:path';
import {parseDuration} from '../util/duration.js';
import {ConfigError} from './errors.js';
import {splitShellWords} from './shell-words.js';
import type {LogLevel} from './types.js';

/**
 * A setting's value read from text, or what the setting expects instead. Flags and the config
 * file share these readers, and so accept the same values and explain them in the same words.
 */
export type Reading<T> = {value: T} | {expected: string; note?: string | undefined};

/** Completes "<setting> …" for a value that cannot be used: `must be a size such as … (got huge)`. */
export function mustBe(problem: {expected: string; note?: string | undefined}, shown: string): string {
	return `must be ${problem.expected} (got ${shown})${problem.note ? `; ${problem.note}` : ''}`;
}

/** The value a setting's text reads as, or a ConfigError naming the setting and what it expects. */
export function checked<T>(setting: string, text: string, reading: Reading<T>): T {
	if ('expected' in reading) {
		throw new ConfigError(`${setting} ${mustBe(reading, text)}.`);
	}

	return reading.value;
}

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); longer ones would fire at once. */
export const longestTimerMs = 2 ** 31 - 1;

export const durationExpected = 'a duration such as 1800 (seconds), 90s, 30m or 2h';

/** A duration in ms. 0 is allowed only where it means something, which `zeroMeans` says ("never"). */
export function readDuration(text: string, {zeroMeans}: {zeroMeans?: string}): Reading<number> {
	const ms = parseDuration(text);
	if (ms === undefined) {
		return {expected: durationExpected};
	}

	if (ms > longestTimerMs) {
		return {expected: 'at most 24 days', note: zeroMeans && `0 means ${zeroMeans}`};
	}

	if (ms === 0 && !zeroMeans) {
		return {expected: 'longer than 0'};
	}

	return {value: ms};
}

const sizeUnits: Record<string, number> = {b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3};

export const sizeExpected = 'a size such as 512kb, 32mb or 1gb';

/** A size in bytes: `512kb`, `32mb`, `1gb`, or a bare number of bytes. */
export function readSize(text: string): Reading<number> {
	const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?b?)?\s*$/i.exec(text);
	if (!match) {
		return {expected: sizeExpected};
	}

	const bytes = Math.round(Number(match[1]) * sizeUnits[(match[2] || 'b').toLowerCase()]!);
	return bytes === 0 ? {expected: 'larger than 0'} : {value: bytes};
}

const logLevels: Record<string, LogLevel> = {debug: 'debug', info: 'info', warn: 'warn', warning: 'warn', error: 'error'};

export const logLevelExpected = 'one of DEBUG, INFO, WARNING, ERROR';

/** Python's level names as llm-proxy-ondemand takes them, in any case. */
export function readLogLevel(text: string): Reading<LogLevel> {
	const name = text.toLowerCase();
	// hasOwn: a plain lookup would take `constructor` for a level.
	return Object.hasOwn(logLevels, name) ? {value: logLevels[name]!} : {expected: logLevelExpected};
}

/** The user's home: `HOME` from the given environment first, so tests and callers can pick it. */
export function homeDirectory(env: NodeJS.ProcessEnv): string {
	return env['HOME'] || os.homedir();
}

/** `$XDG_STATE_HOME/switchboard`, `~/.local/state/switchboard` by default: the operator's choices are kept here. */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
	const stateHome = env['XDG_STATE_HOME'] || path.join(homeDirectory(env), '.local', 'state');
	return path.join(stateHome, 'switchboard');
}

export function defaultLogDir(env: NodeJS.ProcessEnv): string {
	return path.join(defaultStateDir(env), 'logs');
}

export const commandExpected = 'a command such as ["vllm", "serve", "Qwen/Qwen3-8B"] or "vllm serve Qwen/Qwen3-8B"';

/**
 * A list of arguments, or one string split as a shell would (quotes and backslashes, no expansion).
 * `expected` describes the command wanted, for an empty one.
 */
export function readCommand(value: string | readonly string[], expected = commandExpected): Reading<string[]> {
	const reading = typeof value === 'string' ? splitShellWords(value) : {value: [...value]};
	// An empty program name would "resolve" to a directory on PATH.
	return 'value' in reading && !reading.value[0] ? {expected} : reading;
}

/**
 * The API keys given plus `SWITCHBOARD_API_KEY`. An empty key is always a mistake (an unset shell
 * variable, most often), and taking it as "no key" would switch authentication off.
 */
export function readApiKeys(keys: readonly string[], env: NodeJS.ProcessEnv): Reading<string[]> {
	return readKeys(keys, env['SWITCHBOARD_API_KEY']);
}

/** The admin keys given plus `SWITCHBOARD_ADMIN_KEY`, refused when empty as API keys are. */
export function readAdminKeys(keys: readonly string[], env: NodeJS.ProcessEnv): Reading<string[]> {
	return readKeys(keys, env['SWITCHBOARD_ADMIN_KEY']);
}

function readKeys(keys: readonly string[], fromEnvironment: string | undefined): Reading<string[]> {
	const all = fromEnvironment === undefined ? [...keys] : [...keys, fromEnvironment];
	return all.includes('')
		? {expected: 'a non-empty key', note: 'an empty one (an unset variable?) would switch authentication off'}
		: {value: all};
}
