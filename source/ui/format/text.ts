import stringWidth from 'string-width';
import type {Cell} from '../theme.js';

/**
 * ASCII and the glyphs the console draws (bars, sparklines, the spinner, `…`, `–`, `─`): one column
 * and one UTF-16 unit each, so their width is their length. string-width takes ~20 µs on any
 * other text, which made a frame cost milliseconds.
 */
const oneColumn = /^[\u0020-\u007E▁▂▃▄▅▆▇█▕▏…–─⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]*$/;

/** How many columns `text` takes on a terminal. */
export function displayWidth(text: string): number {
	return oneColumn.test(text) ? text.length : stringWidth(text);
}

/** `text` cut or padded to exactly `width` columns (a cut ends with `…`, unless `marked` is false). */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left', marked = true): string {
	if (width <= 0) {
		return '';
	}

	const simple = oneColumn.test(text);
	let shown = text;
	let size = simple ? text.length : stringWidth(text);
	if (size > width) {
		const room = marked ? width - 1 : width;
		shown = (simple ? text.slice(0, room) : cutToWidth(text, room)) + (marked ? '…' : '');
		size = displayWidth(shown);
	}

	const padding = ' '.repeat(Math.max(0, width - size));
	return align === 'left' ? shown + padding : padding + shown;
}

function cutToWidth(text: string, width: number): string {
	let cut = '';
	let size = 0;
	for (const character of text) {
		const next = stringWidth(character);
		if (size + next > width) {
			break;
		}

		cut += character;
		size += next;
	}

	return cut;
}

/** `text` in lines of at most `width` columns, broken between words (a word too long is cut). */
export function wrap(text: string, width: number): string[] {
	const lines: string[] = [];
	let line = '';
	for (const word of text.split(' ')) {
		const joined = line === '' ? word : `${line} ${word}`;
		if (line !== '' && stringWidth(joined) > width) {
			lines.push(line);
			line = word;
		} else {
			line = joined;
		}
	}

	lines.push(line);
	return lines.map(shown => stringWidth(shown) > width ? fit(shown, width) : shown);
}

/** A count or rate in at most 5 columns: 0.4, 12, 315, 1.2k, 48k. */
export function compact(value: number | undefined, decimals = 1): string {
	if (value === undefined || Number.isNaN(value)) {
		return '–';
	}

	if (value >= 10_000) {
		return `${Math.round(value / 1000)}k`;
	}

	if (value >= 1000) {
		return `${(value / 1000).toFixed(1)}k`;
	}

	return value >= 100 || Number.isInteger(value) ? String(Math.round(value)) : value.toFixed(decimals);
}

/** A latency in at most 6 columns: 850ms, 1.2s, 42s, 3m. */
export function millis(value: number | undefined): string {
	if (value === undefined) {
		return '–';
	}

	if (value < 1000) {
		return `${Math.round(value)}ms`;
	}

	if (value < 10_000) {
		return `${(value / 1000).toFixed(1)}s`;
	}

	return value < 120_000 ? `${Math.round(value / 1000)}s` : `${Math.round(value / 60_000)}m`;
}

/** Elapsed or remaining time in at most 6 columns: 9s, 4m12s, 1h05m, 3d. */
export function span(ms: number): string {
	const seconds = Math.max(0, Math.floor(ms / 1000));
	if (seconds < 60) {
		return `${seconds}s`;
	}

	const minutes = Math.floor(seconds / 60);
	if (minutes < 60) {
		return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
	}

	const hours = Math.floor(minutes / 60);
	return hours < 48 ? `${hours}h${String(minutes % 60).padStart(2, '0')}m` : `${Math.floor(hours / 24)}d`;
}

const bars = '▁▂▃▄▅▆▇█';

/** The last `width` values as a bar per value, scaled to the largest (or to `max`). */
export function sparkline(values: readonly number[], width: number, max?: number): string {
	const shown = values.slice(-width);
	const top = max ?? Math.max(0, ...shown);
	const line = shown.map(value => top <= 0 ? bars[0]! : bars[Math.min(bars.length - 1, Math.round((value / top) * (bars.length - 1)))]!).join('');
	return line.padStart(width, ' ');
}

/** Drops what does not fit in `width` columns (the line is cut, never wrapped). */
export function fitCells(cells: readonly Cell[], width: number): Cell[] {
	const fitted: Cell[] = [];
	let left = width;
	for (const cell of cells) {
		if (left <= 0) {
			break;
		}

		const text = displayWidth(cell.text) > left ? fit(cell.text, left) : cell.text;
		fitted.push({...cell, text});
		left -= displayWidth(text);
	}

	return fitted;
}
