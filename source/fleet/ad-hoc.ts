import {splitShellWords} from '../config/shell-words.js';
import type {ModelConfig} from '../config/types.js';
import type {Reading} from '../config/values.js';
import {declaredModelName} from '../launchers/command.js';
import type {AdHocModel} from './preferences.js';

const modelNamePattern = /^[\w.:/-]+$/;

/**
 * Reads aic-vllm-proxy's `model_spec`: a model, then server flags, separated by spaces or newlines
 * (`"meta-llama/Llama-2-7b-hf\n--tensor-parallel-size 1"`), quoted as a shell would.
 */
export function readModelSpec(text: string): Reading<string[]> {
	const words = splitShellWords(text);
	if ('expected' in words) {
		return words;
	}

	const [model] = words.value;
	if (model === undefined || model.startsWith('-')) {
		return {expected: 'a model followed by its server flags, such as "Qwen/Qwen3-8B --max-model-len 8192"'};
	}

	return words;
}

/** The command an ad-hoc model runs: the switch command, then the spec. */
function adHocCommand(switchCommand: readonly string[], spec: readonly string[]): string[] {
	return [...switchCommand, ...spec];
}

/** The name an ad-hoc model is requested by: the one its server declares (`--served-model-name`), else the spec's model. */
export function adHocName(switchCommand: readonly string[], spec: readonly string[]): Reading<string> {
	const name = declaredModelName(adHocCommand(switchCommand, spec)) ?? spec[0]!;
	return modelNamePattern.test(name) ? {value: name} : {expected: 'a model name of letters, digits and . _ : / -'};
}

/**
 * An ad-hoc model's settings: the defaults every model gets ([defaults], or the flags), its own
 * command and name. Made again at every reload, so edits of [defaults] reach it as they reach the others.
 */
export function adHocConfig(defaults: ModelConfig, switchCommand: readonly string[], model: AdHocModel): ModelConfig {
	const command = adHocCommand(switchCommand, model.spec);
	return {
		...defaults,
		name: model.name,
		servedName: declaredModelName(command) ?? model.spec[0],
		aliases: [],
		// Run as the defaults say: as SLURM jobs under --use-slurm or [defaults] launcher = "slurm".
		launcher: defaults.launcher === 'slurm' ? 'slurm' : 'local',
		command,
		backends: [],
		// A fixed port is one model's; ad-hoc ones take free ones.
		port: undefined,
		group: model.group ?? defaults.group,
	};
}
