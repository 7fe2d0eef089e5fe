import type {Toast} from '../state/console-store.js';
import {fitCells} from '../format/text.js';
import type {Cell, Color} from '../theme.js';
import {Line} from './line.js';

/** A question on the status line: y/n, or a line of text. */
export type Dialog =
	| {kind: 'confirm'; question: string; yes: () => void}
	| {kind: 'input'; purpose: 'idle' | 'filter'; model: string | undefined; text: string; error: string | undefined};

const toastColors: Record<Toast['tone'], Color | undefined> = {info: undefined, ok: 'green', error: 'red'};

export interface StatusLineProps {
	dialog: Dialog | undefined;
	toast: Toast | undefined;
	trouble: string | undefined;
	width: number;
}

/** The line above the keys: a dialog when one is open, else the last action's outcome, else trouble with the link. */
export function StatusLine({dialog, toast, trouble, width}: StatusLineProps) {
	let cells: Cell[];
	if (dialog?.kind === 'confirm') {
		cells = [{text: dialog.question, bold: true}, {text: ' [y/N] ', color: 'cyan'}];
	} else if (dialog?.kind === 'input') {
		// With an error, the error says what it takes: the short prompt leaves it the room of an 80-column line.
		const prompt = dialog.purpose === 'filter'
			? 'Filter (model or text; empty shows all): '
			: dialog.error ? 'Idle timeout: ' : `Idle timeout of ${dialog.model ?? ''} (30m, 90s, 0 = never, empty = as configured): `;
		cells = [{text: prompt, bold: true}, {text: `${dialog.text}█`}, {text: dialog.error ? `  ${dialog.error}` : '', color: 'red'}];
	} else if (toast) {
		cells = [{text: toast.text, color: toastColors[toast.tone]}];
	} else if (trouble) {
		cells = [{text: trouble, color: 'yellow'}];
	} else {
		cells = [{text: ' '}];
	}

	return <Line cells={fitCells(cells, width)}/>;
}
