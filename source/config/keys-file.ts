import {describeIssues, problemAt, readConfigText, type ConfigSource} from './config-source.js';
import {ConfigError} from './errors.js';
import {modelMatcher} from './model-patterns.js';
import {keysFileSchema, type UserKeyEntry} from './schema.js';
import {parseToml, show} from './toml-text.js';
import type {UserKey} from './types.js';
import {mustBe} from './values.js';

/** Reads a keys file (`[[keys]]` tables, as [[server.keys]]); a ConfigError says what is wrong and where. */
export function loadKeysFile(file: string, modelNames: readonly string[]): UserKey[] {
	return parseKeysFile(readConfigText(file), file, modelNames);
}

export function parseKeysFile(text: string, file: string, modelNames: readonly string[]): UserKey[] {
	// Its lines hold keys: a syntax error names the line without quoting it.
	const source = {file, text, document: parseToml(text, file, false)};
	const result = keysFileSchema.safeParse(source.document);
	if (!result.success) {
		throw new ConfigError(describeIssues(result.error.issues, source).join('\n'));
	}

	const entries = result.data.keys ?? [];
	const problems = unknownModels(entries, ['keys'], modelNames, source);
	if (problems.length > 0) {
		throw new ConfigError(problems.join('\n'));
	}

	return entries.map(entry => userKey(entry));
}

/** Every name and prefix a key lists must match a model here: a typo would leave its user with less than meant. */
export function unknownModels(entries: readonly UserKeyEntry[], listPath: readonly PropertyKey[], modelNames: readonly string[], source: ConfigSource): string[] {
	const expected = `a model here (${modelNames.join(', ')}) or the start of one followed by *`;
	return entries.flatMap((entry, index) => (entry.models ?? []).flatMap((pattern, position) => modelNames.some(modelMatcher([pattern]))
		? []
		: [problemAt(source, [...listPath, index, 'models', position], mustBe({expected}, show(pattern)))]));
}

export function userKey(entry: UserKeyEntry): UserKey {
	return {key: entry.key, user: entry.user, models: entry.models};
}
