/** A plugin as the dependency resolver sees it. */
export interface DependencyNode {
  readonly id: string;
  readonly dependencies: readonly string[];
}

export interface DependencyResolution {
  /** Usable plugins, every one after all of its dependencies. */
  readonly order: readonly string[];
  /** Plugins that cannot be activated, with the reason (naming the ids involved). */
  readonly failed: ReadonlyMap<string, string>;
}

/**
 * Orders plugins so that each comes after its dependencies. A plugin that depends on an unknown or
 * already-failed plugin fails, and so do its dependents, transitively; the others go on. A cycle
 * fails every plugin on it, with the cycle's path in the reason (`a → b → a`).
 *
 * `failedBefore` holds plugins that failed earlier (bad manifest, engine mismatch) with their reasons.
 */
export function resolveDependencies(
  nodes: readonly DependencyNode[],
  failedBefore: ReadonlyMap<string, string> = new Map(),
): DependencyResolution {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const failed = new Map<string, string>();
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];

  const visit = (id: string): boolean => {
    if (state.get(id) === 'done') return !failed.has(id);
    const node = byId.get(id)!;
    state.set(id, 'visiting');
    stack.push(id);
    let ok = true;
    for (const dep of node.dependencies) {
      if (failedBefore.has(dep)) {
        failed.set(id, `depends on plugin '${dep}', which failed: ${failedBefore.get(dep)}`);
        ok = false;
        break;
      }
      if (!byId.has(dep)) {
        failed.set(id, `depends on unknown plugin '${dep}'`);
        ok = false;
        break;
      }
      if (state.get(dep) === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        const path = cycle.join(' → ');
        for (const member of cycle) failed.set(member, `dependency cycle: ${path}`);
        ok = false;
        break;
      }
      if (!visit(dep)) {
        if (!failed.has(id)) failed.set(id, `depends on plugin '${dep}', which failed: ${failed.get(dep)}`);
        ok = false;
        break;
      }
    }
    stack.pop();
    state.set(id, 'done');
    if (ok && failed.has(id)) ok = false; // marked while on a cycle found deeper down
    if (ok) order.push(id);
    return ok;
  };

  for (const node of nodes) visit(node.id);
  return { order, failed };
}
