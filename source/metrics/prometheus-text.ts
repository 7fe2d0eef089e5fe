/** Label names to values; a null prototype, so a label called `__proto__` or `constructor` is just a label. */
export type Labels = Readonly<Record<string, string>>;

export type Sample = {labels: Labels; value: number};

/**
 * Reads the Prometheus text exposition format 0.0.4, as prometheus_client writes it for vLLM and
 * SGLang, keeping only the samples whose name is in `wanted`. A backend exposes hundreds of lines
 * and switchboard needs a handful of families, so a line is dropped on its name alone, before its
 * labels are looked at. Timestamps are read past and dropped; comments, blank lines and lines
 * that do not parse are skipped rather than thrown on, since one odd line from a newer backend
 * must not hide the rest of the scrape. Samples come back grouped by name, in the order written.
 */
export function parseMetrics(text: string, wanted: ReadonlySet<string>): Map<string, Sample[]> {
	const samples = new Map<string, Sample[]>();
	let lineStart = 0;
	while (lineStart < text.length) {
		let lineEnd = text.indexOf('\n', lineStart);
		if (lineEnd === -1) {
			lineEnd = text.length;
		}

		const next = lineEnd + 1;
		// CRLF: the \r belongs to the line break, not to the last token.
		if (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === carriageReturn) {
			lineEnd--;
		}

		const read = readSampleLine(text, lineStart, lineEnd, wanted);
		if (read) {
			const family = samples.get(read.name);
			if (family) {
				family.push(read.sample);
			} else {
				samples.set(read.name, [read.sample]);
			}
		}

		lineStart = next;
	}

	return samples;
}

const carriageReturn = 13;
const space = 32;
const tab = 9;
const hash = 35;
const openBrace = 123;
const closeBrace = 125;
const quote = 34;
const backslash = 92;
const comma = 44;
const equals = 61;

function isBlank(code: number): boolean {
	return code === space || code === tab;
}

function skipBlanks(text: string, at: number, end: number): number {
	while (at < end && isBlank(text.charCodeAt(at))) {
		at++;
	}

	return at;
}

function readSampleLine(text: string, start: number, end: number, wanted: ReadonlySet<string>): {name: string; sample: Sample} | undefined {
	let at = skipBlanks(text, start, end);
	if (at === end || text.charCodeAt(at) === hash) {
		return undefined;
	}

	const nameStart = at;
	while (at < end) {
		const code = text.charCodeAt(at);
		if (code === openBrace || isBlank(code)) {
			break;
		}

		at++;
	}

	const name = text.slice(nameStart, at);
	if (!wanted.has(name)) {
		return undefined;
	}

	at = skipBlanks(text, at, end);
	const labels: Record<string, string> = Object.create(null) as Record<string, string>;
	if (at < end && text.charCodeAt(at) === openBrace) {
		const afterLabels = readLabels(text, at + 1, end, labels);
		if (afterLabels === undefined) {
			return undefined;
		}

		at = skipBlanks(text, afterLabels, end);
	}

	const valueStart = at;
	while (at < end && !isBlank(text.charCodeAt(at))) {
		at++;
	}

	const value = parseValue(text.slice(valueStart, at));
	if (value === undefined) {
		return undefined;
	}

	at = skipBlanks(text, at, end);
	if (at < end) {
		// Only a timestamp (integer milliseconds) may follow the value; anything else means the line was misread.
		if (!/^-?\d+$/.test(text.slice(at, end).trimEnd())) {
			return undefined;
		}
	}

	return {name, sample: {labels, value}};
}

/** Fills `labels` from `name="value",…}` starting just after the `{`; the index after `}`, or undefined if malformed. */
function readLabels(text: string, at: number, end: number, labels: Record<string, string>): number | undefined {
	for (;;) {
		at = skipBlanks(text, at, end);
		if (at >= end) {
			return undefined;
		}

		if (text.charCodeAt(at) === closeBrace) {
			return at + 1;
		}

		const nameStart = at;
		while (at < end) {
			const code = text.charCodeAt(at);
			if (code === equals || isBlank(code)) {
				break;
			}

			at++;
		}

		const labelName = text.slice(nameStart, at);
		at = skipBlanks(text, at, end);
		if (labelName === '' || text.charCodeAt(at) !== equals) {
			return undefined;
		}

		at = skipBlanks(text, at + 1, end);
		if (text.charCodeAt(at) !== quote) {
			return undefined;
		}

		const valueEnd = closingQuote(text, at + 1, end);
		if (valueEnd === undefined) {
			return undefined;
		}

		labels[labelName] = unescapeLabelValue(text.slice(at + 1, valueEnd));
		at = skipBlanks(text, valueEnd + 1, end);
		if (text.charCodeAt(at) === comma) {
			at++;
		} else if (text.charCodeAt(at) !== closeBrace) {
			return undefined;
		}
	}
}

function closingQuote(text: string, at: number, end: number): number | undefined {
	while (at < end) {
		const code = text.charCodeAt(at);
		if (code === quote) {
			return at;
		}

		at += code === backslash ? 2 : 1;
	}

	return undefined;
}

function unescapeLabelValue(raw: string): string {
	if (!raw.includes('\\')) {
		return raw;
	}

	// The format defines \\, \" and \n; any other backslash is kept as written.
	return raw.replaceAll(/\\([\\"n])/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped));
}

/** A sample value as Go's ParseFloat takes it: Python's float repr, plus `+Inf`, `-Inf` and `NaN` in any case. */
export function parseValue(token: string): number | undefined {
	if (token === '') {
		return undefined;
	}

	const value = Number(token);
	if (!Number.isNaN(value)) {
		return value;
	}

	switch (token.toLowerCase()) {
		case 'nan': {
			return Number.NaN;
		}

		case '+inf':
		case 'inf': {
			return Number.POSITIVE_INFINITY;
		}

		case '-inf': {
			return Number.NEGATIVE_INFINITY;
		}

		default: {
			return undefined;
		}
	}
}
