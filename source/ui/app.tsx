import {useApp, useInput, type Key} from 'ink';
import {useMemo} from 'react';
import {readDuration} from '../config/values.js';
import type {Clock} from '../util/clock.js';
import {BackendTable} from './components/backend-table.js';
import {DetailPane} from './components/detail-pane.js';
import {Footer} from './components/footer.js';
import {GpuStrip, gpuStrip} from './components/gpu-strip.js';
import {Header} from './components/header.js';
import {Help} from './components/help.js';
import {Line} from './components/line.js';
import {filterEntries, LogPane} from './components/log-pane.js';
import {StatusLine, type Dialog} from './components/status-line.js';
import {backendTable} from './format/backend-table.js';
import {useConsole} from './hooks/use-console.js';
import {useNow} from './hooks/use-now.js';
import {useTerminalSize} from './hooks/use-terminal-size.js';
import {useView} from './hooks/use-view.js';
import type {ConsoleStore} from './state/console-store.js';
import type {LogEntry} from './state/log-entries.js';
import {isIdle, isMoving, type BackendRow} from './state/rows.js';

export interface AppProps {
	store: ConsoleStore;
	clock: Clock;
	/** The address given to `switchboard attach`; undefined in switchboard's own process. */
	attachedTo?: string | undefined;
	/** What quitting does (stop every model, or only detach); resolves when it is done. */
	quit: () => Promise<void>;
}

/** Lines the log pane gets at most when the terminal is tall enough. */
const paneLines = 15;

/** The console: header, backends table, a log or detail pane, the status line and the keys. */
export function App({store, clock, attachedTo, quit}: AppProps) {
	const state = useConsole(store);
	const {columns: width, rows: height} = useTerminalSize();
	const spinning = state.rows.some(row => isMoving(row));
	const now = useNow(clock, spinning ? 250 : 1000);
	const {exit} = useApp();

	const {view, latest, update} = useView();

	const rowsFor = (filter: string) => filter === '' ? state.rows : state.rows.filter(row => row.model.toLowerCase().includes(filter.toLowerCase()));
	const rows = useMemo(() => rowsFor(view.filter), [state.rows, view.filter]);
	const logs = useMemo(() => filterEntries(state.logs, view.filter), [state.logs, view.filter]);
	const gpuLines = useMemo(() => gpuStrip(state.gpu, state.gpuHolders, width), [state.gpu, state.gpuHolders, width]);
	const body = Math.max(2, height - 5 - gpuLines.length);
	const layout = (shown: readonly BackendRow[]) => {
		const tableHeight = Math.min(Math.max(1, shown.length), Math.max(1, body - Math.min(paneLines, Math.max(3, Math.floor(body / 2)))));
		return {tableHeight, paneHeight: Math.max(0, body - tableHeight)};
	};

	const {tableHeight, paneHeight} = layout(rows);
	const selectedIndex = indexOf(rows, view.selectedKey);
	const selected = selectedIndex === undefined ? undefined : rows[selectedIndex];
	const scroll = linesBelow(logs, view.logAnchor, paneHeight);
	const selectedModel = view.pane === 'detail' ? selected?.model : undefined;
	// Only while the details show, and once per change of the log or the selection, not per frame.
	const selectedLogs = useMemo(() => selectedModel === undefined ? [] : state.logs.filter(entry => entry.model === selectedModel), [state.logs, selectedModel]);
	const table = backendTable(rows, width, {now, frame: Math.floor(now / 250)});

	const leave = () => {
		update({quitting: true, dialog: undefined});
		store.toast(store.remote ? 'Detaching…' : 'Stopping every model, then quitting… (Ctrl-C again leaves them to the reaper)', 'info', false);
		void quit().finally(() => {
			exit();
		});
	};

	const askToQuit = () => {
		const running = runningModels(state.rows);
		if (store.remote || running.models.length === 0) {
			leave();
			return;
		}

		const jobs = running.jobs === 0 ? '' : ` (${running.jobs} SLURM job${running.jobs === 1 ? '' : 's'})`;
		update({dialog: {kind: 'confirm', question: `Quit and stop ${running.models.join(', ')}${jobs}?`, yes: leave}});
	};

	const act = (row: BackendRow, key: string) => {
		const path = `/models/${encodeURIComponent(row.model)}`;
		switch (key) {
			case 's': {
				if (row.group === undefined) {
					void store.command('POST', `${path}/start`, undefined, {doing: `Starting ${row.model}…`, done: `${row.model} is ready.`});
				} else {
					void store.command('POST', '/switch', {model: row.model}, {doing: `Switching group ${row.group} to ${row.model}…`, done: `${row.model} is ready.`});
				}

				return;
			}

			case 'x': {
				update({dialog: {kind: 'confirm', question: `Stop ${row.model}?`, yes() {
					void store.command('POST', `${path}/stop`, undefined, {doing: `Stopping ${row.model}…`, done: `${row.model} stopped.`});
				}}});
				return;
			}

			case 'r': {
				const restart = () => {
					void store.command('POST', `${path}/restart`, undefined, {doing: `Restarting ${row.model}…`, done: `${row.model} restarted and ready.`});
				};

				if (isIdle(row)) {
					restart();
				} else {
					update({dialog: {kind: 'confirm', question: `Restart ${row.model}? Requests in flight are cut.`, yes: restart}});
				}

				return;
			}

			case 't': {
				update({dialog: {kind: 'input', purpose: 'idle', model: row.model, text: durationText(row.idleTimeoutMs), error: undefined}});
				break;
			}

			default:
		}
	};

	const submit = (current: Dialog & {kind: 'input'}) => {
		if (current.purpose === 'filter') {
			update({filter: current.text.trim(), dialog: undefined});
			return;
		}

		const text = current.text.trim();
		let value: string | null = null;
		let never = false;
		if (text !== '') {
			const reading = readDuration(text, {zeroMeans: 'never'});
			if ('expected' in reading) {
				// Without mustBe's "(got …)": the text is right there, and the reason needs the room.
				update({dialog: {...current, error: `must be ${reading.expected}${reading.note ? `; ${reading.note}` : ''}`}});
				return;
			}

			value = text;
			never = reading.value === 0;
		}

		update({dialog: undefined});
		const model = current.model!;
		void store.command('PUT', `/models/${encodeURIComponent(model)}/idle-timeout`, {idle_timeout: value}, {
			doing: `Setting ${model}'s idle timeout…`,
			done: value === null ? `${model}'s idle timeout is back to the configured one.` : never ? `${model} now never stops for want of requests.` : `${model} now stops after ${value} without requests.`,
		});
	};

	const handleKey = (input: string, key: Key) => {
		const current = latest();
		if (key.ctrl && input === 'c') {
			if (current.quitting) {
				// A second Ctrl-C: leave now; the reaper stops what is left.
				process.exit(130);
			}

			leave();
			return;
		}

		if (current.quitting) {
			return;
		}

		const {dialog} = current;
		if (dialog?.kind === 'confirm') {
			if (input === 'y' || input === 'Y') {
				update({dialog: undefined});
				dialog.yes();
			} else if (input === 'n' || input === 'N' || key.escape || key.return) {
				update({dialog: undefined});
			}

			return;
		}

		if (dialog?.kind === 'input') {
			if (key.escape) {
				update({dialog: undefined});
				return;
			}

			// Keys typed fast or pasted arrive as one chunk ("ab\r"): each character is a key.
			let {text} = dialog;
			for (const character of key.return ? '\r' : key.backspace || key.delete ? '\u007F' : input) {
				if (character === '\r') {
					submit({...dialog, text});
					return;
				}

				text = character === '\u007F' || character === '\b' ? text.slice(0, -1) : character >= ' ' ? text + character : text;
			}

			update({dialog: {...dialog, text, error: undefined}});
			return;
		}

		if (current.help) {
			if (key.escape || input === '?' || input === 'q') {
				update({help: false});
			}

			return;
		}

		// What the screen shows after every key so far, drawn or not.
		const shownRows = rowsFor(current.filter);
		const {tableHeight: rowsShown, paneHeight: linesShown} = layout(shownRows);
		const shownLogs = filterEntries(state.logs, current.filter);
		const maxScroll = Math.max(0, shownLogs.length - linesShown);
		const at = indexOf(shownRows, current.selectedKey) ?? 0;
		const scrolled = linesBelow(shownLogs, current.logAnchor, linesShown);
		const select = (index: number) => {
			update({selectedKey: shownRows[Math.max(0, Math.min(shownRows.length - 1, index))]?.key});
		};

		/** Shows the pane `lines` up from the newest line; 0 follows new lines. */
		const scrollTo = (lines: number) => {
			const up = Math.max(0, Math.min(maxScroll, lines));
			update({logAnchor: up === 0 ? undefined : shownLogs[shownLogs.length - 1 - up]?.id});
		};

		const inLogs = current.focus === 'pane' && current.pane === 'logs';
		if (key.upArrow || input === 'k') {
			if (inLogs) {
				scrollTo(scrolled + 1);
			} else {
				select(at - 1);
			}
		} else if (key.downArrow || input === 'j') {
			if (inLogs) {
				scrollTo(scrolled - 1);
			} else {
				select(at + 1);
			}
		} else if (key.pageUp) {
			if (inLogs) {
				scrollTo(scrolled + linesShown);
			} else {
				select(at - rowsShown);
			}
		} else if (key.pageDown) {
			if (inLogs) {
				scrollTo(scrolled - linesShown);
			} else {
				select(at + rowsShown);
			}
		} else if (key.return) {
			update({pane: current.pane === 'detail' ? 'logs' : 'detail'});
		} else if (key.tab) {
			update({focus: current.focus === 'table' ? 'pane' : 'table'});
		} else if (key.escape) {
			update(current.filter === '' ? {pane: 'logs', focus: 'table'} : {filter: ''});
		} else if (input === 'l') {
			update({pane: 'logs', focus: 'pane'});
		} else if (input === 'f') {
			// Following: stay on the lines shown now; else follow again.
			update({logAnchor: current.logAnchor === undefined ? shownLogs.at(-1)?.id : undefined});
		} else if (input === 'G') {
			scrollTo(0);
		} else if (input === 'g') {
			scrollTo(maxScroll);
		} else if (input === '/') {
			update({dialog: {kind: 'input', purpose: 'filter', model: undefined, text: current.filter, error: undefined}});
		} else if (input === '?') {
			update({help: true});
		} else if (input === 'q') {
			askToQuit();
		} else if ((input === 's' || input === 'x' || input === 'r' || input === 't') && !inLogs) {
			// Not while the keys scroll the logs: the selection is not shown then.
			const row = shownRows[at];
			if (row) {
				act(row, input);
			}
		}
	};

	useInput((input, key) => {
		// Keys typed fast, held, or sent over a slow link arrive as one chunk ("jjj"): each is a key.
		const chunk = input.length > 1 && !key.ctrl && !key.meta && latest().dialog?.kind !== 'input' && !input.includes('\u001B');
		if (!chunk) {
			handleKey(input, key);
			return;
		}

		for (const character of input) {
			handleKey(character === '\r' ? '' : character, {...key, return: character === '\r', tab: character === '\t'});
		}
	});

	const {pane, focus, filter, dialog, help} = view;
	const paneTitle = pane === 'detail' && selected
		? `${selected.model}${selected.replica === undefined ? '' : ` #${selected.replica}`} · details (enter: back to logs)`
		: `logs${view.logAnchor === undefined ? ' · following' : ` · scrolled ${scroll} up (f follows)`}${filter === '' ? '' : ` · filter “${filter}”`}`;
	return (
		<>
			<Header state={state} now={now} width={width} attachedTo={attachedTo}/>
			<GpuStrip lines={gpuLines}/>
			{help ? <Help width={width} height={body + 2}/> : (
				<>
					<BackendTable table={table} selected={selectedIndex} height={tableHeight} focused={focus === 'table'} filter={filter}/>
					<Line cells={[{text: rule(` ${paneTitle} `, width), dim: focus !== 'pane', bold: focus === 'pane'}]}/>
					{pane === 'detail'
						? <DetailPane row={selected} history={selected && state.history.get(selected.key)} entries={selectedLogs} now={now} width={width} height={paneHeight}/>
						: <LogPane entries={logs} width={width} height={paneHeight} scroll={scroll}/>}
				</>
			)}
			<StatusLine dialog={dialog} toast={state.toast} trouble={state.trouble} width={width}/>
			<Footer focus={focus === 'pane' && pane === 'logs' ? 'logs' : 'table'} width={width}/>
		</>
	);
}

/** A duration as the idle timeout dialog starts with it, in the largest whole unit: 30m, 90s, 2h, 0. */
function durationText(ms: number): string {
	if (ms % 3_600_000 === 0 && ms > 0) {
		return `${ms / 3_600_000}h`;
	}

	return ms % 60_000 === 0 && ms > 0 ? `${ms / 60_000}m` : `${ms / 1000}${ms === 0 ? '' : 's'}`;
}

/** Lines below the log pane's bottom: they grow as lines come, so that what is shown stays put. */
function linesBelow(logs: readonly LogEntry[], anchor: number | undefined, height: number): number {
	return anchor === undefined ? 0 : Math.min(Math.max(0, logs.length - height), logs.length - 1 - logs.findLastIndex(entry => entry.id <= anchor));
}

/**
 * Where the row with `key` is; when it is gone (its replica stopped), its model's first row, else
 * the first row; undefined when there are none.
 */
function indexOf(rows: readonly BackendRow[], key: string | undefined): number | undefined {
	if (rows.length === 0) {
		return undefined;
	}

	const exact = rows.findIndex(row => row.key === key);
	const model = key?.slice(0, key.lastIndexOf('#'));
	return exact === -1 ? Math.max(0, rows.findIndex(row => row.model === model)) : exact;
}

/** `──── title ────` across `width` columns. */
function rule(title: string, width: number): string {
	const left = 2;
	return '─'.repeat(left) + title + '─'.repeat(Math.max(0, width - left - title.length));
}

/** The models quitting would stop, and how many SLURM jobs they hold. */
function runningModels(rows: readonly BackendRow[]): {models: string[]; jobs: number} {
	const up = rows.filter(row => row.launcher !== 'static' && !isIdle(row));
	return {models: [...new Set(up.map(row => row.model))], jobs: up.filter(row => row.job).length};
}
