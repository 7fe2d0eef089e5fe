import type {History} from '../state/console-store.js';
import type {LogEntry} from '../state/log-entries.js';
import type {BackendRow} from '../state/rows.js';
import {compact, fit, fitCells, millis, sparkline, span} from '../format/text.js';
import type {Cell} from '../theme.js';
import {Line} from './line.js';
import {LogPane} from './log-pane.js';

export interface DetailPaneProps {
	row: BackendRow | undefined;
	history: History | undefined;
	/** The row's model's log lines. */
	entries: readonly LogEntry[];
	now: number;
	width: number;
	height: number;
}

const labelWidth = 7;

/** The selected backend: where it runs, sparklines of its last minutes, and its last log lines. */
export function DetailPane({row, history, entries, now, width, height}: DetailPaneProps) {
	if (!row) {
		return <LogPane entries={[]} width={width} height={height} scroll={0}/>;
	}

	const lines: Cell[][] = [facts(row, now), where(row)];
	const graphWidth = Math.max(10, width - labelWidth - 10);
	if (history) {
		lines.push(
			graph('req/s', sparkline(history.requestsPerSecond, graphWidth), compact(row.requestsPerSecond)),
			graph('p50', sparkline(history.latencyP50Ms, graphWidth), millis(row.latencyP50Ms)),
			graph('KV %', sparkline(history.kvPercent, graphWidth, 100), row.kvPercent === undefined ? '–' : `${Math.round(row.kvPercent)}%`),
		);
	} else {
		lines.push([{text: 'No figures while it does not run; the graphs start when it serves.', dim: true}]);
	}

	const shown = lines.slice(0, height);
	return (
		<>
			{shown.map((cells, index) => <Line key={index} cells={fitCells(cells, width)}/>)}
			<LogPane entries={entries} width={width} height={Math.max(0, height - shown.length)} scroll={0}/>
		</>
	);
}

function facts(row: BackendRow, now: number): Cell[] {
	const since = row.since === undefined ? '' : ` for ${span(now - row.since)}`;
	return [
		{text: `${row.model}${row.replica === undefined ? '' : ` #${row.replica}`}`, bold: true},
		{text: `  ${row.state}${since}`},
		{text: row.reason ? `  ${row.reason}` : '', color: row.state === 'failed' || row.state === 'restarting' ? 'red' : 'yellow'},
		{text: row.idleStopAt === undefined ? '' : `  idle stop in ${span(row.idleStopAt - now)}`, dim: true},
		{text: `  idle timeout ${row.idleTimeoutMs === 0 ? 'never' : span(row.idleTimeoutMs)}`, dim: true},
	];
}

function where(row: BackendRow): Cell[] {
	const job = row.job ? `job ${row.job.id ?? '(submitting)'} ${row.job.state}${row.job.node ? ` on ${row.job.node}` : ''}  ` : '';
	const pid = row.pid === undefined ? '' : `pid ${row.pid}  `;
	const gpus = row.gpus.length === 0 ? '' : `GPU ${row.gpus.join(',')}  `;
	return [
		{text: `${row.launcher}  ${job}${pid}${gpus}`},
		{text: row.url ?? '', color: 'cyan'},
		{text: row.logPath ? `  log ${row.logPath}` : '', dim: true},
	];
}

function graph(label: string, line: string, value: string): Cell[] {
	return [{text: fit(label, labelWidth), dim: true}, {text: line, color: 'cyan'}, {text: ' ' + value}];
}
