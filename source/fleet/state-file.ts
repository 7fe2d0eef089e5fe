import {readFileSync} from 'node:fs';
import path from 'node:path';
import {z} from 'zod';
import {ConfigError} from '../config/errors.js';
import {writeFileAtomic} from '../util/atomic-file.js';
import {noPreferences, type PreferenceStore, type Preferences} from './preferences.js';

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

const forgetting = 'Fix it or delete it (switchboard then forgets the pins, idle timeouts and ad-hoc models set through its admin API), or choose another --state-dir.';

/**
 * The operator's choices in `<state dir>/state.json`, written whole at every change to a file
 * beside it that is then renamed over it, so a crash never leaves half a file. A file that cannot
 * be read stops switchboard at start: going on without it could wake a model the operator stopped
 * on purpose.
 *
 * Not the `conf` package: it pulls in `when-exit`, which on SIGTERM, SIGINT and SIGHUP sends the
 * signal to the process again, so switchboard took every shutdown for a second signal and left its
 * backends to the reaper.
 */
export function stateFile(directory: string): PreferenceStore & {path: string} {
	const file = path.join(directory, 'state.json');
	return {
		path: file,
		load(): Preferences {
			let text: string;
			try {
				text = readFileSync(file, 'utf8');
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
					return noPreferences;
				}

				throw new ConfigError(`The state file ${file} cannot be read: ${(error as Error).message}. ${forgetting}`);
			}

			let document: unknown;
			try {
				document = JSON.parse(text);
			} catch (error) {
				throw new ConfigError(`The state file ${file} is not valid JSON: ${(error as Error).message}. ${forgetting}`);
			}

			const parsed = stateDocument.safeParse(document);
			if (!parsed.success) {
				const problem = parsed.error.issues[0]!;
				throw new ConfigError(`The state file ${file} has ${problem.path.length > 0 ? `${problem.path.join('.')}: ` : ''}${problem.message}. ${forgetting}`);
			}

			const {models, ad_hoc: adHoc} = parsed.data;
			return {
				models: new Map(Object.entries(models).map(([name, entry]) => [name, {idleTimeoutMs: entry.idle_timeout_ms, pin: entry.pin}])),
				adHoc: adHoc.map(entry => ({name: entry.name, spec: entry.spec, group: entry.group})),
			};
		},
		save(preferences) {
			const document = {
				models: Object.fromEntries([...preferences.models].map(([name, entry]) => [name, {idle_timeout_ms: entry.idleTimeoutMs, pin: entry.pin}])),
				ad_hoc: preferences.adHoc.map(entry => ({name: entry.name, spec: entry.spec, group: entry.group})),
			};
			writeFileAtomic(file, JSON.stringify(document, null, '\t') + '\n');
		},
	};
}
