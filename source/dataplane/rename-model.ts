/** A top-level-looking `"model": "` key: quotes inside JSON strings are escaped, so only real keys match. */
const modelKey = /"model"\s*:\s*/g;

/**
 * The body with its `model` set to `name`. The usual body names its model once, as written by
 * JSON.stringify: then only those bytes change, and a long prompt is neither parsed again nor
 * re-serialised. Anything else (no `model` yet, a key written with escapes, `"model"` keys nested in
 * tools) is re-serialised from the parsed body.
 */
export function renameModel(text: string, parsed: {model?: unknown}, name: string): Buffer {
	if (typeof parsed.model === 'string') {
		const written = JSON.stringify(parsed.model);
		let at = -1;
		let keys = 0;
		for (const match of text.matchAll(modelKey)) {
			keys++;
			at = match.index + match[0].length;
		}

		if (keys === 1 && text.startsWith(written, at)) {
			return Buffer.from(text.slice(0, at) + JSON.stringify(name) + text.slice(at + written.length));
		}
	}

	parsed.model = name;
	return Buffer.from(JSON.stringify(parsed));
}
