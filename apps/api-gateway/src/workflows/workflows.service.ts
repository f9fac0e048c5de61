import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import type { CreateWorkflow, Page, PaginationQuery, UpdateWorkflow, WorkflowEdge, WorkflowNode } from '@medfusion/contracts';
import { listOwnerFilter, validateWorkflowGraph, type Principal } from '@medfusion/domain';
import { WorkflowEntity } from '@medfusion/persistence';
import { assertMayChange, assertMayRead, notFound } from '../auth/forbidden.js';
import { ApiError } from '../common/api-error.js';
import { FileReferences } from '../common/file-references.js';
import { page } from '../common/page.js';
import { freeFormWithoutPaths } from '../common/server-paths.js';
import { commitWithIdempotencyKey } from '../idempotency/idempotency.service.js';

@Injectable()
export class WorkflowsService {
  private readonly repo: Repository<WorkflowEntity>;

  constructor(
    private readonly ds: DataSource,
    private readonly files: FileReferences,
  ) {
    this.repo = ds.getRepository(WorkflowEntity);
  }

  async create(input: CreateWorkflow, p: Principal): Promise<WorkflowEntity> {
    assertValidGraph(input.nodes, input.edges);
    await this.checkNodeFiles(input.nodes, p);
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
    return page(
      items.map((wf) => present(wf, p)),
      total,
      q,
    );
  }

  async get(id: string, p: Principal): Promise<WorkflowEntity> {
    const wf = await this.find(id);
    assertMayRead(p, 'owned', 'workflow', id, wf.createdBy);
    return present(wf, p);
  }

  /** Nodes and edges are validated together, as the graph they form after the update. */
  async update(id: string, patch: UpdateWorkflow, p: Principal): Promise<WorkflowEntity> {
    const wf = await this.find(id);
    assertMayChange(p, 'owned', 'workflow', id, wf.createdBy);
    const next = { ...wf, ...patch };
    assertValidGraph(next.nodes, next.edges);
    if (patch.nodes) await this.checkNodeFiles(patch.nodes, p);
    return this.repo.save(next);
  }

  async remove(id: string, p: Principal): Promise<void> {
    const wf = await this.find(id);
    assertMayChange(p, 'owned', 'workflow', id, wf.createdBy);
    await this.repo.delete({ id });
  }

  /** Node configs are free-form: any file they name gets the checks of a training job's. */
  private async checkNodeFiles(nodes: WorkflowNode[], p: Principal): Promise<void> {
    for (const [i, node] of nodes.entries()) await this.files.checkFreeForm(node.config, `body.nodes.${i}.config`, p);
  }

  private async find(id: string): Promise<WorkflowEntity> {
    const wf = await this.repo.findOneBy({ id });
    if (!wf) throw notFound('workflow', id);
    return wf;
  }
}

/** The workflow as `p` may see it: file paths in node configs for its owner and admins only. */
function present(wf: WorkflowEntity, p: Principal): WorkflowEntity {
  return { ...wf, nodes: freeFormWithoutPaths(wf.nodes, p, wf.createdBy) };
}

function assertValidGraph(nodes: WorkflowNode[], edges: WorkflowEdge[]): void {
  const issues = validateWorkflowGraph(nodes, edges);
  if (issues.length) throw ApiError.fields(HttpStatus.BAD_REQUEST, issues.map((i) => ({ field: `body.${i.field}`, message: i.message })));
}
