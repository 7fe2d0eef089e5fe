import type {Reading} from './values.js';

/** Inside double quotes a backslash escapes only these, as in a POSIX shell. */
const escapableInDoubleQuotes = new Set(['"', '\\', '$', '`', '\n']);

/**
 * Splits a command line into arguments the way a POSIX shell would read its quotes and
 * backslashes, so a command pasted from a terminal means the same here. Nothing is expanded
 * (`$VAR`, `~`, globs stay as written): the arguments go to the process as they are.
 */
export function splitShellWords(line: string): Reading<string[]> {
	const words: string[] = [];
	let word: string | undefined;
	let index = 0;
	while (index < line.length) {
		const char = line[index]!;
		if (char === '\\' && line[index + 1] === '\n') {
			// A line continuation joins lines and adds nothing.
			index += 2;
		} else if (/\s/.test(char)) {
			if (word !== undefined) {
				words.push(word);
				word = undefined;
			}

			index++;
		} else if (char === '\\') {
			if (index + 1 === line.length) {
				return {expected: 'a command line that does not end in a lone backslash'};
			}

			word = (word ?? '') + line[index + 1]!;
			index += 2;
		} else if (char === '\'') {
			const end = line.indexOf('\'', index + 1);
			if (end === -1) {
				return {expected: 'a command line whose quotes are closed', note: 'a \' quote is never closed'};
			}

			word = (word ?? '') + line.slice(index + 1, end);
			index = end + 1;
		} else if (char === '"') {
			const quoted = readDoubleQuoted(line, index + 1);
			if (quoted === undefined) {
				return {expected: 'a command line whose quotes are closed', note: 'a " quote is never closed'};
			}

			word = (word ?? '') + quoted.text;
			index = quoted.end + 1;
		} else {
			word = (word ?? '') + char;
			index++;
		}
	}

	if (word !== undefined) {
		words.push(word);
	}

	return {value: words};
}

/** The text of a double-quoted string starting at `start`, and the index of its closing quote. */
function readDoubleQuoted(line: string, start: number): {text: string; end: number} | undefined {
	let text = '';
	for (let index = start; index < line.length; index++) {
		const char = line[index]!;
		if (char === '"') {
			return {text, end: index};
		}

		const next = line[index + 1];
		if (char === '\\' && next !== undefined && escapableInDoubleQuotes.has(next)) {
			text += next === '\n' ? '' : next;
			index++;
		} else {
			text += char;
		}
	}

	return undefined;
}
