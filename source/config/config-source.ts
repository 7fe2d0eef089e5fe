import {readFileSync} from 'node:fs';
import type {z} from 'zod';
import {ConfigError} from './errors.js';
import {entryLine, keyPath} from './key-path.js';

/** A config file as read: messages about it point into its text and name its values by their keys. */
export interface ConfigSource {
	file: string;
	text: string;
	document: unknown;
}

/** A file's text, or a ConfigError saying why it cannot be read. */
export function readConfigText(file: string): string {
	try {
		return readFileSync(file, 'utf8');
	} catch (error) {
		const {code, message} = error as NodeJS.ErrnoException;
		throw new ConfigError(`${file}: cannot be read: ${code === 'ENOENT' ? 'no such file' : message}.`);
	}
}

/** `<file>[:<line>]: <key path> <message>`, the line where one is known (see entryLine). */
export function problemAt(source: ConfigSource, path: readonly PropertyKey[], message: string): string {
	const line = entryLine(path, source.text);
	return `${source.file}${line === undefined ? '' : `:${line}`}: ${keyPath(path, source.document)} ${message}`;
}

/** One line per problem zod found; each unknown key gets its own. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], source: ConfigSource): string[] {
	return issues.flatMap(issue => issue.code === 'unrecognized_keys'
		? issue.keys.map(key => problemAt(source, [...issue.path, key], issue.message))
		: [problemAt(source, issue.path, issue.message)]);
}
