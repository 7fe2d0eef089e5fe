import Conf from 'conf';
import {z} from 'zod';
import {ConfigError} from '../config/errors.js';
import type {PreferenceStore, Preferences} from './preferences.js';

/** The state file's name in the state dir. */
const stateFileName = 'state';

const modelEntry = z.strictObject({
	idle_timeout_ms: z.int().min(0).optional(),
	pin: z.enum(['on', 'off']).optional(),
});

const adHocEntry = z.strictObject({
	name: z.string().min(1),
	spec: z.array(z.string()).min(1),
	group: z.string().min(1).optional(),
});

/** What the file holds, in the words a person reading it would look for. */
const stateDocument = z.object({
	models: z.record(z.string(), modelEntry).default({}),
	ad_hoc: z.array(adHocEntry).default([]),
});

type StateDocument = z.input<typeof stateDocument>;

/**
 * The operator's choices in `<state dir>/state.json`, written whole (to a temporary file renamed
 * over it, so a crash never leaves half a file) at every change. A file that cannot be read stops
 * switchboard at start: going on without it could wake a model the operator stopped on purpose.
 */
export function stateFile(directory: string): PreferenceStore & {path: string} {
	let conf: Conf<StateDocument>;
	try {
		// No dot paths: model names have dots in them.
		conf = new Conf<StateDocument>({cwd: directory, configName: stateFileName, accessPropertiesByDotNotation: false, clearInvalidConfig: false});
	} catch (error) {
		throw new ConfigError(`The state file in ${directory} cannot be read: ${(error as Error).message}. Fix it or delete it (switchboard then forgets the pins, idle timeouts and ad-hoc models set through its admin API), or choose another --state-dir.`);
	}

	const {path} = conf;
	return {
		path,
		load(): Preferences {
			const parsed = stateDocument.safeParse(conf.store);
			if (!parsed.success) {
				const problem = parsed.error.issues[0]!;
				throw new ConfigError(`${path}: ${problem.path.join('.')} ${problem.message}. Fix it or delete the file (switchboard then forgets the pins, idle timeouts and ad-hoc models set through its admin API).`);
			}

			const {models, ad_hoc: adHoc} = parsed.data;
			return {
				models: new Map(Object.entries(models).map(([name, entry]) => [name, {idleTimeoutMs: entry.idle_timeout_ms, pin: entry.pin}])),
				adHoc: adHoc.map(entry => ({name: entry.name, spec: entry.spec, group: entry.group})),
			};
		},
		save(preferences) {
			conf.store = {
				models: Object.fromEntries([...preferences.models].map(([name, entry]) => [name, {idle_timeout_ms: entry.idleTimeoutMs, pin: entry.pin}])),
				ad_hoc: preferences.adHoc.map(entry => ({name: entry.name, spec: entry.spec, group: entry.group})),
			};
		},
	};
}
