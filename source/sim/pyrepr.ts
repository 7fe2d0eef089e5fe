/**
 * Python `repr()` of JSON values. vLLM builds validation messages by printing
 * pydantic error dicts, so reproducing them needs Python's spelling.
 */

export function pyRepr(value: unknown): string {
	if (value === null || value === undefined) return 'None';
	if (value === true) return 'True';
	if (value === false) return 'False';
	if (typeof value === 'number') return Number.isInteger(value) ? String(value) : pyFloatRepr(value);
	if (typeof value === 'string') return pyStringRepr(value);
	if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
	if (typeof value === 'object') {
		const entries = Object.entries(value).map(([key, item]) => `${pyStringRepr(key)}: ${pyRepr(item)}`);
		return `{${entries.join(', ')}}`;
	}
	return pyStringRepr(String(value));
}

/** `repr(tuple)`: a one-element tuple keeps its trailing comma. */
export function pyTupleRepr(items: readonly (string | number)[]): string {
	const inner = items.map(pyRepr).join(', ');
	return items.length === 1 ? `(${inner},)` : `(${inner})`;
}

export function pyStringRepr(text: string): string {
	const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
	let escaped = '';
	for (const char of text) {
		if (char === '\\') escaped += '\\\\';
		else if (char === quote) escaped += `\\${quote}`;
		else if (char === '\n') escaped += '\\n';
		else if (char === '\r') escaped += '\\r';
		else if (char === '\t') escaped += '\\t';
		else if (char < ' ') escaped += `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
		else escaped += char;
	}
	return `${quote}${escaped}${quote}`;
}

/**
 * `repr(float)`: shortest round-trip digits like JavaScript, but Python always
 * shows a fraction or exponent, and switches to exponents at 1e16 and below 1e-4.
 */
export function pyFloatRepr(value: number): string {
	if (Number.isNaN(value)) return 'nan';
	if (value === Number.POSITIVE_INFINITY) return 'inf';
	if (value === Number.NEGATIVE_INFINITY) return '-inf';
	const magnitude = Math.abs(value);
	if (magnitude !== 0 && (magnitude >= 1e16 || magnitude < 1e-4)) {
		const [mantissa = '0', exponent = '0'] = value.toExponential().split('e');
		const sign = exponent.startsWith('-') ? '-' : '+';
		return `${mantissa}e${sign}${exponent.replace(/^[+-]/, '').padStart(2, '0')}`;
	}
	const text = String(value);
	return text.includes('.') ? text : `${text}.0`;
}
