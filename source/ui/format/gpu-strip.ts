import type {GpuReading} from '../gpu/nvidia-smi.js';
import type {Cell, Color} from '../theme.js';
import {displayWidth} from './text.js';

/** Busy enough to be why requests queue. */
const busyPercent = 90;
/** Too full for another backend to load (vLLM alone takes 90% by default). */
const fullMemoryShare = 0.95;
const gap = '  ';
const maxLines = 2;

/** How much of a GPU is shown. */
interface Detail {
	/** `GPU0`, or a bare `0` when space is short. */
	idPrefix: 'GPU' | '';
	name: 'long' | 'short' | 'none';
	barWidth: number;
	memory: 'used/total' | 'used' | 'none';
	/** Holder labels are cut to this many columns. */
	holderWidth: number;
}

/** From most to least; utilisation and the holder stay to the end. */
const details: readonly Detail[] = [
	{idPrefix: 'GPU', name: 'long', barWidth: 10, memory: 'used/total', holderWidth: Number.POSITIVE_INFINITY},
	{idPrefix: 'GPU', name: 'short', barWidth: 5, memory: 'used/total', holderWidth: Number.POSITIVE_INFINITY},
	{idPrefix: 'GPU', name: 'none', barWidth: 5, memory: 'used/total', holderWidth: Number.POSITIVE_INFINITY},
	{idPrefix: 'GPU', name: 'none', barWidth: 0, memory: 'used/total', holderWidth: 12},
	{idPrefix: '', name: 'none', barWidth: 0, memory: 'used', holderWidth: 10},
	{idPrefix: '', name: 'none', barWidth: 0, memory: 'none', holderWidth: 8},
];

/**
 * The GPU strip: each GPU's utilisation, memory and the local backend holding it (`holders`, by
 * CUDA_VISIBLE_DEVICES index), in columns, in at most two lines of at most `width` columns. One
 * line while it keeps every number; then two, losing detail rather than taking a third.
 */
export function gpuStripLines(readings: readonly GpuReading[], holders: ReadonlyMap<string, string>, width: number): Cell[][] {
	if (readings.length === 0) {
		return [];
	}

	const oneLine = details.filter(detail => detail.memory === 'used/total').map(detail => ({detail, lines: 1}));
	const twoLines = details.map(detail => ({detail, lines: maxLines}));
	for (const {detail, lines} of [...oneLine, ...twoLines]) {
		const table = layOut(gpuCells(readings, holders, detail), Math.ceil(readings.length / lines));
		if (table.width <= width) {
			return table.lines;
		}
	}

	// Too many GPUs, or too narrow a terminal, even for that: cut what does not fit.
	const leanest = {...details.at(-1)!, holderWidth: 1};
	return layOut(gpuCells(readings, holders, leanest), Math.ceil(readings.length / maxLines)).lines.map(line => cutCells(line, width));
}

/** GPUs in rows of `perLine`, each column as wide as its widest GPU; `width` is the widest row's. */
function layOut(gpus: readonly Cell[][], perLine: number): {lines: Cell[][]; width: number} {
	const gpuWidths = gpus.map(cells => lineWidth(cells));
	const columnWidths = Array.from({length: perLine}, () => 0);
	for (const [index, gpuWidth] of gpuWidths.entries()) {
		columnWidths[index % perLine] = Math.max(columnWidths[index % perLine]!, gpuWidth);
	}

	const lines: Cell[][] = [];
	for (let start = 0; start < gpus.length; start += perLine) {
		const row = gpus.slice(start, start + perLine);
		lines.push(row.flatMap((cells, column) => column === row.length - 1
			? cells
			: [...cells, {text: ' '.repeat(columnWidths[column]! - gpuWidths[start + column]!) + gap}]));
	}

	return {lines, width: columnWidths.reduce((sum, columnWidth) => sum + columnWidth, 0) + (gap.length * (perLine - 1))};
}

/** Each GPU's fields, separated by a space, each padded to its widest over all GPUs (but the holder, which is last). */
function gpuCells(readings: readonly GpuReading[], holders: ReadonlyMap<string, string>, detail: Detail): Cell[][] {
	const gpus = readings.map(reading => gpuFields(reading, holders.get(reading.index), detail));
	const fieldWidths = gpus[0]!.map((_, field) => Math.max(...gpus.map(fields => displayWidth(fields[field]!.text))));
	return gpus.map(fields => fields
		.map((cell, field) => field === fields.length - 1 ? cell : {...cell, text: padEnd(cell.text, fieldWidths[field]!)})
		.filter(cell => cell.text !== '')
		.flatMap((cell, field) => field === 0 ? [cell] : [{text: ' '}, cell]));
}

/** One GPU's fields: id, name, bar, utilisation, memory, holder; those not shown are empty. */
function gpuFields(reading: GpuReading, holder: string | undefined, detail: Detail): Cell[] {
	const {utilizationPercent: utilization, memoryUsedMiB: used, memoryTotalMiB: total} = reading;
	const idle = utilization === 0;
	const busy: Color | undefined = utilization !== undefined && utilization >= busyPercent ? 'yellow' : undefined;
	const full = used !== undefined && total !== undefined && total > 0 && used / total >= fullMemoryShare;
	return [
		{text: detail.idPrefix + reading.index, dim: idle},
		{text: detail.name === 'none' ? '' : shortName(reading.name, detail.name), dim: idle},
		{text: bar(utilization, detail.barWidth), color: busy, dim: idle || utilization === undefined},
		{text: (utilization === undefined ? '?%' : `${Math.round(utilization)}%`).padStart(4), color: busy, dim: idle},
		{text: memoryText(used, total, detail.memory), color: full ? 'red' : undefined, dim: idle && !full},
		{text: holder === undefined ? '' : cutText(holder, detail.holderWidth), color: 'cyan'},
	];
}

/** "NVIDIA A100-SXM4-80GB" → "A100-SXM4-80GB" (long) or "A100" (short: the first word with a digit). */
export function shortName(name: string, length: 'long' | 'short'): string {
	const long = name.replace(/^NVIDIA\s+/i, '');
	const words = long.split(/[\s-]+/).filter(Boolean);
	return length === 'long' ? long : words.find(word => /\d/.test(word)) ?? words[0] ?? long;
}

function bar(percent: number | undefined, width: number): string {
	if (width === 0) {
		return '';
	}

	const filled = percent === undefined ? 0 : Math.round(Math.min(Math.max(percent, 0), 100) / 100 * width);
	return `▕${'█'.repeat(filled)}${'▁'.repeat(width - filled)}▏`;
}

function memoryText(usedMiB: number | undefined, totalMiB: number | undefined, shown: Detail['memory']): string {
	const gib = (mib: number | undefined) => mib === undefined ? '?' : String(Math.round(mib / 1024));
	if (shown === 'none' || usedMiB === undefined && (shown === 'used' || totalMiB === undefined)) {
		return '';
	}

	// Right-aligned, so that " 4/80G" sits under "61/80G".
	return shown === 'used' ? `${gib(usedMiB).padStart(2)}G` : `${gib(usedMiB).padStart(gib(totalMiB).length)}/${gib(totalMiB)}G`;
}

function lineWidth(cells: readonly Cell[]): number {
	return cells.reduce((sum, cell) => sum + displayWidth(cell.text), 0);
}

function padEnd(text: string, width: number): string {
	return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/** `text` in at most `width` columns, ending in … when cut. */
function cutText(text: string, width: number): string {
	if (displayWidth(text) <= width) {
		return text;
	}

	let cut = '';
	for (const character of text) {
		if (displayWidth(`${cut}${character}…`) > width) {
			break;
		}

		cut += character;
	}

	return width < 1 ? '' : `${cut}…`;
}

function cutCells(cells: readonly Cell[], width: number): Cell[] {
	const kept: Cell[] = [];
	let left = width;
	for (const cell of cells) {
		const text = cutText(cell.text, left);
		kept.push({...cell, text});
		left -= displayWidth(text);
		if (text !== cell.text) {
			break;
		}
	}

	return kept;
}
