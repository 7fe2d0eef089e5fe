export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ServerConfig {
	/** Interface the proxy listens on. */
	host: string;
	port: number;
	/** Bearer keys that may use every model. */
	apiKeys: string[];
	/** Keys that may use every model and change switchboard through the admin routes. */
	adminKeys: string[];
	/** Per-user keys of [[server.keys]]. */
	keys: UserKey[];
	/** The keys file, as read at start; the control plane reads it again whenever it changes. */
	keysFile: KeysFile | undefined;
	/** Where each backend start writes its log file. */
	logDir: string;
	/** Log files kept per model, the newest; older ones are deleted at a start (0 = keep them all). */
	logKeep: number;
	/** A running backend's log file is copied to `<file>.1` and emptied when it grows past this many bytes. */
	logMaxBytes: number;
	/** Where operator choices (pins, idle timeouts set through the API, ad-hoc models) and the SLURM jobs switchboard owns are kept across restarts. */
	stateDir: string;
	/** How often squeue is asked about switchboard's SLURM jobs while one is starting (five times slower while all are stable). */
	slurmPollMs: number;
	/** What `POST /switch {model_spec}` runs: this, then the spec's words (default `vllm serve`). */
	switchCommand: string[];
	/** Largest request body the proxy accepts, in bytes. */
	maxBodyBytes: number;
	logLevel: LogLevel;
	/** JSON log lines (pino) instead of human text. */
	jsonLogs: boolean;
	health: HealthConfig;
}

/** How backends are watched: their /metrics scraped for load, failures counted for health. */
export interface HealthConfig {
	/** False: no scraping; health comes from request outcomes (the circuit breaker) only. */
	enabled: boolean;
	intervalMs: number;
	/** A scrape slower than this counts as failed. */
	timeoutMs: number;
	/** Consecutive failed checks before a backend counts as unhealthy (one success makes it healthy again). */
	unhealthyAfter: number;
}

export type RoutingPolicy = 'least-load' | 'least-inflight' | 'round-robin' | 'random' | 'session';

export const routingPolicies: readonly RoutingPolicy[] = ['least-load', 'least-inflight', 'round-robin', 'random', 'session'];

/** How a model's requests are spread over its ready backends. */
export interface RoutingConfig {
	policy: RoutingPolicy;
	/** How many other backends a request may be retried on before its first byte reached the client. */
	retries: number;
	/** The pause before a retry, doubled for each further one. */
	retryBackoffMs: number;
	/** A backend whose KV cache is fuller than this (0–1) is avoided while another is not. */
	kvCacheLimit: number;
	/** A backend with more requests waiting than this is avoided while another is not. */
	waitingLimit: number;
}

/** A key of one user ([[server.keys]] or the keys file), with the models it may use. */
export interface UserKey {
	key: string;
	/** Shown in request logs instead of the key. */
	user: string | undefined;
	/** Model names and prefixes ending in `*`; undefined = every model. */
	models: string[] | undefined;
}

export interface KeysFile {
	path: string;
	keys: UserKey[];
}

export interface StaticBackend {
	/** Base URL, e.g. http://10.0.0.5:8000 (requests keep their /v1/... path). */
	url: string;
	/** How many requests it serves at once, relative to the others: routing weighs by it. */
	capacity: number;
}

/** How many backends a local model runs while it is up, and when it adds or drops one. */
export interface ReplicaConfig {
	/** Started together when the model starts; the idle timeout still stops them all. */
	min: number;
	max: number;
	/** A replica is added when the requests beyond the running replicas' capacity, per replica, stay above this… */
	scaleUpQueue: number;
	/** …for this long. */
	scaleUpAfterMs: number;
	/** Replicas above `min` are stopped after this long without a request. */
	scaleDownAfterMs: number;
}

/** sbatch's resource options for a model's jobs; those unset are left to the cluster's defaults. */
export interface SbatchArgs {
	partition: string | undefined;
	/** As `--gres` takes it: "gpu:1", "gpu:a100:2". */
	gres: string | undefined;
	mem: string | undefined;
	/** The time limit, as sbatch reads it: "4:00:00", "1-00:00:00". */
	time: string | undefined;
	qos: string | undefined;
	account: string | undefined;
	/** Further sbatch arguments, word by word: ["--constraint=a100", "--exclusive"]. */
	extra: string[];
}

/** Where the job opens its SSH reverse tunnel to: switchboard's host, as the compute node reaches it. */
export interface TunnelConfig {
	user: string;
	host: string;
	/** sshd's port on `host`. */
	sshPort: number;
}

/** How a `slurm` model's backends run: one SLURM job per replica, reached directly or through an SSH reverse tunnel. */
export interface SlurmConfig {
	/** Arguments of `sbatch --parsable` (used unless `srunCommand` is set). */
	sbatch: SbatchArgs;
	/** Run under this srun command instead of sbatch (llm-proxy-ondemand's --srun-cmd), e.g. ["srun", "--mem=30G", "--gres=gpu:1"]. */
	srunCommand: string[] | undefined;
	/**
	 * `direct`: the compute node's address and port are routable from switchboard's host;
	 * `tunnel`: the job runs `ssh -N -R` back to `tunnel` and switchboard reaches it on its own loopback.
	 */
	reach: 'direct' | 'tunnel';
	/** Set when `reach` is `tunnel`. */
	tunnel: TunnelConfig | undefined;
	/** A ready job with less than this left of its time limit is replaced by a fresh one; 0 = never. */
	renewBeforeMs: number;
}

export interface ModelConfig {
	/** The name clients use and switchboard shows. */
	name: string;
	/** The name the backend itself serves, when known; readiness checks that it lists it. */
	servedName: string | undefined;
	/** Other names clients may use for this model. */
	aliases: string[];
	/** `local`: switchboard runs `command`; `slurm`: it runs `command` as a SLURM job; `static`: servers someone else runs, at `backends`. */
	launcher: 'local' | 'slurm' | 'static';
	/** How a `slurm` model's jobs are submitted and reached; undefined for the other launchers. */
	slurm: SlurmConfig | undefined;
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
	/** Models of one group never run at the same time (one GPU, say); undefined: runs beside any other. */
	group: string | undefined;
	/** Once ready, how long it keeps its group before a request for another member may swap it out. */
	minResidencyMs: number;
	startupTimeoutMs: number;
	/** SIGTERM → SIGKILL grace when stopping. */
	stopGraceMs: number;
	/** Requests held while the model loads. */
	maxQueue: number;
	/** How long a held request waits before 503. */
	maxWaitMs: number;
	/** A request for a model that is not ready: `hold` it until the model is, or `reject` it at once with 503 (the model starts either way). */
	onCold: 'hold' | 'reject';
	replicas: ReplicaConfig;
	/** GPU ids; replica i gets the i-th slice of `gpusPerReplica` of them as CUDA_VISIBLE_DEVICES (empty: left as it is). */
	gpus: string[];
	gpusPerReplica: number;
	/** A backend that crashes this many times within `crashWindowMs` is not restarted again: the model is failed until an operator starts it. */
	maxCrashes: number;
	crashWindowMs: number;
	/** How long a stop waits for requests in flight before the backend is stopped under them. */
	drainTimeoutMs: number;
	/** A local backend's weight in routing and its capacity in /load-stats (static backends have their own). */
	capacity: number;
	routing: RoutingConfig;
	env: Record<string, string>;
}

export interface Config {
	server: ServerConfig;
	models: ModelConfig[];
	/** What a model gets when it sets nothing itself ([defaults], or the flags): ad-hoc models of `POST /switch` are made from it. */
	defaults: ModelConfig;
	/** How often the file this came from is checked for edits, when the file says (servers.toml's config_reload_interval). */
	reloadIntervalMs?: number | undefined;
}
