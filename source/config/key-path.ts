/** A TOML table as smol-toml returns it. */
export function isTable(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Lists whose entries are shown by this key of theirs when they have it: the user does not count tables. */
const entryNames = new Map([['models', 'name'], ['keys', 'user']]);

/**
 * Where in the file a value is, as the user would look for it: `server.port`,
 * `models "qwen3-8b".idle_timeout`, `keys "alice".models[0]` (a model by its name, a key by
 * its user, when it has one), `models[2].name` (by index when the name is the issue).
 */
export function keyPath(path: readonly PropertyKey[], document: unknown): string {
	let text = '';
	let value = document;
	for (const [position, key] of path.entries()) {
		if (typeof key === 'number') {
			const nameKey = entryNames.get(String(path[position - 1]));
			const entry: unknown = Array.isArray(value) ? value[key] : undefined;
			const name = nameKey !== undefined && path[position + 1] !== nameKey && isTable(entry) ? entry[nameKey] : undefined;
			text += typeof name === 'string' ? ` ${JSON.stringify(name)}` : `[${key}]`;
			value = entry;
		} else {
			const bare = /^[\w-]+$/.test(String(key)) ? String(key) : JSON.stringify(String(key));
			text += position === 0 ? bare : `.${bare}`;
			value = isTable(value) && Object.hasOwn(value, key) ? value[String(key)] : undefined;
		}
	}

	return text;
}

/** Lists of tables whose entries messages point at by line: a list of keys can be long, and users are not unique. */
const numberedLists = [['keys'], ['server', 'keys']];

/**
 * The line of the `[[keys]]` header of the entry a path leads into, if it is written so (an
 * inline list has no headers). Counting headers is exact: TOML forbids mixing both forms.
 */
export function entryLine(path: readonly PropertyKey[], text: string): number | undefined {
	const list = numberedLists.find(names => typeof path[names.length] === 'number' && names.every((name, index) => path[index] === name));
	if (list === undefined) {
		return undefined;
	}

	const header = new RegExp(`^\\s*\\[\\[\\s*${list.join('\\s*\\.\\s*')}\\s*\\]\\]`);
	let seen = 0;
	for (const [index, line] of text.split('\n').entries()) {
		if (header.test(line) && seen++ === path[list.length]) {
			return index + 1;
		}
	}

	return undefined;
}
