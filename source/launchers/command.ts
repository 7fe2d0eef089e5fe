import {accessSync, constants} from 'node:fs';
import path from 'node:path';
import type {ModelConfig} from '../config/types.js';
import type {Logger} from '../log/logger.js';

/**
 * Fills `{host}` and `{port}` in. A command with neither gets `--host H --port P` appended,
 * as vLLM, SGLang and llm-proxy-ondemand expect.
 */
export function substitute(command: readonly string[], host: string, port: number | string): string[] {
	const placeholders = command.some(argument => argument.includes('{port}') || argument.includes('{host}'));
	if (!placeholders) {
		return [...command, '--host', host, '--port', String(port)];
	}

	return command.map(argument => argument.replaceAll('{host}', host).replaceAll('{port}', String(port)));
}

/**
 * Warns of each model whose command has `{port}` but no `{host}`: its backend picks its own
 * interface (vLLM: all of them) and can be reached without switchboard's API key. Called at start
 * for every model and on reload for those added or given a new command.
 */
export function warnUnboundHosts(models: readonly ModelConfig[], logger: Logger): void {
	for (const {name, command} of models) {
		if (command.some(argument => argument.includes('{port}')) && !command.some(argument => argument.includes('{host}'))) {
			logger.warn({model: name}, `the command of ${name} has {port} but no {host}: the backend picks its own interface (vLLM: all of them) and can be reached without switchboard's API key; add --host {host}`);
		}
	}
}

/** The executable a command would run, or undefined when there is none on PATH. */
export function resolveExecutable(file: string, searchPath = process.env['PATH'] ?? ''): string | undefined {
	const candidates = file.includes('/')
		? [path.resolve(file)]
		: searchPath.split(path.delimiter).filter(Boolean).map(directory => path.join(directory, file));
	return candidates.find(candidate => {
		try {
			accessSync(candidate, constants.X_OK);
			return true;
		} catch {
			return false;
		}
	});
}

/**
 * The name a server command declares it serves: `--served-model-name`, else `--model`
 * (`--model-path` for SGLang), else the argument after `serve`. Undefined when it declares none.
 */
export function declaredModelName(command: readonly string[]): string | undefined {
	// vLLM's parser takes `--served_model_name` as well as `--served-model-name`.
	const spellings = (flag: string) => [flag, `--${flag.slice(2).replaceAll('-', '_')}`];
	const valueOf = (flag: string): string | undefined => {
		const index = command.findIndex(argument => spellings(flag).some(spelling => argument === spelling || argument.startsWith(`${spelling}=`)));
		if (index === -1) {
			return undefined;
		}

		const argument = command[index]!;
		return argument.includes('=') ? argument.slice(argument.indexOf('=') + 1) : command[index + 1];
	};

	const serveIndex = command.indexOf('serve');
	const positional = serveIndex === -1 ? undefined : command[serveIndex + 1];
	return valueOf('--served-model-name')
		?? valueOf('--model')
		?? valueOf('--model-path')
		?? (positional?.startsWith('-') ? undefined : positional);
}

/** The name to show and route by: the declared one, else the program's. */
export function servedModelName(command: readonly string[]): string {
	return declaredModelName(command) ?? path.basename(command[0] ?? 'model');
}
