export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ServerConfig {
	/** Interface the proxy listens on. */
	host: string;
	port: number;
	/** Bearer keys accepted on /v1/* (empty: no auth). */
	apiKeys: string[];
	/** Where each backend start writes its log file. */
	logDir: string;
	/** Largest request body the proxy accepts, in bytes. */
	maxBodyBytes: number;
	logLevel: LogLevel;
	/** JSON log lines (pino) instead of human text. */
	jsonLogs: boolean;
}

export interface StaticBackend {
	/** Base URL, e.g. http://10.0.0.5:8000 (requests keep their /v1/... path). */
	url: string;
	/** How many requests it serves at once, relative to the others: routing weighs by it. */
	capacity: number;
}

export interface ModelConfig {
	/** The name clients use and switchboard shows. */
	name: string;
	/** The name the backend itself serves, when known; readiness checks that it lists it. */
	servedName: string | undefined;
	/** `local`: switchboard runs `command`; `static`: servers someone else runs, at `backends`. */
	launcher: 'local' | 'static';
	/** The server command, with optional `{host}` and `{port}` placeholders (empty for static). */
	command: string[];
	/** The servers of a static model (empty for local). */
	backends: StaticBackend[];
	/** Interface the backend binds to. */
	host: string;
	/** A fixed backend port; otherwise the first free one from `portBase` up. */
	port: number | undefined;
	portBase: number;
	/** Readiness: this path answers 200. */
	pingPath: string;
	/** Stop after this long without requests; 0 = never. */
	idleTimeoutMs: number;
	startupTimeoutMs: number;
	/** SIGTERM → SIGKILL grace when stopping. */
	stopGraceMs: number;
	/** Requests held while the model loads. */
	maxQueue: number;
	/** How long a held request waits before 503. */
	maxWaitMs: number;
	env: Record<string, string>;
}

export interface Config {
	server: ServerConfig;
	models: ModelConfig[];
	/** How often the file this came from is checked for edits, when the file says (servers.toml's config_reload_interval). */
	reloadIntervalMs?: number | undefined;
}
