import type { TrainingEvent } from '@medfusion/contracts';

const WIDTH = 30;

/** Renders training events as one live progress line plus a line per finished epoch. */
export class ProgressBar {
  private lastLine = '';

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(e: TrainingEvent): void {
    if (e.type === 'step') {
      this.draw(e.progress, `epoch ${e.epoch} step ${e.step}/${e.stepsPerEpoch}  loss ${e.loss.toFixed(4)}  ${e.samplesPerSecond.toFixed(1)} samples/s`);
    } else if (e.type === 'epoch') {
      const m = e.metrics;
      this.println(
        `epoch ${e.epoch}/${e.totalEpochs}  train_loss ${fmt(m['train_loss'])}  val_loss ${fmt(m['val_loss'])}  val_acc ${fmt(m['val_accuracy'])}  val_auc ${fmt(m['val_auc'])}  ${e.samplesPerSecond.toFixed(1)} samples/s  eta ${Math.round(e.etaSeconds)} s`,
      );
      this.draw(e.progress, `epoch ${e.epoch}/${e.totalEpochs} done`);
    } else if (e.type === 'status') {
      this.println(`status: ${e.status}${e.backend ? ` (backend ${e.backend}, worker ${e.workerId})` : ''}${e.error ? `: ${e.error}` : ''}`);
    }
  }

  private draw(progress: number, text: string): void {
    const filled = Math.round(Math.min(1, Math.max(0, progress)) * WIDTH);
    this.lastLine = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${(progress * 100).toFixed(0).padStart(3)}%  ${text}`;
    this.out.write(this.out.isTTY ? `\r\x1b[2K${this.lastLine}` : '');
  }

  println(text: string): void {
    this.out.write(this.out.isTTY ? `\r\x1b[2K${text}\n${this.lastLine}` : `${text}\n`);
  }

  done(): void {
    if (this.out.isTTY) this.out.write('\n');
  }
}

function fmt(v: number | undefined): string {
  return v === undefined ? '-' : v.toFixed(4);
}
