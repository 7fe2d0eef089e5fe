import type {Switchboard} from '../../switchboard.js';
import type {ConsoleLink} from './link.js';

/** The console of the switchboard in this process: admin calls without HTTP, events straight from the fleet. */
export function localLink(switchboard: Switchboard): ConsoleLink {
	return {
		remote: false,
		async request(method, path, body) {
			return switchboard.admin(method, path, body === undefined ? '' : JSON.stringify(body));
		},
		subscribe(listener) {
			return switchboard.fleet.events.on(listener);
		},
		close() {
			// Nothing to let go of: the switchboard outlives its console only until shutdown.
		},
	};
}
