/**
 * The injection webhook's metrics, registered in the operator's own registry (runtime/metrics.ts)
 * so they are served on the same `/metrics`.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { AdmissionOutcome } from './admission.ts';

/** Admissions take well under a millisecond when served from caches; the API server's timeout is seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Counters and histograms of the webhook server and its CA. */
export class InjectionMetrics {
  private readonly admissions: Counter<'installation' | 'outcome'>;
  private readonly latency: Histogram<'installation'>;
  private readonly caSteps: Counter<'step'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.admissions = new Counter({
      name: 'meshwright_webhook_admissions_total',
      help: 'Admission requests to the injection webhook, by installation and outcome (injected, skipped, refused by the injector, denied, invalid).',
      labelNames: ['installation', 'outcome'],
      registers,
    });
    this.latency = new Histogram({
      name: 'meshwright_webhook_admission_duration_seconds',
      help: 'Time from receiving an admission request to the end of its response, by installation.',
      labelNames: ['installation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.caSteps = new Counter({
      name: 'meshwright_webhook_ca_steps_total',
      help: 'Steps this replica took on the webhook serving CA (create, addNext, switch, dropPrevious, reissue, restore: the Secret deleted or mangled and written back from memory).',
      labelNames: ['step'],
      registers,
    });
  }

  /** Counts one admission and its latency. */
  observeAdmission(installation: string, outcome: AdmissionOutcome, seconds: number): void {
    this.admissions.inc({ installation, outcome });
    this.latency.observe({ installation }, seconds);
  }

  /** Counts one step on the webhook CA. */
  countCaStep(step: string): void {
    this.caSteps.inc({ step });
  }
}
