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
export function memoryStore(): PreferenceStore {
	let current = noPreferences;
	return {
		load: () => current,
		save(preferences) {
			current = preferences;
		},
	};
}

/**
 * The operator's choices as the fleet reads and changes them. Each change is saved before it is
 * made: a save that fails (a full disk) changes nothing.
 */
export class OperatorChoices {
	#preferences: Preferences;

	constructor(private readonly store: PreferenceStore) {
		this.#preferences = store.load();
	}

	of(name: string): ModelPreferences | undefined {
		return this.#preferences.models.get(name);
	}

	pin(name: string): Pin | undefined {
		return this.of(name)?.pin;
	}

	/** The models pinned on, by name. */
	pinnedOn(): string[] {
		return [...this.#preferences.models].filter(([, preferences]) => preferences.pin === 'on').map(([name]) => name);
	}

	get adHoc(): readonly AdHocModel[] {
		return this.#preferences.adHoc;
	}

	adHocModel(name: string): AdHocModel | undefined {
		return this.#preferences.adHoc.find(model => model.name === name);
	}

	/** The settings a model runs with: its config, with the operator's idle timeout; a model pinned on never goes idle. */
	applied(config: ModelConfig): ModelConfig {
		const preferences = this.of(config.name);
		if (preferences?.pin === 'on') {
			return {...config, idleTimeoutMs: 0};
		}

		return preferences?.idleTimeoutMs === undefined ? config : {...config, idleTimeoutMs: preferences.idleTimeoutMs};
	}

	/** Changes one model's choices (undefined clears one); false when that changes nothing. */
	choose(name: string, change: ModelPreferences): boolean {
		const models = new Map(this.#preferences.models);
		const before = models.get(name);
		const after = {...before, ...change};
		if (after.idleTimeoutMs === before?.idleTimeoutMs && after.pin === before?.pin) {
			return false;
		}

		if (after.idleTimeoutMs === undefined && after.pin === undefined) {
			models.delete(name);
		} else {
			models.set(name, after);
		}

		this.#save({...this.#preferences, models});
		return true;
	}

	/** Adds an ad-hoc model, or replaces the one of its name. */
	keepAdHoc(model: AdHocModel): void {
		this.#save({...this.#preferences, adHoc: [...this.#preferences.adHoc.filter(known => known.name !== model.name), model]});
	}

	/** Forgets the ad-hoc models `forget` picks; with `choicesToo`, what was chosen for them as well. */
	dropAdHoc(forget: (model: AdHocModel) => boolean, {choicesToo}: {choicesToo: boolean}): AdHocModel[] {
		const dropped = this.#preferences.adHoc.filter(model => forget(model));
		if (dropped.length > 0) {
			const models = new Map(this.#preferences.models);
			for (const model of choicesToo ? dropped : []) {
				models.delete(model.name);
			}

			this.#save({models, adHoc: this.#preferences.adHoc.filter(model => !dropped.includes(model))});
		}

		return dropped;
	}

	#save(preferences: Preferences): void {
		this.store.save(preferences);
		this.#preferences = preferences;
	}
}
