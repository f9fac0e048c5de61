import type { WorkflowEdge, WorkflowNode } from '@medfusion/contracts';

export interface GraphIssue {
  /** Path of the offending field in the request body, e.g. `edges.3.target`. */
  field: string;
  message: string;
}

/**
 * Checks what a schema cannot: node ids are unique, edges join existing nodes, no self loops or
 * duplicate edges, and the graph is acyclic (reports one cycle so the user can see where it is).
 */
export function validateWorkflowGraph(nodes: readonly WorkflowNode[], edges: readonly WorkflowEdge[]): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const firstIndex = new Map<string, number>();
  nodes.forEach((n, i) => {
    const seen = firstIndex.get(n.id);
    if (seen !== undefined) issues.push({ field: `nodes.${i}.id`, message: `duplicate node id "${n.id}" (also nodes.${seen}.id)` });
    else firstIndex.set(n.id, i);
  });

  const adjacency = new Map<string, string[]>([...firstIndex.keys()].map((id) => [id, []]));
  const seenEdges = new Set<string>();
  edges.forEach((e, i) => {
    let ok = true;
    for (const end of ['source', 'target'] as const) {
      if (!firstIndex.has(e[end])) {
        issues.push({ field: `edges.${i}.${end}`, message: `unknown node id "${e[end]}"` });
        ok = false;
      }
    }
    if (e.source === e.target) {
      issues.push({ field: `edges.${i}`, message: `self loop on node "${e.source}"` });
      ok = false;
    }
    const key = `${e.source}\u0000${e.target}`;
    if (seenEdges.has(key)) {
      issues.push({ field: `edges.${i}`, message: `duplicate edge ${e.source} -> ${e.target}` });
      ok = false;
    }
    seenEdges.add(key);
    if (ok) adjacency.get(e.source)!.push(e.target);
  });

  const cycle = findCycle(adjacency);
  if (cycle) issues.push({ field: 'edges', message: `workflow has a cycle: ${cycle.join(' -> ')}` });
  return issues;
}

/** Iterative DFS (deep graphs must not overflow the stack); returns the node ids of one cycle. */
function findCycle(adjacency: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  for (const start of adjacency.keys()) {
    if (state.has(start)) continue;
    const path: string[] = [];
    const stack: Array<{ id: string; next: number }> = [{ id: start, next: 0 }];
    state.set(start, 'open');
    path.push(start);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const targets = adjacency.get(top.id)!;
      if (top.next < targets.length) {
        const t = targets[top.next++]!;
        const s = state.get(t);
        if (s === 'open') return [...path.slice(path.indexOf(t)), t];
        if (s === undefined) {
          state.set(t, 'open');
          path.push(t);
          stack.push({ id: t, next: 0 });
        }
      } else {
        state.set(top.id, 'done');
        path.pop();
        stack.pop();
      }
    }
  }
  return null;
}

/** Node ids in an order where every edge goes forward; the graph must be valid. */
export function topologicalOrder(nodes: readonly WorkflowNode[], edges: readonly WorkflowEdge[]): string[] {
  const indegree = new Map(nodes.map((n) => [n.id, 0]));
  for (const e of edges) indegree.set(e.target, (indegree.get(e.target) ?? 0) + 1);
  const ready = nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  const order: string[] = [];
  while (ready.length) {
    const id = ready.shift()!;
    order.push(id);
    for (const e of edges) {
      if (e.source !== id) continue;
      const d = indegree.get(e.target)! - 1;
      indegree.set(e.target, d);
      if (d === 0) ready.push(e.target);
    }
  }
  return order;
}
