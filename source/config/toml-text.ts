import {parse, TomlError} from 'smol-toml';
import {ConfigError} from './errors.js';
import {isTable} from './key-path.js';

/**
 * A TOML file's tables, or a ConfigError naming the file, line and column of the syntax error,
 * followed by the lines around it unless `quote` is false (a file of keys: its errors are logged).
 */
export function parseToml(text: string, file: string, quote = true): Record<string, unknown> {
	try {
		return parse(text);
	} catch (error) {
		if (!(error instanceof TomlError)) {
			throw error;
		}

		// smol-toml's message is "Invalid TOML document: <reason>" followed by the code block.
		const reason = error.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
		throw new ConfigError(`${file}:${error.line}:${error.column}: not valid TOML: ${reason}${quote ? `\n${error.codeblock.trimEnd()}` : ''}`);
	}
}

/** A value from a file as the user wrote it, for "(got …)". */
export function show(value: unknown): string {
	if (isTable(value)) {
		return 'a table';
	}

	// smol-toml's TomlDate.toISOString prints a TOML date as it was written; String() would not.
	const text = value instanceof Date ? value.toISOString() : typeof value === 'string' || Array.isArray(value) ? JSON.stringify(value) : String(value);
	return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
