import { Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  createWorkflowSchema,
  paginationQuerySchema,
  updateWorkflowSchema,
  WORKFLOW_NODE_TYPES,
  type CreateWorkflow,
  type PaginationQuery,
  type UpdateWorkflow,
} from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { CurrentPrincipal, Writers } from '../auth/auth.decorators.js';
import { ApiZodBody, ApiZodQuery } from '../common/openapi.js';
import { IdParam, ValidBody, ValidQuery } from '../common/validated.decorators.js';
import { IDEMPOTENCY_HEADER_DOC } from '../idempotency/idempotency.docs.js';
import { WorkflowsService } from './workflows.service.js';

const GRAPH_RULES = `Node types: ${WORKFLOW_NODE_TYPES.join(', ')}. Node ids are unique, edges join existing nodes, and the graph has no cycles.`;

@ApiTags('workflows')
@ApiBearerAuth()
@Controller('workflows')
export class WorkflowsController {
  constructor(private readonly workflows: WorkflowsService) {}

  @Post()
  @Writers()
  @ApiOperation({ summary: 'Create a workflow (a DAG of nodes and edges).', description: GRAPH_RULES })
  @ApiHeader(IDEMPOTENCY_HEADER_DOC)
  @ApiZodBody(createWorkflowSchema)
  create(@ValidBody(createWorkflowSchema) body: CreateWorkflow, @CurrentPrincipal() p: Principal) {
    return this.workflows.create(body, p);
  }

  @Get()
  @ApiOperation({ summary: 'List workflows, newest first; members see their own.' })
  @ApiZodQuery(paginationQuerySchema)
  list(@ValidQuery(paginationQuerySchema) q: PaginationQuery, @CurrentPrincipal() p: Principal) {
    return this.workflows.list(q, p);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a workflow.' })
  get(@IdParam() id: string, @CurrentPrincipal() p: Principal) {
    return this.workflows.get(id, p);
  }

  @Patch(':id')
  @Writers()
  @ApiOperation({ summary: 'Update a workflow; the resulting graph is validated as a whole.', description: GRAPH_RULES })
  @ApiZodBody(updateWorkflowSchema)
  update(@IdParam() id: string, @ValidBody(updateWorkflowSchema) body: UpdateWorkflow, @CurrentPrincipal() p: Principal) {
    return this.workflows.update(id, body, p);
  }

  @Delete(':id')
  @HttpCode(204)
  @Writers()
  @ApiOperation({ summary: 'Delete a workflow and its execution records.' })
  async remove(@IdParam() id: string, @CurrentPrincipal() p: Principal): Promise<void> {
    await this.workflows.remove(id, p);
  }
}
