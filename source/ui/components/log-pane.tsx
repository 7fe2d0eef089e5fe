import {memo} from 'react';
import type {LogEntry, LogLevelName} from '../state/log-entries.js';
import {fit} from '../format/text.js';
import type {Color} from '../theme.js';
import {Line} from './line.js';

/** An empty line still takes its row (Ink drops a line with no text). */
const blank = [{text: ' '}];
const levelColors: Partial<Record<LogLevelName, Color>> = {error: 'red', warn: 'yellow'};

export interface LogPaneProps {
	/** The entries to show, already filtered. */
	entries: readonly LogEntry[];
	width: number;
	height: number;
	/** Lines scrolled up from the newest (0: the newest line is at the bottom). */
	scroll: number;
}

/**
 * The last lines of switchboard's and the backends' logs, coloured by level, cut to the width
 * without a mark (as `less -S` does): a line of ASCII alone costs Ink a third less to draw.
 */
export const LogPane = memo(({entries, width, height, scroll}: LogPaneProps) => {
	const end = Math.max(0, entries.length - scroll);
	const shown = entries.slice(Math.max(0, end - height), end);
	return (
		<>
			{shown.map(entry => (
				<Line key={entry.id} cells={[{text: fit(entry.text, width, 'left', false), color: levelColors[entry.level], dim: entry.level === 'debug'}]}/>
			))}
			{Array.from({length: height - shown.length}, (_, index) => <Line key={`blank${index}`} cells={blank}/>)}
		</>
	);
});

/** The entries `filter` keeps: those of a model whose name holds it, or whose text does (case aside). */
export function filterEntries(entries: readonly LogEntry[], filter: string): readonly LogEntry[] {
	if (filter === '') {
		return entries;
	}

	const wanted = filter.toLowerCase();
	return entries.filter(entry => entry.text.toLowerCase().includes(wanted));
}
