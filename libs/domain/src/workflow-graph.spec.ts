import type { WorkflowEdge, WorkflowNode } from '@medfusion/contracts';
import { topologicalOrder, validateWorkflowGraph } from './workflow-graph.js';

const node = (id: string): WorkflowNode => ({ id, type: 'train', config: {} });
const edge = (source: string, target: string): WorkflowEdge => ({ source, target });

describe('validateWorkflowGraph', () => {
  it('accepts a DAG and orders it so every edge points forward', () => {
    const nodes = ['data', 'prep', 'train', 'eval', 'export'].map(node);
    const edges = [edge('data', 'prep'), edge('prep', 'train'), edge('train', 'eval'), edge('train', 'export'), edge('data', 'eval')];
    expect(validateWorkflowGraph(nodes, edges)).toEqual([]);
    const order = topologicalOrder(nodes, edges);
    for (const e of edges) expect(order.indexOf(e.source)).toBeLessThan(order.indexOf(e.target));
  });

  it('names duplicate node ids by position', () => {
    expect(validateWorkflowGraph([node('a'), node('b'), node('a')], [])).toEqual([
      { field: 'nodes.2.id', message: 'duplicate node id "a" (also nodes.0.id)' },
    ]);
  });

  it('names edges to unknown nodes, self loops and duplicates', () => {
    const issues = validateWorkflowGraph([node('a'), node('b')], [edge('a', 'zz'), edge('b', 'b'), edge('a', 'b'), edge('a', 'b')]);
    expect(issues).toEqual([
      { field: 'edges.0.target', message: 'unknown node id "zz"' },
      { field: 'edges.1', message: 'self loop on node "b"' },
      { field: 'edges.3', message: 'duplicate edge a -> b' },
    ]);
  });

  it('reports a cycle with its path', () => {
    const nodes = ['a', 'b', 'c', 'd'].map(node);
    const issues = validateWorkflowGraph(nodes, [edge('a', 'b'), edge('b', 'c'), edge('c', 'd'), edge('d', 'b')]);
    expect(issues).toEqual([{ field: 'edges', message: 'workflow has a cycle: b -> c -> d -> b' }]);
  });

  it('handles a 10 000-node chain without overflowing the stack', () => {
    const n = 10_000;
    const nodes = Array.from({ length: n }, (_, i) => node(`n${i}`));
    const edges = Array.from({ length: n - 1 }, (_, i) => edge(`n${i}`, `n${i + 1}`));
    expect(validateWorkflowGraph(nodes, edges)).toEqual([]);
    edges.push(edge(`n${n - 1}`, 'n0'));
    expect(validateWorkflowGraph(nodes, edges)[0]?.message).toMatch(/^workflow has a cycle: n0 -> n1 -> /);
  });
});
