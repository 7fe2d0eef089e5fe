/** Everything a launcher needs to bring one backend to life. */
export interface LaunchSpec {
	model: string;
	/** The command with `{host}`/`{port}` already substituted. */
	command: string[];
	host: string;
	port: number;
	pingPath: string;
	/** When known, readiness also requires `/v1/models` to list this name. */
	expectedModel: string | undefined;
	env: Record<string, string>;
	/** The file this start's output goes to. */
	logPath: string;
	stopGraceMs: number;
}

export interface ExitInfo {
	code: number | null;
	signal: string | null;
	/** Why it ended, in words: "exited with code 1", "could not start: …". */
	description: string;
}

/** How an instance tells its owner what happened. Each is called at most once, `onExit` last. */
export interface InstanceListener {
	onLog(line: string): void;
	onReady(): void;
	onExit(info: ExitInfo): void;
}

/** A running backend. */
export interface Instance {
	readonly pid: number | undefined;
	readonly url: string;
	/** Ends it and everything it started; resolves once they are gone. */
	stop(): Promise<void>;
}

export type Launch = (spec: LaunchSpec, listener: InstanceListener) => Instance;
