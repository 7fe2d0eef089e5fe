import {useSyncExternalStore} from 'react';
import type {ConsoleState, ConsoleStore} from '../state/console-store.js';

/** The store's current state; the component redraws when it changes (at most once a frame). */
export function useConsole(store: ConsoleStore): ConsoleState {
	return useSyncExternalStore(store.subscribe, store.getState);
}
