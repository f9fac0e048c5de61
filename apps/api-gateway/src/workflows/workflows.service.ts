import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import type { CreateWorkflow, Page, PaginationQuery, UpdateWorkflow, WorkflowEdge, WorkflowNode } from '@medfusion/contracts';
import { listOwnerFilter, validateWorkflowGraph, type Principal } from '@medfusion/domain';
import { WorkflowEntity } from '@medfusion/persistence';
import { assertMayChange, assertMayRead, notFound } from '../auth/forbidden.js';
import { ApiError } from '../common/api-error.js';
import { page } from '../common/page.js';
import { commitWithIdempotencyKey } from '../idempotency/idempotency.service.js';

@Injectable()
export class WorkflowsService {
  private readonly repo: Repository<WorkflowEntity>;

  constructor(private readonly ds: DataSource) {
    this.repo = ds.getRepository(WorkflowEntity);
  }

  async create(input: CreateWorkflow, p: Principal): Promise<WorkflowEntity> {
    assertValidGraph(input.nodes, input.edges);
    return commitWithIdempotencyKey(this.ds, (m) => m.getRepository(WorkflowEntity).save(this.repo.create({ ...input, createdBy: p.owner })));
  }

  async list(q: PaginationQuery, p: Principal): Promise<Page<WorkflowEntity>> {
    const owner = listOwnerFilter(p, 'owned');
    const [items, total] = await this.repo.findAndCount({
      where: owner ? { createdBy: owner } : {},
      order: { createdAt: 'DESC', id: 'ASC' },
      take: q.limit,
      skip: q.offset,
    });
    return page(items, total, q);
  }

  async get(id: string, p: Principal): Promise<WorkflowEntity> {
    const wf = await this.find(id);
    assertMayRead(p, 'owned', 'workflow', id, wf.createdBy);
    return wf;
  }

  /** Nodes and edges are validated together, as the graph they form after the update. */
  async update(id: string, patch: UpdateWorkflow, p: Principal): Promise<WorkflowEntity> {
    const wf = await this.find(id);
    assertMayChange(p, 'workflow', id, wf.createdBy);
    const next = { ...wf, ...patch };
    assertValidGraph(next.nodes, next.edges);
    return this.repo.save(next);
  }

  async remove(id: string, p: Principal): Promise<void> {
    const wf = await this.find(id);
    assertMayChange(p, 'workflow', id, wf.createdBy);
    await this.repo.delete({ id });
  }

  private async find(id: string): Promise<WorkflowEntity> {
    const wf = await this.repo.findOneBy({ id });
    if (!wf) throw notFound('workflow', id);
    return wf;
  }
}

function assertValidGraph(nodes: WorkflowNode[], edges: WorkflowEdge[]): void {
  const issues = validateWorkflowGraph(nodes, edges);
  if (issues.length) throw ApiError.fields(HttpStatus.BAD_REQUEST, issues.map((i) => ({ field: `body.${i.field}`, message: i.message })));
}
