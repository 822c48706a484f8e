/** One alert as Alertmanager (and Grafana) webhooks send it. */
export interface WebhookAlert {
  status: string
  labels: Record<string, string>
  annotations?: Record<string, string>
  startsAt?: string
  endsAt?: string
  fingerprint?: string
}
