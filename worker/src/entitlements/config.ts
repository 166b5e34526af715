/** What every signed token carries from the configuration: who signs, for whom, how long, and where to upgrade. */
export interface ClaimsConfig {
  issuer: string;
  audience: string;
  ttlSeconds: number;
  appBaseUrl: string;
}
