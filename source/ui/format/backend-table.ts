import {isMoving, type BackendRow} from '../state/rows.js';
import type {Cell, Color} from '../theme.js';
import {compact, fit, millis, span} from './text.js';

/** What a frame knows besides the rows. */
export interface FrameContext {
	now: number;
	/** Advances a few times a second while something loads: the spinner's step. */
	frame: number;
}

interface Column {
	title: string;
	/** Columns; the model column takes what is left, between these. */
	width: number;
	align: 'left' | 'right';
	/** Narrow terminals drop the columns with the highest number first. */
	drop: number;
	/** A figure of a running backend: blank on a row that runs none. */
	live?: boolean;
	cell(row: BackendRow, context: FrameContext): Cell;
}

const spinner = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
const modelMin = 10;
const modelWanted = 20;
const modelMax = 32;

const stateColors: Record<string, Color> = {
	ready: 'green',
	loading: 'yellow',
	queued: 'yellow',
	waiting: 'yellow',
	restarting: 'red',
	failed: 'red',
	unhealthy: 'red',
	draining: 'magenta',
	stopping: 'magenta',
};

const plain = (text: string): Cell => ({text});
/** No figure: an ASCII dash (see the state's mark). */
const none = '-';
const dash = (value: number | undefined, show: (value: number) => string): Cell => value === undefined ? {text: none, dim: true} : plain(show(value));

const columns: Column[] = [
	{title: '#', width: 2, align: 'right', drop: 3, cell: row => plain(row.replica === undefined ? '' : String(row.replica))},
	{title: 'LAUNCH', width: 6, align: 'left', drop: 9, cell: row => ({text: row.launcher, dim: true})},
	{
		title: 'STATE', width: 15, align: 'left', drop: 0, cell(row, {now, frame}) {
			const moving = isMoving(row);
			const elapsed = moving && row.since !== undefined ? ` ${span(now - row.since)}` : '';
			// Only a moving state gets a glyph: a line of ASCII alone costs Ink a third less to draw.
			const mark = moving ? `${spinner[frame % spinner.length]!} ` : '';
			const color = stateColors[row.state];
			return {text: mark + row.state + elapsed, color, dim: color === undefined};
		},
	},
	{
		title: 'PID/JOB', width: 9, align: 'right', drop: 6, cell(row) {
			if (row.job) {
				return plain(row.job.id ?? 'submit…');
			}

			return row.pid === undefined ? {text: none, dim: true} : plain(String(row.pid));
		},
	},
	{title: 'NODE', width: 8, align: 'left', drop: 10, cell: row => row.job?.node ? plain(row.job.node) : {text: row.job ? (row.job.reason ?? '') : '', dim: true}},
	{title: 'PORT', live: true, width: 5, align: 'right', drop: 8, cell: row => dash(row.port, String)},
	{title: 'RUN', live: true, width: 3, align: 'right', drop: 2, cell: row => dash(row.running, String)},
	{title: 'WAIT', live: true, width: 4, align: 'right', drop: 2, cell: row => row.waiting ? {text: String(row.waiting), color: 'yellow'} : dash(row.waiting, String)},
	{title: 'KV%', live: true, width: 4, align: 'right', drop: 4, cell: row => dash(row.kvPercent, value => String(Math.round(value)))},
	{title: 'REQ/S', live: true, width: 5, align: 'right', drop: 1, cell: row => dash(row.requestsPerSecond, value => compact(value))},
	{title: 'P50', live: true, width: 6, align: 'right', drop: 5, cell: row => dash(row.latencyP50Ms, millis)},
	{title: 'P95', live: true, width: 6, align: 'right', drop: 7, cell: row => dash(row.latencyP95Ms, millis)},
	{title: 'TTFT', live: true, width: 6, align: 'right', drop: 7, cell: row => dash(row.ttftMs, millis)},
	{title: 'TOK/S', live: true, width: 5, align: 'right', drop: 5, cell: row => dash(row.tokensPerSecond, value => compact(value, 0))},
	{title: 'ERR', live: true, width: 4, align: 'right', drop: 3, cell: row => row.errors ? {text: compact(row.errors, 0), color: 'red'} : dash(row.errors, String)},
	{
		title: 'IDLE', width: 6, align: 'right', drop: 1, cell(row, {now}) {
			if (row.idleStopAt !== undefined) {
				const left = row.idleStopAt - now;
				return {text: span(left), color: left < 60_000 ? 'yellow' : undefined};
			}

			return {text: row.url !== undefined && row.idleTimeoutMs === 0 ? 'never' : none, dim: true};
		},
	},
];

/** The backends table, laid out for `width` columns: its header line and one line per row. */
export interface TableLines {
	header: Cell[];
	lines: Cell[][];
}

/**
 * Lays the rows out as pre-formatted lines (the cheapest thing Ink draws): the columns that do not fit
 * `width` are dropped, least useful first; the model column takes the room left.
 */
export function backendTable(rows: readonly BackendRow[], width: number, context: FrameContext): TableLines {
	const longestModel = Math.max(modelMin, ...rows.map(row => row.model.length + 1));
	// Names up to this long are not cut while a column of less use could go instead.
	const wantedModel = Math.min(longestModel, modelWanted);
	let shown = columns;
	const others = (set: readonly Column[]) => set.reduce((sum, column) => sum + column.width + 1, 0);
	while (shown.length > 0 && wantedModel + others(shown) > width) {
		const worst = Math.max(...shown.map(column => column.drop));
		shown = shown.filter(column => column.drop !== worst);
	}

	const modelWidth = Math.max(modelMin, Math.min(modelMax, longestModel, width - others(shown)));
	const header = [
		{text: fit('MODEL', modelWidth), bold: true},
		...shown.map(column => ({text: ' ' + fit(column.title, column.width, column.align), bold: true})),
	];
	const lines = rows.map(row => [
		{text: fit(row.model, modelWidth)},
		...shown.map(column => {
			const cell = column.live && row.url === undefined ? {text: ''} : column.cell(row, context);
			return {...cell, text: ' ' + fit(cell.text, column.width, column.align)};
		}),
	]);
	return {header, lines};
}
