import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as rendered: plain JSON, with the file it came from for error messages. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}
export interface Rendered {
  object: K8sObject;
  source: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The part of kustomize our overlays use (kustomize is not installed here): `resources` (files and
 * directories with their own kustomization.yaml), `patches` given by `path` (strategic merge on the
 * object of the same kind and name), `images` (newName/newTag) and `namespace`. Any other field is
 * refused, so an overlay cannot rely on something this renderer would silently skip.
 */
const SUPPORTED = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'patches', 'images']);

/**
 * Strategic-merge keys of the lists our patches touch, by field name (kustomize takes them from the
 * built-in OpenAPI schemas). Other lists, and every list of a custom resource, are replaced whole.
 */
const MERGE_KEYS: Record<string, string[]> = {
  containers: ['name'],
  initContainers: ['name'],
  env: ['name'],
  volumes: ['name'],
  volumeMounts: ['mountPath'],
  ports: ['containerPort', 'port'],
  imagePullSecrets: ['name'],
};
const BUILTIN_GROUPS = /^(v1|apps\/v1|autoscaling\/v2|policy\/v1|networking\.k8s\.io\/v1)$/;

function readYamlMappings(file: string): Record<string, unknown>[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  return docs.flatMap((doc, i) => {
    if (doc.errors.length) throw new Error(`${file}: YAML document ${i}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) return [];
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file}: document ${i} is not a mapping`);
    return [value as Record<string, unknown>];
  });
}

export function readYamlObjects(file: string): K8sObject[] {
  return readYamlMappings(file).map((value, i) => {
    const o = value as K8sObject;
    if (!o.apiVersion || !o.kind || !o.metadata?.name) throw new Error(`${file}: document ${i} lacks apiVersion, kind or metadata.name`);
    return o;
  });
}

export function renderKustomization(dir: string): Rendered[] {
  const file = join(dir, 'kustomization.yaml');
  const [k] = readYamlMappings(file);
  if (!k) throw new Error(`${file}: empty`);
  const unsupported = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unsupported.length) throw new Error(`${file}: field(s) ${unsupported.join(', ')} not supported by the test renderer`);

  const out: Rendered[] = [];
  for (const entry of (k.resources as string[] | undefined) ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) out.push(...renderKustomization(path));
    else out.push(...readYamlObjects(path).map((object) => ({ object, source: path })));
  }
  for (const patch of (k.patches as { path?: string }[] | undefined) ?? []) {
    const extra = Object.keys(patch).filter((key) => key !== 'path');
    if (!patch.path || extra.length) throw new Error(`${file}: only patches with a path are supported (got ${JSON.stringify(patch)})`);
    const path = resolve(dir, patch.path);
    for (const p of readYamlObjects(path)) {
      const target = out.find((r) => r.object.kind === p.kind && r.object.metadata.name === p.metadata.name);
      if (!target) throw new Error(`${path}: patch for ${p.kind}/${p.metadata.name} matches no resource`);
      if (target.object.apiVersion !== p.apiVersion) throw new Error(`${path}: patch apiVersion ${p.apiVersion} differs from ${target.object.apiVersion}`);
      target.object = strategicMerge(target.object as unknown as Json, p as unknown as Json, BUILTIN_GROUPS.test(p.apiVersion), `${path}:`) as unknown as K8sObject;
      target.source = `${target.source} + ${path}`;
    }
  }
  for (const image of (k.images as { name: string; newName?: string; newTag?: string }[] | undefined) ?? []) {
    let used = false;
    for (const r of out) {
      for (const c of podContainers(r.object)) {
        const [name, tag] = splitImage(c.image);
        if (name !== image.name) continue;
        used = true;
        c.image = `${image.newName ?? name}${image.newTag ?? tag ? `:${image.newTag ?? tag}` : ''}`;
      }
    }
    if (!used) throw new Error(`${file}: images entry ${image.name} matches no container`);
  }
  if (typeof k.namespace === 'string') for (const r of out) r.object.metadata.namespace = k.namespace;
  return out;
}

export function podContainers(o: K8sObject): { name: string; image: string; [field: string]: unknown }[] {
  const spec = (o.spec as { template?: { spec?: { containers?: unknown[]; initContainers?: unknown[] } } } | undefined)?.template?.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])] as { name: string; image: string }[];
}

function splitImage(image: string): [string, string | undefined] {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, undefined];
}

/** Strategic merge as kustomize applies it to our patches: `null` deletes, maps merge, lists by merge key. */
export function strategicMerge(base: Json | undefined, patch: Json, builtin: boolean, where: string, field = ''): Json | undefined {
  if (patch === null) return undefined;
  if (Array.isArray(patch)) {
    const keys = builtin ? MERGE_KEYS[field] : undefined;
    if (!keys || !Array.isArray(base)) return structuredClone(patch);
    const result = structuredClone(base) as Json[];
    for (const item of patch) {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) return structuredClone(patch);
      const key = keys.find((k) => k in item);
      if (!key) throw new Error(`${where} an item of ${field} lacks its merge key (${keys.join(' or ')})`);
      const at = result.findIndex((b) => typeof b === 'object' && b !== null && !Array.isArray(b) && b[key] === item[key]);
      if (at < 0) result.push(structuredClone(item));
      else result[at] = strategicMerge(result[at], item, builtin, where, field)!;
    }
    return result;
  }
  if (typeof patch === 'object') {
    if ('$patch' in patch) throw new Error(`${where} $patch directives are not supported by the test renderer`);
    const result: { [key: string]: Json } = typeof base === 'object' && base !== null && !Array.isArray(base) ? structuredClone(base) : {};
    for (const [key, value] of Object.entries(patch)) {
      const merged = strategicMerge(result[key], value, builtin, where, key);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    }
    return result;
  }
  return patch;
}
