import {fileURLToPath} from 'node:url';
import type {Config} from './config/types.js';
import {configFromFlags, type RunFlags} from './config/flags.js';
import {runHeadless} from './headless.js';

const demoModel = 'demo-model';

/**
 * `npm start`: switchboard in front of a simulated vLLM server that it starts, through the
 * same local launcher real vLLM uses, on the first request.
 */
export async function runDemo(flags: RunFlags): Promise<void> {
	const cli = fileURLToPath(new URL('cli.js', import.meta.url));
	const command = [process.execPath, cli, 'sim', '--model', demoModel, '--startup-delay', '3', '--token-rate', '25', '--max-tokens', '48'];
	const config: Config = configFromFlags({...flags, idleTimeout: '120'}, command);
	const {switchboard} = await runHeadless(config);
	const {url} = switchboard;
	process.stdout.write(`
  switchboard demo: an OpenAI-compatible proxy on ${url}
  in front of a simulated vLLM server ("${demoModel}") that starts on the first request,
  takes 3 s to load, and stops after ${config.models[0]!.idleTimeoutMs / 1000} s without requests.

  Try it from another terminal:

    curl ${url}/v1/chat/completions -H 'Content-Type: application/json' \\
      -d '{"model": "${demoModel}", "messages": [{"role": "user", "content": "Hello!"}]}'

    curl -N ${url}/v1/chat/completions -H 'Content-Type: application/json' \\
      -d '{"model": "${demoModel}", "stream": true, "messages": [{"role": "user", "content": "Hello!"}]}'

    python -c 'from openai import OpenAI
client = OpenAI(base_url="${url}/v1", api_key="none")
reply = client.chat.completions.create(model="${demoModel}", messages=[{"role": "user", "content": "Hello!"}])
print(reply.choices[0].message.content)'

    curl ${url}/health        curl '${url}/logs/tail?lines=20'

  --log-level debug also shows the backend's own output. Ctrl-C stops the demo and its backend.

`);
}
