import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { K8sObject } from './kustomize-lite.js';

interface ModelClass {
  apiVersion: string;
  kind: string;
  prototype: { validate(): void };
}

/** Every kind the manifests may contain, with its OpenAPI-schema model; anything else is an error. */
const MODELS: ModelClass[] = [
  ConfigMap, Secret, Service, PersistentVolumeClaim, Deployment, HorizontalPodAutoscaler, PodDisruptionBudget,
  NetworkPolicy, Ingress, ScaledObject, TriggerAuthentication,
];

export function modelFor(o: K8sObject): ModelClass {
  const model = MODELS.find((m) => m.apiVersion === o.apiVersion && m.kind === o.kind);
  if (!model) throw new Error(`${o.apiVersion} ${o.kind} ${o.metadata.name}: no schema model for this kind (add it to MODELS if it is meant)`);
  return model;
}

/**
 * Validates against the Kubernetes (or KEDA) OpenAPI schema and also reports fields the schema does
 * not know, which the API server refuses under strict field validation (kubectl's default) but the
 * schemas' `validate()` accepts. The compiled validators read exactly the properties their schema
 * declares, so the object is wrapped in proxies that record every read: a key never read in an
 * object whose other properties were read is unknown. Objects the validator iterated (maps such as
 * labels) or never looked into (schema-less fields) are not judged.
 */
export function validateStrict(o: K8sObject): string[] {
  const model = modelFor(o);
  try {
    model.prototype.validate.call(o);
  } catch (err) {
    return [`${o.kind}/${o.metadata.name}: ${(err as Error).message}`];
  }
  const seen = new Map<object, { path: string; read: Set<string>; iterated: boolean }>();
  const wrap = (value: unknown, path: string): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const record = { path, read: new Set<string>(), iterated: false };
    seen.set(value, record);
    const children = new Map<string, unknown>();
    return new Proxy(value, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver) as unknown;
        if (typeof key !== 'string') return v;
        record.read.add(key);
        if (!children.has(key)) children.set(key, wrap(v, `${path}.${key}`));
        return children.get(key);
      },
      has(target, key) {
        if (typeof key === 'string') record.read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        record.iterated = true;
        return Reflect.ownKeys(target);
      },
    });
  };
  model.prototype.validate.call(wrap(o, o.kind));
  const unknown: string[] = [];
  for (const [value, record] of seen) {
    if (Array.isArray(value) || record.iterated || record.read.size === 0) continue;
    for (const key of Object.keys(value)) if (!record.read.has(key)) unknown.push(`${o.kind}/${o.metadata.name}: unknown field ${record.path}.${key}`);
  }
  return unknown;
}
