import {useApp, useInput} from 'ink';
import {useMemo, useState, type ReactNode} from 'react';
import {readDuration} from '../config/values.js';
import type {Clock} from '../util/clock.js';
import {BackendTable} from './components/backend-table.js';
import {DetailPane} from './components/detail-pane.js';
import {Footer} from './components/footer.js';
import {Header} from './components/header.js';
import {Help} from './components/help.js';
import {Line} from './components/line.js';
import {filterEntries, LogPane} from './components/log-pane.js';
import {StatusLine, type Dialog} from './components/status-line.js';
import {backendTable} from './format/backend-table.js';
import {useConsole} from './hooks/use-console.js';
import {useNow} from './hooks/use-now.js';
import {useTerminalSize} from './hooks/use-terminal-size.js';
import type {ConsoleStore} from './state/console-store.js';
import type {BackendRow} from './state/rows.js';

export interface AppProps {
	store: ConsoleStore;
	clock: Clock;
	/** The address given to `switchboard attach`; undefined in switchboard's own process. */
	attachedTo?: string | undefined;
	/** What quitting does (stop every model, or only detach); resolves when it is done. */
	quit: () => Promise<void>;
	/** Lines shown under the header (the GPU strip), given the width. */
	strip?: ((width: number) => ReactNode) | undefined;
	/** How many lines `strip` takes. */
	stripHeight?: number;
}

type Pane = 'logs' | 'detail';
type Focus = 'table' | 'pane';

const movingStates = new Set(['loading', 'queued', 'restarting', 'stopping', 'draining']);
const idleStates = new Set(['stopped', 'failed', 'waiting']);
/** Lines the log pane gets at most when the terminal is tall enough. */
const paneLines = 15;

/** The console: header, backends table, a log or detail pane, the status line and the keys. */
export function App({store, clock, attachedTo, quit, strip, stripHeight = 0}: AppProps) {
	const state = useConsole(store);
	const {columns: width, rows: height} = useTerminalSize();
	const spinning = state.rows.some(row => movingStates.has(row.state));
	const now = useNow(clock, spinning ? 250 : 1000);
	const {exit} = useApp();

	const [selectedKey, setSelectedKey] = useState<string | undefined>(undefined);
	const [pane, setPane] = useState<Pane>('logs');
	const [focus, setFocus] = useState<Focus>('table');
	/** The log pane follows new lines (undefined), or keeps the line with this id at its bottom. */
	const [logAnchor, setLogAnchor] = useState<number | undefined>(undefined);
	const [filter, setFilter] = useState('');
	const [dialog, setDialog] = useState<Dialog | undefined>(undefined);
	const [help, setHelp] = useState(false);
	const [quitting, setQuitting] = useState(false);

	const rows = useMemo(() => filter === '' ? state.rows : state.rows.filter(row => row.model.toLowerCase().includes(filter.toLowerCase())), [state.rows, filter]);
	const found = rows.findIndex(row => row.key === selectedKey);
	const selectedIndex = rows.length === 0 ? undefined : Math.max(0, found);
	const selected = selectedIndex === undefined ? undefined : rows[selectedIndex];
	const logs = useMemo(() => filterEntries(state.logs, filter), [state.logs, filter]);

	const body = Math.max(2, height - 5 - stripHeight);
	const tableHeight = Math.min(Math.max(1, rows.length), Math.max(1, body - Math.min(paneLines, Math.max(3, Math.floor(body / 2)))));
	const paneHeight = Math.max(0, body - tableHeight);
	const maxScroll = Math.max(0, logs.length - paneHeight);
	// Lines below the pane's bottom: they grow as lines come, so that what is shown stays put.
	const shownScroll = logAnchor === undefined ? 0 : Math.min(maxScroll, logs.length - 1 - logs.findLastIndex(entry => entry.id <= logAnchor));
	/** Shows the pane `lines` up from the newest line; 0 follows new lines. */
	const scrollLogs = (lines: number) => {
		const up = Math.max(0, Math.min(maxScroll, lines));
		setLogAnchor(up === 0 ? undefined : logs[logs.length - 1 - up]?.id);
	};
	const table = backendTable(rows, width, {now, frame: Math.floor(now / 250)});

	const select = (index: number) => {
		const row = rows[Math.max(0, Math.min(rows.length - 1, index))];
		setSelectedKey(row?.key);
	};

	const leave = () => {
		setQuitting(true);
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
		setDialog({kind: 'confirm', question: `Quit and stop ${running.models.join(', ')}${jobs}?`, yes: leave});
	};

	const act = (row: BackendRow, key: string) => {
		const path = `/models/${encodeURIComponent(row.model)}`;
		const running = !idleStates.has(row.state);
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
				setDialog({kind: 'confirm', question: `Stop ${row.model}?`, yes() {
					void store.command('POST', `${path}/stop`, undefined, {doing: `Stopping ${row.model}…`, done: `${row.model} stopped.`});
				}});
				return;
			}

			case 'r': {
				const restart = () => {
					void store.command('POST', `${path}/restart`, undefined, {doing: `Restarting ${row.model}…`, done: `${row.model} restarted and ready.`});
				};

				if (running) {
					setDialog({kind: 'confirm', question: `Restart ${row.model}? Requests in flight are cut.`, yes: restart});
				} else {
					restart();
				}

				return;
			}

			case 't': {
				setDialog({kind: 'input', purpose: 'idle', model: row.model, text: durationText(row.idleTimeoutMs), error: undefined});
				break;
			}

			default:
		}
	};

	const submit = (current: Dialog & {kind: 'input'}) => {
		if (current.purpose === 'filter') {
			setFilter(current.text.trim());
			setDialog(undefined);
			return;
		}

		const text = current.text.trim();
		let value: string | null = null;
		if (text !== '') {
			const reading = readDuration(text, {zeroMeans: 'never'});
			if ('expected' in reading) {
				// Without mustBe's "(got …)": the text is right there, and the reason needs the room.
				setDialog({...current, error: `must be ${reading.expected}${reading.note ? `; ${reading.note}` : ''}`});
				return;
			}

			value = text;
		}

		setDialog(undefined);
		const model = current.model!;
		void store.command('PUT', `/models/${encodeURIComponent(model)}/idle-timeout`, {idle_timeout: value}, {
			doing: `Setting ${model}'s idle timeout…`,
			done: value === null ? `${model}'s idle timeout is back to the configured one.` : `${model} now stops after ${value === '0' ? 'no idle time: never' : value} without requests.`,
		});
	};

	useInput((input, key) => {
		if (key.ctrl && input === 'c') {
			if (quitting) {
				// A second Ctrl-C: leave now; the reaper stops what is left.
				process.exit(130);
			}

			leave();
			return;
		}

		if (quitting) {
			return;
		}

		if (dialog?.kind === 'confirm') {
			if (input === 'y' || input === 'Y') {
				setDialog(undefined);
				dialog.yes();
			} else if (input === 'n' || input === 'N' || key.escape || key.return) {
				setDialog(undefined);
			}

			return;
		}

		if (dialog?.kind === 'input') {
			if (key.escape) {
				setDialog(undefined);
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

			setDialog({...dialog, text, error: undefined});
			return;
		}

		if (help) {
			if (key.escape || input === '?' || input === 'q') {
				setHelp(false);
			}

			return;
		}

		const inPane = focus === 'pane' && pane === 'logs';
		if (key.upArrow || input === 'k') {
			if (inPane) {
				scrollLogs(shownScroll + 1);
			} else {
				select((selectedIndex ?? 0) - 1);
			}
		} else if (key.downArrow || input === 'j') {
			if (inPane) {
				scrollLogs(shownScroll - 1);
			} else {
				select((selectedIndex ?? 0) + 1);
			}
		} else if (key.pageUp) {
			if (inPane) {
				scrollLogs(shownScroll + paneHeight);
			} else {
				select((selectedIndex ?? 0) - tableHeight);
			}
		} else if (key.pageDown) {
			if (inPane) {
				scrollLogs(shownScroll - paneHeight);
			} else {
				select((selectedIndex ?? 0) + tableHeight);
			}
		} else if (key.return) {
			setPane(pane === 'detail' ? 'logs' : 'detail');
		} else if (key.tab) {
			setFocus(focus === 'table' ? 'pane' : 'table');
		} else if (key.escape) {
			if (filter !== '') {
				setFilter('');
			} else {
				setPane('logs');
				setFocus('table');
			}
		} else if (input === 'l') {
			setPane('logs');
			setFocus('pane');
		} else if (input === 'f') {
			// Following: stay on the lines shown now; else follow again.
			setLogAnchor(logAnchor === undefined ? logs.at(-1)?.id : undefined);
		} else if (input === 'G') {
			setLogAnchor(undefined);
		} else if (input === 'g') {
			scrollLogs(maxScroll);
		} else if (input === '/') {
			setDialog({kind: 'input', purpose: 'filter', model: undefined, text: filter, error: undefined});
		} else if (input === '?') {
			setHelp(true);
		} else if (input === 'q') {
			askToQuit();
		} else if (selected && (input === 's' || input === 'x' || input === 'r' || input === 't')) {
			act(selected, input);
		}
	});

	const paneTitle = pane === 'detail' && selected
		? `${selected.model}${selected.replica === undefined ? '' : ` #${selected.replica}`} · details (enter: back to logs)`
		: `logs${logAnchor === undefined ? ' · following' : ` · scrolled ${shownScroll} up (f follows)`}${filter === '' ? '' : ` · filter “${filter}”`}`;
	return (
		<>
			<Header state={state} now={now} width={width} attachedTo={attachedTo}/>
			{strip?.(width)}
			{help ? <Help width={width} height={body + 2}/> : (
				<>
					<BackendTable table={table} selected={selectedIndex} height={tableHeight} focused={focus === 'table'} filter={filter}/>
					<Line cells={[{text: rule(` ${paneTitle} `, width), dim: focus !== 'pane', bold: focus === 'pane'}]}/>
					{pane === 'detail'
						? <DetailPane row={selected} history={selected && state.history.get(selected.key)} entries={state.logs.filter(entry => entry.model === selected?.model)} now={now} width={width} height={paneHeight}/>
						: <LogPane entries={logs} width={width} height={paneHeight} scroll={shownScroll}/>}
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

/** `──── title ────` across `width` columns. */
function rule(title: string, width: number): string {
	const left = 2;
	return '─'.repeat(left) + title + '─'.repeat(Math.max(0, width - left - title.length));
}

/** The models quitting would stop, and how many SLURM jobs they hold. */
function runningModels(rows: readonly BackendRow[]): {models: string[]; jobs: number} {
	const up = rows.filter(row => row.launcher !== 'static' && !idleStates.has(row.state));
	return {models: [...new Set(up.map(row => row.model))], jobs: up.filter(row => row.job).length};
}
