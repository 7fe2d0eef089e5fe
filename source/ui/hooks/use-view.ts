import {useCallback, useRef, useState} from 'react';
import type {Dialog} from '../components/status-line.js';

/** What the operator chose to look at: everything on screen that is not the switchboard's state. */
export interface View {
	/** The selected row's key (BackendRow.key). */
	selectedKey: string | undefined;
	pane: 'logs' | 'detail';
	/** Which part the arrows move: the table's selection, or the log pane's scroll. */
	focus: 'table' | 'pane';
	/** The log pane follows new lines (undefined), or keeps the line with this id at its bottom. */
	logAnchor: number | undefined;
	filter: string;
	dialog: Dialog | undefined;
	help: boolean;
	quitting: boolean;
}

const initial: View = {selectedKey: undefined, pane: 'logs', focus: 'table', logAnchor: undefined, filter: '', dialog: undefined, help: false, quitting: false};

/**
 * The view, and how to change it. Keys can arrive faster than React redraws (a held key, tmux
 * send-keys): `latest()` gives the view with every change made so far, drawn or not, so that each
 * key acts on the one before it.
 */
export function useView(): {view: View; latest: () => View; update: (change: Partial<View>) => void} {
	const current = useRef(initial);
	const [view, setView] = useState(initial);
	const update = useCallback((change: Partial<View>) => {
		current.current = {...current.current, ...change};
		setView(current.current);
	}, []);
	const latest = useCallback(() => current.current, []);
	return {view, latest, update};
}
