import * as tfjs from '@tensorflow/tfjs';
import type { NamedTensorMap, Tensor, Variable } from '@tensorflow/tfjs';

/** tfjs-core's NamedTensor, which the tfjs package does not re-export. */
interface NamedTensor {
  name: string;
  tensor: Tensor;
}

export interface AdamWArgs {
  learningRate: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

interface Moments {
  m: Variable;
  v: Variable;
}

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"),
 * as PyTorch's AdamW: per update t, m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, and
 * w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + lr wd w. The decay acts on the weight
 * itself, not through the gradient, so Adam's per-weight scaling does not weaken it. TF.js has no
 * AdamW. Moments are kept per variable name (TF.js's own Adam matches them by position), and
 * getWeights/setWeights round-trip them with the iteration count through our checkpoints.
 */
export class AdamWOptimizer extends tfjs.Optimizer {
  static get className(): string {
    return 'MedFusionAdamW';
  }

  learningRate: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private readonly moments = new Map<string, Moments>();

  constructor(args: AdamWArgs) {
    super();
    this.learningRate = args.learningRate;
    this.weightDecay = args.weightDecay;
    this.beta1 = args.beta1 ?? 0.9;
    this.beta2 = args.beta2 ?? 0.999;
    // TF.js's Adam default, so `adam` and `adamw` with weightDecay 0 take the same steps.
    this.epsilon = args.epsilon ?? 1e-7;
  }

  override applyGradients(variableGradients: NamedTensorMap | NamedTensor[]): void {
    const grads: NamedTensor[] = Array.isArray(variableGradients)
      ? variableGradients
      : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const t = this.iterations + 1;
    const correction1 = 1 - this.beta1 ** t;
    const correction2 = 1 - this.beta2 ** t;
    tfjs.tidy(() => {
      for (const { name, tensor: g } of grads) {
        if (g == null) continue;
        const value = tfjs.engine().registeredVariables[name];
        if (!value) throw new Error(`AdamW got a gradient for "${name}", which is not a registered variable`);
        const mo = this.momentsOf(name, value);
        const m = tfjs.add(tfjs.mul(mo.m, this.beta1), tfjs.mul(g, 1 - this.beta1));
        const v = tfjs.add(tfjs.mul(mo.v, this.beta2), tfjs.mul(tfjs.square(g), 1 - this.beta2));
        mo.m.assign(m);
        mo.v.assign(v);
        const adam = tfjs.div(tfjs.div(m, correction1), tfjs.add(tfjs.sqrt(tfjs.div(v, correction2)), this.epsilon));
        const decay = tfjs.mul(value, this.weightDecay);
        value.assign(tfjs.sub(value, tfjs.mul(tfjs.add(adam, decay), this.learningRate)));
      }
    });
    this.incrementIterations();
  }

  private momentsOf(name: string, value: Variable): Moments {
    let mo = this.moments.get(name);
    if (!mo) {
      mo = tfjs.tidy(() => ({ m: tfjs.zerosLike(value).variable(false), v: tfjs.zerosLike(value).variable(false) }));
      this.moments.set(name, mo);
    }
    return mo;
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const list = [...this.moments.entries()];
    return [
      await this.saveIterations(),
      ...list.map(([name, mo]) => ({ name: `${name}/m`, tensor: mo.m })),
      ...list.map(([name, mo]) => ({ name: `${name}/v`, tensor: mo.v })),
    ];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const byName = new Map(rest.map((w) => [w.name, w.tensor]));
    this.disposeMoments();
    for (const w of rest) {
      if (!w.name.endsWith('/m')) continue;
      const name = w.name.slice(0, -2);
      const v = byName.get(`${name}/v`);
      if (!v) throw new Error(`AdamW state has a first moment for "${name}" but no second moment ("${name}/v")`);
      this.moments.set(name, { m: w.tensor.variable(false), v: v.variable(false) });
    }
  }

  override dispose(): void {
    this.disposeMoments();
  }

  private disposeMoments(): void {
    for (const mo of this.moments.values()) tfjs.dispose([mo.m, mo.v]);
    this.moments.clear();
  }

  override getConfig(): tfjs.serialization.ConfigDict {
    return { learningRate: this.learningRate, weightDecay: this.weightDecay, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  static override fromConfig<T extends tfjs.serialization.Serializable>(cls: tfjs.serialization.SerializableConstructor<T>, config: tfjs.serialization.ConfigDict): T {
    return new cls({
      learningRate: config['learningRate'],
      weightDecay: config['weightDecay'],
      beta1: config['beta1'],
      beta2: config['beta2'],
      epsilon: config['epsilon'],
    });
  }
}

tfjs.serialization.registerClass(AdamWOptimizer);
