import type {ModelConfig} from '../config/types.js';

/**
 * `on`: kept running (never stopped when idle, started with switchboard); `off`: stopped, and its
 * requests refused, until the operator starts it.
 */
export type Pin = 'on' | 'off';

/** What the operator chose for one model through the admin API. */
export interface ModelPreferences {
	/** Wins over the config's idle_timeout until the operator clears it. */
	idleTimeoutMs?: number | undefined;
	pin?: Pin | undefined;
}

/** A model started by `POST /switch {model_spec}` rather than configured. */
export interface AdHocModel {
	name: string;
	/** The spec's words: the model, then its server flags; run after [server] switch_command. */
	spec: string[];
	/** As the request named it; undefined: the default group ([defaults] group, or the command line's). */
	group: string | undefined;
}

/** The operator's choices, which outlive a config reload and a restart of switchboard. */
export interface Preferences {
	/** By model name; kept for a model that is not configured now, so it applies again if it comes back. */
	models: ReadonlyMap<string, ModelPreferences>;
	adHoc: readonly AdHocModel[];
}

/** Where preferences are kept between runs (see state-file.ts). */
export interface PreferenceStore {
	load(): Preferences;
	/** Throws when they cannot be written; the caller then leaves things as they were. */
	save(preferences: Preferences): void;
}

export const noPreferences: Preferences = {models: new Map(), adHoc: []};

/** Keeps preferences for this run only (tests, programs that embed the fleet). */
export function memoryStore(initial: Preferences = noPreferences): PreferenceStore {
	let current = initial;
	return {
		load: () => current,
		save(preferences) {
			current = preferences;
		},
	};
}

/** The settings a model runs with: its config, with the operator's idle timeout; a model pinned on never goes idle. */
export function preferred(config: ModelConfig, preferences: ModelPreferences | undefined): ModelConfig {
	if (preferences?.pin === 'on') {
		return {...config, idleTimeoutMs: 0};
	}

	return preferences?.idleTimeoutMs === undefined ? config : {...config, idleTimeoutMs: preferences.idleTimeoutMs};
}

/** `preferences` with one model's choices changed (an empty result drops the model's entry). */
export function withModel(preferences: Preferences, name: string, change: ModelPreferences): Preferences {
	const models = new Map(preferences.models);
	const merged = {...models.get(name), ...change};
	if (merged.idleTimeoutMs === undefined && merged.pin === undefined) {
		models.delete(name);
	} else {
		models.set(name, merged);
	}

	return {...preferences, models};
}
