import type {ConsoleState} from '../state/console-store.js';
import {compact, fitCells, span} from '../format/text.js';
import type {Cell} from '../theme.js';
import {Line} from './line.js';

export interface HeaderProps {
	state: ConsoleState;
	now: number;
	width: number;
	/** The address of the switchboard when attached to another process. */
	attachedTo: string | undefined;
}

/** switchboard's address, version, uptime and totals, on one line. */
export function Header({state, now, width, attachedTo}: HeaderProps) {
	const {about} = state;
	// Narrow terminals get the short words, so that errors and auth still fit in 80 columns.
	const narrow = width < 110;
	const address = about?.url ?? attachedTo ?? '…';
	const cells: Cell[] = [
		{text: 'switchboard', bold: true},
		{text: about && !narrow ? ` ${about.version}` : '', dim: true},
		{text: `  ${narrow ? address.replace(/^https?:\/\//, '') : address}`},
		{text: attachedTo ? ' (attached)' : '', color: 'cyan'},
		{text: about ? `  up ${span(now - about.started_at * 1000)}` : '', dim: true},
		{text: narrow ? `  ${state.modelsReady}/${state.modelsTotal} ready` : `  models ${state.modelsReady}/${state.modelsTotal} ready`},
		{text: `  ${compact(state.requestsPerSecond)} req/s`},
		{text: `  ${narrow ? 'err' : 'errors'} ${state.errors}`, color: state.errors > 0 ? 'red' : undefined},
		{text: about ? `  auth ${about.auth ? 'on' : 'off'}` : '', dim: true},
	];
	return <Line cells={fitCells(cells, width)}/>;
}
