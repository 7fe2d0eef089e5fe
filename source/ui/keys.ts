/** Every key of the console, as the footer and the help show them (one list, so neither forgets one). */
export interface KeyHelp {
	keys: string;
	/** In the footer, short. */
	label: string;
	/** In the help, a sentence. */
	help: string;
	/** Shown in the footer when this pane has the keys. */
	footer?: 'table' | 'logs';
}

export const keyMap: readonly KeyHelp[] = [
	{keys: '↑↓ j k', label: 'select', help: 'select a backend (in the log pane: scroll)', footer: 'table'},
	{keys: '↑↓ j k', label: 'scroll', help: '', footer: 'logs'},
	{keys: 'enter', label: 'detail', help: 'details of the selected backend: graphs of its last minutes and its log', footer: 'table'},
	{keys: 's', label: 'start', help: 'start the selected model (a model in a group is switched to: the others of its group stop)', footer: 'table'},
	{keys: 'x', label: 'stop', help: 'stop the selected model (asks first)', footer: 'table'},
	{keys: 'r', label: 'restart', help: 'restart the selected model (asks first when it runs)', footer: 'table'},
	{keys: 't', label: 'idle', help: 'set the selected model\'s idle timeout (30m, 90s, 0 = never, empty = as configured)', footer: 'table'},
	{keys: 'f', label: 'follow', help: 'in the log pane: follow new lines, or stay where you scrolled', footer: 'logs'},
	{keys: 'g G', label: 'top/end', help: 'in the log pane: the oldest line kept, the newest', footer: 'logs'},
	{keys: 'l', label: 'logs', help: 'show the log pane and move the keys there', footer: 'table'},
	{keys: '/', label: 'filter', help: 'filter the table by model and the logs by text (esc clears it)'},
	{keys: 'tab', label: 'pane', help: 'move the keys between the table and the pane below it'},
	{keys: 'esc', label: 'back', help: 'close a dialog, the help or the details; clear the filter'},
	{keys: '?', label: 'help', help: 'this help'},
	{keys: 'q', label: 'quit', help: 'quit (asks first when quitting would stop models or SLURM jobs); Ctrl-C quits without asking'},
];
