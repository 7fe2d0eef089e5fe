#!/usr/bin/env node
import {writeSync} from 'node:fs';
import meow from 'meow';
import {runAttach} from './attach.js';
import {defaultLoopbackSshPort, defaultPort, defaultSrunCommand} from './config/defaults.js';
import {runFlagDefaults} from './config/flags.js';
import {configFromCli} from './config/from-cli.js';
import {ConfigError} from './config/errors.js';
import {consoleWanted, runConsoleMode} from './console.js';
import {loadConsole} from './ui/load-console.js';
import {runDemo} from './demo.js';
import {runHeadless} from './headless.js';
import {warnUnboundHosts} from './launchers/command.js';

const help = `
  Usage
    $ switchboard [options] -- <server command>    proxy one model, started on the first request
    $ switchboard [--config switchboard.toml]      proxy the models a config file describes
    $ switchboard demo [options]                   simulated models under a light load, to look around
    $ switchboard sim [sim options]                a simulated vLLM server (see switchboard sim --help)
    $ switchboard attach URL [--admin-key K]       the console of a switchboard running elsewhere

  Options
    --config FILE         a switchboard.toml with [server], [defaults] and [[models]]; without a command
                          after --, ./switchboard.toml or ~/.config/switchboard/switchboard.toml is used;
                          edits of the file are applied live
    --backends FILE       vllm-router's servers.toml or the vLLM Forwarder's ip.txt, read unchanged
                          (--config reads them too), and reloaded live as well
    --port N              port of the proxy (default ${defaultPort})
    --host H              interface of the proxy (default 127.0.0.1; 0.0.0.0 for every interface)
    --target-port N       port of the backend (default: the first free port from 8101)
    --idle-timeout T      stop the backend after T without requests: 1800 (seconds), 30m, 0 = never (default 1800)
    --ping-path P         readiness: the backend answers 200 on P (default /health)
    --startup-timeout T   give up on a backend that is not ready after T (default 15m)
    --max-queue N         requests held while the model loads; more get 429 (default 100)
    --max-wait T          how long a held request waits before 503 (default: the startup timeout)
    --max-body-size S     largest request body accepted (default 32mb)
    --api-key K           require "Authorization: Bearer K" on /v1/* (repeatable; or SWITCHBOARD_API_KEY)
    --admin-key K         the key admin changes need; it may use every model too (or SWITCHBOARD_ADMIN_KEY)
    --log-level L         DEBUG, INFO, WARNING or ERROR (default INFO)
    --log-format F        json or text (default: json with --no-ui, text otherwise)
    --log-dir D           where backend logs go (default ~/.local/state/switchboard/logs)
    --state-dir D         where the operator's choices (pins, idle timeouts set through the admin API,
                          models started by POST /switch) are kept across restarts
                          (default ~/.local/state/switchboard)
    --switch-command C    what POST /switch {"model_spec": …} runs the spec with (default "vllm serve")
    --no-ui               headless: JSON log lines on stdout, for scripts and services
    --use-slurm           run the backend as a SLURM job under --srun-cmd
    --srun-cmd C          the srun command it runs under (default "${defaultSrunCommand.join(' ')}")
    --loopback-host H     reach the job through an SSH tunnel it opens back to H (this machine, as
                          the compute nodes reach it); without it, the job's node is reached directly
    --loopback-user U     the tunnel's user on H (default: $USER)
    --loopback-port N     sshd's port on H (default ${defaultLoopbackSshPort})

  Placeholders {host} and {port} in the command are filled in; without them
  --host 127.0.0.1 --port <target port> is appended, as vLLM expects.

  Examples
    $ switchboard -- vllm serve Qwen/Qwen3-0.6B
    $ switchboard --port 8085 --idle-timeout 30m --api-key secret -- vllm serve Qwen/Qwen3-8B --host {host} --port {port}
    $ switchboard --use-slurm --loopback-user ada --loopback-host 10.10.10.5 -- vllm serve Qwen/Qwen3-8B
`;

const runFlags = {
	port: {type: 'string', default: runFlagDefaults.port},
	host: {type: 'string', default: runFlagDefaults.host},
	targetPort: {type: 'string'},
	idleTimeout: {type: 'string', default: runFlagDefaults.idleTimeout},
	pingPath: {type: 'string', default: runFlagDefaults.pingPath},
	startupTimeout: {type: 'string', default: runFlagDefaults.startupTimeout},
	maxQueue: {type: 'string', default: runFlagDefaults.maxQueue},
	maxWait: {type: 'string'},
	maxBodySize: {type: 'string', default: runFlagDefaults.maxBodySize},
	apiKey: {type: 'string', isMultiple: true, default: [] as string[]},
	adminKey: {type: 'string'},
	logLevel: {type: 'string', default: runFlagDefaults.logLevel},
	logFormat: {type: 'string'},
	logDir: {type: 'string'},
	stateDir: {type: 'string'},
	switchCommand: {type: 'string'},
	config: {type: 'string'},
	backends: {type: 'string'},
	ui: {type: 'boolean', default: true},
	useSlurm: {type: 'boolean', default: false},
	srunCmd: {type: 'string'},
	loopbackUser: {type: 'string'},
	loopbackHost: {type: 'string'},
	loopbackPort: {type: 'string'},
} as const;

/** Every long flag as typed, kebab-case (meow's own checker would print its message, not ours). */
const knownFlags = new Set([
	...Object.keys(runFlags).map(name => name.replaceAll(/[A-Z]/g, letter => `-${letter.toLowerCase()}`)),
	'no-ui',
	'help',
	'version',
]);

async function main(): Promise<void> {
	const argv = process.argv.slice(2);
	if (argv[0] === 'sim') {
		const {runSim} = await import('./sim/cli.js');
		await runSim(argv.slice(1));
		return;
	}

	if (argv[0] === 'attach') {
		await runAttach(argv.slice(1), process.env, async (link, {switchboard, models}, url) => {
			if (!consoleWanted(true)) {
				const listed = models.map(model => `${model.name} (${model.state})`).join(', ') || 'no models';
				process.stdout.write(`switchboard ${switchboard.version} at ${switchboard.url}: ${listed}. The console needs a terminal.\n`);
				return;
			}

			// Leaving runs the console's exit handler, which gives the terminal back; the switchboard runs on.
			for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
				process.on(signal, () => process.exit(signal === 'SIGINT' ? 130 : 0));
			}

			process.on('uncaughtException', error => {
				process.once('exit', () => {
					try {
						writeSync(2, `switchboard attach crashed: ${error.stack ?? error.message}\n`);
					} catch {}
				});
				process.exit(1);
			});
			const {runConsole} = await loadConsole();
			await runConsole(link, {
				quit: async () => undefined,
				attachedTo: url.origin,
				// Its GPUs are this machine's only when it runs here.
				localGpus: ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname),
			});
		});
		return;
	}

	const separator = argv.indexOf('--');
	const own = separator === -1 ? argv : argv.slice(0, separator);
	const command = separator === -1 ? [] : argv.slice(separator + 1);
	const cli = meow(help, {
		importMeta: import.meta,
		argv: own,
		// Unknown flags are reported below, in switchboard's own words.
		allowUnknownFlags: true,
		flags: runFlags,
	});
	const given = new Set(own.filter(argument => argument.startsWith('--')).map(argument => argument.slice(2).split('=')[0]!));
	const unknown = [...given].find(flag => !knownFlags.has(flag));
	if (unknown !== undefined) {
		throw new ConfigError(`Unknown flag --${unknown}. \`switchboard --help\` lists them all.`);
	}

	const [mode, ...extra] = cli.input;
	if (mode === 'demo' && extra.length === 0) {
		await runDemo(cli.flags);
		return;
	}

	if (mode !== undefined) {
		throw new ConfigError(`Unexpected argument \`${cli.input.join(' ')}\`. Put the server command after \`--\`: switchboard [options] -- <server command>.`);
	}

	const {config, origin} = configFromCli({flags: cli.flags, command, given, cwd: process.cwd(), env: process.env});
	if (consoleWanted(cli.flags.ui)) {
		await runConsoleMode(config, origin, ({switchboard, logger}) => {
			warnUnboundHosts(switchboard.fleet.models.map(model => model.config), logger);
		});
		return;
	}

	const {switchboard, logger} = await runHeadless(config, origin);
	warnUnboundHosts(switchboard.fleet.models.map(model => model.config), logger);

	const names = switchboard.fleet.models.map(model => model.name);
	logger.info({url: switchboard.url, config: origin?.file, models: names}, `switchboard listening on ${switchboard.url}; ${names.join(', ')} ${names.length === 1 ? 'starts on its' : 'start on their'} first request`);
}

main().catch((error: unknown) => {
	const message = error instanceof Error ? error.message : String(error);
	process.stderr.write(`switchboard: ${message}\n`);
	process.exit(error instanceof ConfigError ? 2 : 1);
});
