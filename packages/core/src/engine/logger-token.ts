/** The DI token under which a composition (the agent, `makeEngine`) registers the engine's `Logger`. */
export const LoggerToken = Symbol.for('credroam.Logger');
