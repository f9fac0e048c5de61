import { z } from 'zod';

/**
 * Node types a workflow may contain. Persisted in `workflows.nodes`, so the strings are data.
 * The scheduler maps each type to the unit of work it runs.
 */
export const WORKFLOW_NODE_TYPES = ['dataset', 'preprocess', 'train', 'evaluate', 'sweep', 'export', 'register_model'] as const;
export type WorkflowNodeType = (typeof WORKFLOW_NODE_TYPES)[number];

const nodeId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+$/, 'may contain only letters, digits, "_", "-" and "."');

export const workflowNodeSchema = z.strictObject({
  id: nodeId,
  type: z.enum(WORKFLOW_NODE_TYPES),
  label: z.string().max(200).optional(),
  config: z.record(z.string(), z.unknown()).default({}),
  position: z.strictObject({ x: z.number(), y: z.number() }).optional(),
});
export type WorkflowNode = z.infer<typeof workflowNodeSchema>;

export const workflowEdgeSchema = z.strictObject({
  source: nodeId,
  target: nodeId,
});
export type WorkflowEdge = z.infer<typeof workflowEdgeSchema>;

export const workflowGraphShape = {
  nodes: z.array(workflowNodeSchema).max(500),
  edges: z.array(workflowEdgeSchema).max(5000),
};

export const createWorkflowSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5000).default(''),
  ...workflowGraphShape,
});
export type CreateWorkflow = z.infer<typeof createWorkflowSchema>;

export const updateWorkflowSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    description: z.string().max(5000).optional(),
    nodes: workflowGraphShape.nodes.optional(),
    edges: workflowGraphShape.edges.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: 'at least one field must be given' });
export type UpdateWorkflow = z.infer<typeof updateWorkflowSchema>;

export const WORKFLOW_EXECUTION_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
export type WorkflowExecutionStatus = (typeof WORKFLOW_EXECUTION_STATUSES)[number];
